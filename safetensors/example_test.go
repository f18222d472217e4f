package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/glora/glora/safetensors"
	"github.com/glora/glora/tensor"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "adapter.safetensors")

	w := safetensors.NewWriter()
	a, _ := tensor.FromSlice([]float32{0.1, 0.2, 0.3, 0.4}, 2, 2)
	w.Add("lora.A", a, safetensors.BF16)
	w.Add("lora.scale", tensor.Scalar(2), safetensors.F32)
	w.SetMetadata(map[string]string{"format": "pt"})
	if err := w.WriteFile(path); err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		t, _ := f.Tensor(name)
		fmt.Println(name, info.DType, info.Shape, t.Data)
	}
	fmt.Println(f.Metadata())
	// Output:
	// lora.A BF16 [2 2] [0.100097656 0.20019531 0.30078125 0.40039062]
	// lora.scale F32 [] [2]
	// map[format:pt]
}
