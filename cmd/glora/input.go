package main

import (
	"fmt"
	"io"
	"math"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// resolveFor loads the dataset spec names at the model's input (train.InputOptions).
func resolveFor(spec string, cfg vit.Config, log io.Writer) (trainSet, testSet *data.Dataset, err error) {
	return data.ResolveWith(spec, train.InputOptions(cfg, log))
}

// resizeHelp is --resize's help (eval, predict).
const resizeHelp = "how images become the model's input size: model (as the checkpoint's own preprocessing says: a timm pretrained_cfg crop_pct or a transformers preprocessor's centre crop resizes the shorter side and cuts out the centre; else a squash) or squash (every image stretched to the input size, as glora's own models were trained)"

// applyResize applies --resize to the model's input config, and says
// which transform the images get.
func applyResize(mode string, cfg *vit.Config, log io.Writer) error {
	switch mode {
	case "model":
	case "squash":
		cfg.CropPct = 0
	default:
		return fmt.Errorf("--resize %q: want model or squash", mode)
	}
	interp := "bicubic"
	if cfg.Interpolation != "" {
		interp = cfg.Interpolation
	}
	if cfg.CropPct > 0 {
		fmt.Fprintf(log, "input: the shorter side resized to %d (%s), the centre %d×%d cut out (crop_pct %g, the checkpoint's preprocessing; --resize squash stretches instead)\n",
			int(math.Floor(float64(cfg.ImageSize)/cfg.CropPct+1e-9)), interp, cfg.ImageSize, cfg.ImageSize, cfg.CropPct)
	}
	return nil
}
