// Package progress draws a one-line progress bar for long work: on a
// terminal it redraws in place; elsewhere (logs, CI) it prints a line at
// most every Interval so a log stays readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports progress through total units of work.
type Bar struct {
	w        io.Writer
	label    string
	total    int
	start    time.Time
	last     time.Time
	tty      bool
	Interval time.Duration // minimum time between non-terminal lines
	width    int
	base     int  // work already done when the bar started (a resumed run)
	open     bool // a terminal line is drawn and not yet ended
}

// New starts a bar over total units, labelled.
func New(w io.Writer, label string, total int) *Bar {
	b := &Bar{w: w, label: label, total: total, start: time.Now(), Interval: 10 * time.Second, width: 24}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

// StartAt records that done units were finished before the bar started (a
// run resumed part-way), so the time left is estimated from this run's pace
// alone.
func (b *Bar) StartAt(done int) { b.base = done }

// Update shows done of total with extra fields (e.g. "loss 0.31 lr 1e-3").
// The final update (done == total) always prints.
func (b *Bar) Update(done int, fields string) {
	now := time.Now()
	final := done >= b.total
	if !b.tty && !final && now.Sub(b.last) < b.Interval {
		return
	}
	if b.tty && !final && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	frac := 0.0
	if b.total > 0 {
		frac = float64(done) / float64(b.total)
	}
	fill := int(frac * float64(b.width))
	bar := strings.Repeat("=", fill)
	if fill < b.width {
		bar += ">" + strings.Repeat(" ", b.width-fill-1)
	}
	el := now.Sub(b.start)
	eta := "?"
	if done > b.base {
		eta = (time.Duration(float64(el) / float64(done-b.base) * float64(b.total-done))).Round(time.Second).String()
	}
	line := fmt.Sprintf("%s [%s] %d/%d %s elapsed %s eta %s", b.label, bar, done, b.total, fields,
		el.Round(time.Second), eta)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.open = !final
		if final {
			fmt.Fprintln(b.w)
		}
	} else {
		fmt.Fprintln(b.w, line)
	}
}

// Finish ends the bar's line on a terminal when the work stopped short of
// total (an estimate that was too high, an error, an interruption), so
// what is printed next starts on a line of its own.
func (b *Bar) Finish() {
	if b.open {
		fmt.Fprintln(b.w)
		b.open = false
	}
}
