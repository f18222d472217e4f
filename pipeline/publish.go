package pipeline

import (
	"os"
	"path/filepath"

	"github.com/glora/glora/finetune"
	"github.com/glora/glora/internal/atomicfile"
)

// Published is where Publish put a chain's results.
type Published struct {
	Adapter   string // the kept finalist's adapter folder
	Merged    string // its merged model: a plain ViT folder
	Structure string // its structure.json
}

// Publish copies the kept finalist's adapter and merged model and its
// structure to the top of the chain's folder dir (Options.Dir), with the
// stages' plots beside them: supernet-curves.png, search.png,
// retrain-curves.png and, after a rank check, rank-check.png. Each file
// and folder is written aside and renamed into place.
func (o *SearchedOutcome) Publish(dir string) (Published, error) {
	p := Published{Adapter: filepath.Join(dir, finetune.AdapterDir), Merged: filepath.Join(dir, finetune.MergedDir),
		Structure: filepath.Join(dir, finetune.StructureFile)}
	for _, c := range [][2]string{{filepath.Join(o.Dir, finetune.AdapterDir), p.Adapter}, {filepath.Join(o.Dir, finetune.MergedDir), p.Merged}} {
		if err := copyDir(c[0], c[1]); err != nil {
			return p, err
		}
	}
	if err := atomicfile.WriteBytes(p.Structure, o.Structure.Format()); err != nil {
		return p, err
	}
	plots := [][2]string{
		{filepath.Join(dir, SupernetStage, "curves.png"), filepath.Join(dir, "supernet-curves.png")},
		{filepath.Join(dir, SearchStage, finetune.SearchPlotFile), filepath.Join(dir, "search.png")},
		{filepath.Join(o.Dir, "curves.png"), filepath.Join(dir, "retrain-curves.png")},
	}
	if o.RankCheck != nil {
		plots = append(plots, [2]string{filepath.Join(dir, RankCheckStage, finetune.RankCheckPlot), filepath.Join(dir, finetune.RankCheckPlot)})
	}
	for _, c := range plots {
		if err := copyFile(c[0], c[1]); err != nil {
			return p, err
		}
	}
	return p, nil
}

// copyDir copies a flat folder (an adapter or model folder) to dst,
// built aside and swapped in.
func copyDir(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteDir(dst, func(tmp string) error {
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
				return err
			}
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(dst, b)
}
