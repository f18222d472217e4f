//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safetensors

import (
	"math"
	"os"
	"syscall"
)

// mapFile maps f read-only. It returns mapped=false (and the contents read
// into memory) when the file is empty or too large to map.
func mapFile(f *os.File, size int64) (data []byte, mapped bool, err error) {
	if size <= 0 || size > math.MaxInt {
		return readAll(f, size)
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readAll(f, size)
	}
	return data, true, nil
}

func unmapFile(data []byte) error { return syscall.Munmap(data) }
