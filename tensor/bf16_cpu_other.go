//go:build !amd64 || purego

package tensor

func bf16CPUImpl() BF16Features { return BF16Features{} }
