//go:build !amd64 || purego

package tensor

// No assembly micro-kernels on this platform: Sgemm runs the portable code.
