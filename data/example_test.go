package data_test

import (
	"fmt"

	"github.com/glora/glora/data"
)

// Fine-tuning on VTAB-1k-style splits of a dataset, at ViT input size.
func Example() {
	train, test, err := data.Resolve("fashion-mnist")
	if err != nil {
		fmt.Println(err) // names the Debian package to install
		return
	}
	tr, err := data.Split(train, test, "train", "vtab1k", 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	loader, err := data.NewLoader(tr, data.LoaderConfig{BatchSize: 64, Shuffle: true, Seed: 1,
		Preprocess: data.Preprocess{Channels: 3, Height: 224, Width: 224, Interp: data.Bicubic,
			Mean: data.ImageNetMean, Std: data.ImageNetStd}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for b, err := range loader.Epoch(0, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = b.X // (64, 3, 224, 224)
		_ = b.Labels
	}
}
