package transfer

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/glora/glora/internal/atomicfile"
	"github.com/glora/glora/pipeline"
	"github.com/glora/glora/plot"
)

// Plots in the suite's folder.
const (
	ParamsPlot  = "accuracy-vs-params.png"
	FewShotPlot = "few-shot.png"
	ShiftPlot   = "domain-shift.png"
)

// stat is a mean and sample standard deviation over seeds.
type stat struct {
	Mean, Std float64
	N         int
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{Mean: math.NaN()}
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	sd := 0.0
	if len(xs) > 1 {
		sd = math.Sqrt(v / float64(len(xs)-1))
	}
	return stat{Mean: m, Std: sd, N: len(xs)}
}

// fmtStat prints a test accuracy in percent: "84.04 ± 0.35", or
// "84.04" for one seed, "–" for none.
func fmtStat(s stat) string {
	switch {
	case s.N == 0:
		return "–"
	case s.N == 1:
		return fmt.Sprintf("%.2f", 100*s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
}

// table gathers results by row key and method.
type table struct {
	rows    []string
	acc     map[string]map[string][]float64 // row → method → accuracies over seeds
	params  map[string][]float64            // method → trainable counts
	seconds map[string][]float64            // method → seconds
}

func newTable() *table {
	return &table{acc: map[string]map[string][]float64{}, params: map[string][]float64{}, seconds: map[string][]float64{}}
}

func (t *table) add(row, method string, acc float64) {
	if t.acc[row] == nil {
		t.acc[row] = map[string][]float64{}
		t.rows = append(t.rows, row)
	}
	t.acc[row][method] = append(t.acc[row][method], acc)
}

func (t *table) stat(row, method string) stat { return statOf(t.acc[row][method]) }

// rowMeans is each method's mean over rows of the per-row means (rows
// where the method has no result are left out of its mean).
func (t *table) rowMeans(rows []string, method string) stat {
	var xs []float64
	for _, r := range rows {
		if s := t.stat(r, method); s.N > 0 {
			xs = append(xs, s.Mean)
		}
	}
	s := statOf(xs)
	s.Std, s.N = 0, min(s.N, 1) // a mean of means: no spread over seeds shown
	return s
}

// writeRow writes a markdown row with the best mean bolded.
func writeRow(b *bytes.Buffer, label string, stats []stat) {
	best := math.Inf(-1)
	for _, s := range stats {
		if s.N > 0 && s.Mean > best {
			best = s.Mean
		}
	}
	b.WriteString("| " + label + " |")
	for _, s := range stats {
		cell := fmtStat(s)
		if s.N > 0 && s.Mean == best {
			cell = "**" + cell + "**"
		}
		b.WriteString(" " + cell + " |")
	}
	b.WriteString("\n")
}

func header(b *bytes.Buffer, first []string, methods []string) {
	b.WriteString("| " + strings.Join(first, " | ") + " |")
	for _, m := range methods {
		b.WriteString(" " + m + " |")
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", len(first)+len(methods)) + "\n")
}

// WriteReport writes results.md, results.csv and the plots from results
// (skipped: tasks left out, with why).
func WriteReport(out string, c Config, results []Result, skipped map[string]string) error {
	t := collect(results, c.Shifts)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Transfer benchmark\n\n")
	fmt.Fprintf(&b, "The backbone (%s) adapted by each method under one recipe (below), the same for every task. "+
		"Test accuracy in %% (mean ± sample std over seeds; seeds draw their own train/val images and initialisations), "+
		"on each task's held-out test split", c.BaseRef)
	if c.TestLimit > 0 {
		fmt.Fprintf(&b, " (cut to a fixed stratified %d images where larger)", c.TestLimit)
	}
	fmt.Fprintf(&b, ". Every choice (best epoch, the searched structure) was made on validation; each cell's test split was read once. "+
		"Bold: the best mean in the row. Cells finished: %d.\n\n", len(results))
	t.writeVTAB(&b, c.Methods)
	var fewTasks []string
	for _, task := range c.FewShot {
		if len(t.fewRows[task]) > 0 {
			fewTasks = append(fewTasks, task)
		}
	}
	lowRows := t.writeFewShot(&b, c.Methods, fewTasks)
	shiftRows := append([]string{"clean"}, c.Shifts...)
	t.writeShift(&b, c.Methods, c.Shifts)
	writeTargets(&b, t.vt, t.vtabRows, t.fs, lowRows)
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "## Not run\n\n")
		for _, k := range slices.Sorted(maps.Keys(skipped)) {
			fmt.Fprintf(&b, "- %s: %s\n", k, skipped[k])
		}
		b.WriteString("\n")
	}
	writeRecipe(&b, c.Recipe)
	if err := atomicfile.WriteBytes(filepath.Join(out, ResultsMD), b.Bytes()); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(out, ResultsCSV), c, results); err != nil {
		return err
	}
	return writePlots(out, c, t.vt, t.vtabRows, t.fs, fewTasks, t.fewRows, t.shots, t.sh, shiftRows)
}

// tables are the results laid out for the report: VTAB-1k by task, few-shot
// by task and shot count, domain shift by test set.
type tables struct {
	vt, fs, sh *table
	vtabRows   []string
	fewRows    map[string][]string // task → its rows ("task|K")
	shots      map[string]int      // row → K
	nTest      map[string]int      // VTAB task → test images
}

func collect(results []Result, shifts []string) *tables {
	t := &tables{vt: newTable(), fs: newTable(), sh: newTable(), fewRows: map[string][]string{}, shots: map[string]int{}, nTest: map[string]int{}}
	for _, r := range results {
		switch r.Group {
		case GroupVTAB:
			t.vt.add(r.Task, r.Method, r.TestAcc)
			t.nTest[r.Task] = r.NTest
			t.vt.params[r.Method] = append(t.vt.params[r.Method], float64(r.Trainable()))
			t.vt.seconds[r.Method] = append(t.vt.seconds[r.Method], r.Seconds)
			if !slices.Contains(t.vtabRows, r.Task) {
				t.vtabRows = append(t.vtabRows, r.Task)
			}
			if r.Shifted != nil {
				t.sh.add("clean", r.Method, r.TestAcc)
				for _, s := range shifts {
					if a, ok := r.Shifted[s]; ok {
						t.sh.add(s, r.Method, a)
					}
				}
			}
		case GroupFewShot:
			row := fmt.Sprintf("%s|%d", r.Task, r.Shots)
			t.fs.add(row, r.Method, r.TestAcc)
			t.fs.seconds[r.Method] = append(t.fs.seconds[r.Method], r.Seconds)
			if !slices.Contains(t.fewRows[r.Task], row) {
				t.fewRows[r.Task] = append(t.fewRows[r.Task], row)
			}
			t.shots[row] = r.Shots
		}
	}
	return t
}

// stats are one row's statistics over methods.
func (t *table) stats(row string, methods []string) []stat {
	out := make([]stat, len(methods))
	for i, m := range methods {
		out[i] = t.stat(row, m)
	}
	return out
}

// means are the mean over rows of each method.
func (t *table) means(rows, methods []string) []stat {
	out := make([]stat, len(methods))
	for i, m := range methods {
		out[i] = t.rowMeans(rows, m)
	}
	return out
}

func (t *tables) writeVTAB(b *bytes.Buffer, methods []string) {
	if len(t.vtabRows) == 0 {
		return
	}
	fmt.Fprintf(b, "## VTAB-1k protocol (800 train + 200 validation images)\n\n")
	header(b, []string{"task", "test images"}, methods)
	for _, row := range t.vtabRows {
		writeRow(b, row+" | "+strconv.Itoa(t.nTest[row]), t.vt.stats(row, methods))
	}
	for _, g := range taskGroups(t.vtabRows) {
		writeRow(b, g.label+" | ", t.vt.means(g.rows, methods))
	}
	b.WriteString("| trainable params (mean) | |")
	for _, m := range methods {
		b.WriteString(" " + fmtCount(statOf(t.vt.params[m])) + " |")
	}
	b.WriteString("\n| time per task (mean, s) | |")
	for _, m := range methods {
		b.WriteString(" " + fmtSeconds(statOf(t.vt.seconds[m])) + " |")
	}
	b.WriteString("\n\n")
}

// writeFewShot writes the few-shot table and returns its 1–4-shot rows.
func (t *tables) writeFewShot(b *bytes.Buffer, methods, tasks []string) (lowRows []string) {
	if len(tasks) == 0 {
		return nil
	}
	fmt.Fprintf(b, "## Few-shot (K training + K validation images per class)\n\n")
	header(b, []string{"task", "shots"}, methods)
	var allRows []string
	for _, task := range tasks {
		rows := t.fewRows[task]
		sort.Slice(rows, func(i, j int) bool { return t.shots[rows[i]] < t.shots[rows[j]] })
		for _, row := range rows {
			writeRow(b, task+" | "+strconv.Itoa(t.shots[row]), t.fs.stats(row, methods))
			allRows = append(allRows, row)
			if t.shots[row] <= 4 {
				lowRows = append(lowRows, row)
			}
		}
	}
	for _, g := range []rowGroup{{"**mean, 1–4 shots**", lowRows}, {"**mean**", allRows}} {
		if len(g.rows) > 0 {
			writeRow(b, g.label+" | ", t.fs.means(g.rows, methods))
		}
	}
	b.WriteString("\n")
	return lowRows
}

func (t *tables) writeShift(b *bytes.Buffer, methods, shifts []string) {
	if len(t.sh.rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## Domain shift (the mnist task's models, MNIST test images shifted)\n\n")
	header(b, []string{"test set"}, methods)
	for _, row := range append([]string{"clean"}, shifts...) {
		label := "mnist:" + row
		if row == "clean" {
			label = "mnist (clean)"
		}
		writeRow(b, label, t.sh.stats(row, methods))
	}
	writeRow(b, "**mean of the shifts**", t.sh.means(shifts, methods))
	b.WriteString("\n")
}

// rowGroup is a labelled set of table rows averaged together.
type rowGroup struct {
	label string
	rows  []string
}

// taskGroups are the VTAB-1k rows' averages, as VTAB groups its tasks:
// natural images (every task but the generated ones) and structured
// (synth:*), then all of them.
func taskGroups(rows []string) []rowGroup {
	var natural, structured []string
	for _, r := range rows {
		if strings.HasPrefix(r, "synth:") {
			structured = append(structured, r)
		} else {
			natural = append(natural, r)
		}
	}
	var out []rowGroup
	if len(natural) > 0 && len(structured) > 0 {
		out = append(out, rowGroup{"mean, natural", natural}, rowGroup{"mean, structured (synth)", structured})
	}
	return append(out, rowGroup{"**mean**", rows})
}

func fmtCount(s stat) string {
	if s.N == 0 {
		return "–"
	}
	return strconv.Itoa(int(math.Round(s.Mean)))
}

func fmtSeconds(s stat) string {
	if s.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", s.Mean)
}

// writeTargets checks searched GLoRA's targets on the means: against LoRA
// (+1 point on the VTAB-1k mean at no more trainable parameters, not
// below it on more than one task, at most 5× its time), against
// glora-fixed (within 0.5 points at under half its parameters), against
// linear probing and full fine-tuning, and LoRA + 2 points at 1–4 shots.
func writeTargets(b *bytes.Buffer, vt *table, vtabRows []string, fs *table, lowRows []string) {
	var lines []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	const g = pipeline.Searched
	gm := vt.rowMeans(vtabRows, g)
	if gm.N > 0 {
		gp := statOf(vt.params[g]).Mean
		for _, other := range []string{"lora", "glora-fixed", "linear", "full"} {
			o := vt.rowMeans(vtabRows, other)
			if o.N == 0 {
				continue
			}
			op := statOf(vt.params[other]).Mean
			d := 100 * (gm.Mean - o.Mean)
			switch other {
			case "lora":
				lines = append(lines, fmt.Sprintf("- VTAB-1k mean, searched GLoRA ≥ LoRA + 1 point at no more trainable parameters: %.2f against %.2f (%+.2f points, at %.0f against %.0f trainable parameters): %s",
					100*gm.Mean, 100*o.Mean, d, gp, op, verdict(d >= 1 && gp <= op)))
				above, n := 0, 0
				for _, r := range vtabRows {
					if a, l := vt.stat(r, g), vt.stat(r, other); a.N > 0 && l.N > 0 {
						n++
						if a.Mean >= l.Mean {
							above++
						}
					}
				}
				lines = append(lines, fmt.Sprintf("- searched GLoRA ≥ LoRA on at least all tasks but one: on %d of %d: %s", above, n, verdict(above >= n-1)))
				gs, ls := statOf(vt.seconds[g]).Mean, statOf(vt.seconds[other]).Mean
				if ls > 0 {
					lines = append(lines, fmt.Sprintf("- searched GLoRA's time at most 5× LoRA's: %.0f s against %.0f s a task (%.1f×): %s", gs, ls, gs/ls, verdict(gs <= 5*ls)))
				}
			case "glora-fixed":
				lines = append(lines, fmt.Sprintf("- VTAB-1k mean, searched GLoRA ≥ glora-fixed − 0.5 points at under half its parameters: %.2f against %.2f (%+.2f points, at %.0f against %.0f): %s",
					100*gm.Mean, 100*o.Mean, d, gp, op, verdict(d >= -0.5 && gp < op/2)))
			default:
				lines = append(lines, fmt.Sprintf("- VTAB-1k mean, searched GLoRA ≥ %s: %.2f against %.2f (%+.2f points): %s",
					other, 100*gm.Mean, 100*o.Mean, d, verdict(d >= 0)))
			}
		}
	}
	if len(lowRows) > 0 {
		g, l := fs.rowMeans(lowRows, g), fs.rowMeans(lowRows, "lora")
		if g.N > 0 && l.N > 0 {
			d := 100 * (g.Mean - l.Mean)
			lines = append(lines, fmt.Sprintf("- 1–4 shots, searched GLoRA ≥ LoRA + 2 points: %.2f against %.2f (%+.2f points): %s",
				100*g.Mean, 100*l.Mean, d, verdict(d >= 2)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "## Targets\n\n%s\n\n", strings.Join(lines, "\n"))
}

func writeRecipe(b *bytes.Buffer, r pipeline.Recipe) {
	fmt.Fprintf(b, "## Recipe\n\nRecipe `%s`: %s", r.Name, r.Describe())
}

// writeCSV writes one row per finished cell.
func writeCSV(path string, c Config, results []Result) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"group", "task", "scheme", "shots", "method", "seed", "n_train", "n_val", "n_test",
		"support_params", "head_params", "val_accuracy", "test_accuracy", "best_epoch", "epochs", "seconds"}
	for _, s := range c.Shifts {
		head = append(head, "test_accuracy_"+s)
	}
	w.Write(append(head, "note"))
	for _, r := range results {
		row := []string{r.Group, r.Task, r.Scheme, strconv.Itoa(r.Shots), r.Method, strconv.FormatUint(r.Seed, 10),
			strconv.Itoa(r.NTrain), strconv.Itoa(r.NVal), strconv.Itoa(r.NTest), strconv.Itoa(r.Support), strconv.Itoa(r.Head),
			fmt.Sprintf("%.4f", r.ValAcc), fmt.Sprintf("%.4f", r.TestAcc), strconv.Itoa(r.BestEpoch), strconv.Itoa(r.Epochs),
			fmt.Sprintf("%.1f", r.Seconds)}
		for _, s := range c.Shifts {
			v := ""
			if a, ok := r.Shifted[s]; ok {
				v = fmt.Sprintf("%.4f", a)
			}
			row = append(row, v)
		}
		w.Write(append(row, r.Note))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, buf.Bytes())
}

// writePlots draws accuracy against trainable parameters (VTAB-1k means),
// the few-shot curves (one panel per task) and the domain-shift bars.
func writePlots(out string, c Config, vt *table, vtabRows []string, fs *table, fewTasks []string,
	fewRows map[string][]string, shots map[string]int, sh *table, shiftRows []string) error {
	if len(vtabRows) > 0 {
		p := plot.Panel{Title: "VTAB-1k mean test accuracy against trainable parameters", XLabel: "trainable parameters (log10)", Markers: true}
		for _, m := range c.Methods {
			s := vt.rowMeans(vtabRows, m)
			if s.N == 0 {
				continue
			}
			p.Series = append(p.Series, plot.Series{Name: m, X: []float64{math.Log10(statOf(vt.params[m]).Mean)}, Y: []float64{s.Mean}})
		}
		if err := plot.WritePNG(filepath.Join(out, ParamsPlot), p); err != nil {
			return err
		}
	}
	if len(fewTasks) > 0 {
		var panels []plot.Panel
		for _, t := range fewTasks {
			p := plot.Panel{Title: t + ": test accuracy", XLabel: "shots per class (log scale)", Markers: true}
			for _, row := range fewRows[t] {
				p.XTicks = append(p.XTicks, plot.Tick{At: math.Log2(float64(shots[row])), Label: strconv.Itoa(shots[row])})
			}
			for _, m := range c.Methods {
				s := plot.Series{Name: m}
				for _, row := range fewRows[t] {
					if st := fs.stat(row, m); st.N > 0 {
						s.X = append(s.X, math.Log2(float64(shots[row])))
						s.Y = append(s.Y, st.Mean)
					}
				}
				if len(s.X) > 0 {
					p.Series = append(p.Series, s)
				}
			}
			panels = append(panels, p)
		}
		if err := plot.WritePNG(filepath.Join(out, FewShotPlot), panels...); err != nil {
			return err
		}
	}
	if len(sh.rows) > 0 {
		bars := plot.Bars{Title: "domain shift: MNIST-1k models on shifted MNIST test sets", YLabel: "test acc", Categories: shiftRows}
		for _, m := range c.Methods {
			s := plot.Series{Name: m}
			for _, row := range shiftRows {
				st := sh.stat(row, m)
				if st.N == 0 {
					st.Mean = math.NaN()
				}
				s.Y = append(s.Y, st.Mean)
			}
			bars.Series = append(bars.Series, s)
		}
		if err := plot.WriteBarsPNG(filepath.Join(out, ShiftPlot), bars); err != nil {
			return err
		}
	}
	return nil
}
