package bench

import (
	"testing"

	"github.com/glora/glora/models/vit"
	"github.com/glora/glora/tensor"
)

func TestViTTrainAndForwardRun(t *testing.T) {
	cfg, _ := vit.Preset("vit-micro")
	for _, train := range []bool{true, false} {
		r, err := ViT(ViTOptions{Config: cfg, Name: "t", Batch: 4, Steps: 2, Warmup: 1, Train: train})
		if err != nil {
			t.Fatal(err)
		}
		if !(r.ImgPerS > 0) || r.Steps != 2 {
			t.Fatalf("result %+v", r)
		}
	}
	if r := SGEMM(64, 2, tensor.F32); !(r.GFLOPS > 0) {
		t.Fatalf("sgemm result %+v", r)
	}
}

func BenchmarkViTTrainBackbone(b *testing.B) {
	cfg, _ := vit.Preset("vit-fmnist-arch")
	for i := 0; i < b.N; i++ {
		if _, err := ViT(ViTOptions{Config: cfg, Name: "t", Batch: 128, Steps: 4, Warmup: 1, Train: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkViTTinyTrain(b *testing.B) {
	cfg, _ := vit.Preset("vit-tiny")
	for i := 0; i < b.N; i++ {
		if _, err := ViT(ViTOptions{Config: cfg, Name: "t", Batch: 16, Steps: 2, Warmup: 1, Train: true}); err != nil {
			b.Fatal(err)
		}
	}
}
