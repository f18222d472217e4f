package main

import (
	"fmt"
	"io"
	"math"

	"github.com/glora/glora/data"
	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/train"
)

// inputOptions are the options that load a dataset at a model's input:
// its channels and size, resized as train.PreprocessFor would (so
// preprocessing a batch resizes nothing again), with the folder loader's
// report of what it converted going to log.
func inputOptions(cfg vit.Config, log io.Writer) data.ResolveOptions {
	p := train.PreprocessFor(cfg)
	return data.ResolveOptions{H: p.Height, W: p.Width, Channels: p.Channels, Interp: p.Interp, CropPct: p.CropPct, Log: log}
}

// resolveFor loads the dataset spec names at the model's input (inputOptions).
func resolveFor(spec string, cfg vit.Config, log io.Writer) (trainSet, testSet *data.Dataset, err error) {
	return data.ResolveWith(spec, inputOptions(cfg, log))
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
