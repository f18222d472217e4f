//go:build !amd64 || purego

package tensor

// prefetchRows is a hint the portable build does without.
func prefetchRows(p *float32, rows, ld, n int) {}
