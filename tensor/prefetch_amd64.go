//go:build amd64 && !purego

package tensor

// prefetchRows asks the CPU to bring rows rows of n floats, ld floats
// apart, from p into its L2 cache (PREFETCHT1): a hint, which never
// faults, so that a later pass over them (packing a GEMM's next row
// panel) reads them from cache instead of waiting on memory.
//
//go:noescape
func prefetchRows(p *float32, rows, ld, n int)
