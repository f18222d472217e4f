package main

import (
	"io"

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
	return data.ResolveOptions{H: p.Height, W: p.Width, Channels: p.Channels, Interp: p.Interp, Log: log}
}

// resolveFor loads the dataset spec names at the model's input (inputOptions).
func resolveFor(spec string, cfg vit.Config, log io.Writer) (trainSet, testSet *data.Dataset, err error) {
	return data.ResolveWith(spec, inputOptions(cfg, log))
}
