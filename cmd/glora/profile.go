package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"

	"github.com/glora/glora/tensor"
)

// profileEnv names a file to which any command writes a CPU profile of
// its whole run, for `go tool pprof -top` or bench/opkinds.sh (which sums
// it by op kind): GLORA_CPUPROFILE=run.prof glora run --data mnist.
const profileEnv = "GLORA_CPUPROFILE"

// memProfileEnv names a file to which any command writes, when it ends,
// a profile of every allocation it made (the Go runtime's sampled "allocs"
// profile): `go tool pprof -sample_index=alloc_space -top FILE` lists what
// made the garbage that grows a long run's heap. Its file is created when
// the command starts, so a path it cannot write stops the command first.
const memProfileEnv = "GLORA_MEMPROFILE"

// shapesEnv asks any command for the N matrix-product shapes it spent
// longest in, printed to stderr when it ends (tensor.TraceGEMM; glora
// bench's --gemm-shapes does the same for a benchmark's timed steps):
// GLORA_GEMM_SHAPES=15 glora run --data mnist.
const shapesEnv = "GLORA_GEMM_SHAPES"

// startEnvProfile starts the CPU profile profileEnv asks for and the
// product trace shapesEnv asks for, if any; the returned function stops
// them, closes the profile and prints the shapes.
func startEnvProfile(stderr io.Writer) (stop func(), err error) {
	stopShapes := func() {}
	if v := os.Getenv(shapesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s=%s: want a whole number of shapes, at least 1", shapesEnv, v)
		}
		tensor.TraceGEMM(true)
		stopShapes = func() {
			tensor.TraceGEMM(false)
			if shapes := tensor.GEMMShapes(); len(shapes) > 0 {
				printGEMMShapes(stderr, shapes, n)
			}
		}
	}
	stopCPU, err := startCPUProfile(stderr)
	if err != nil {
		stopShapes()
		return nil, err
	}
	stopMem, err := startMemProfile(stderr)
	if err != nil {
		stopCPU()
		stopShapes()
		return nil, err
	}
	return func() { stopCPU(); stopShapes(); stopMem() }, nil
}

// startMemProfile creates the allocation profile's file memProfileEnv
// asks for, if any; the returned function writes the profile and closes it.
func startMemProfile(stderr io.Writer) (stop func(), err error) {
	f, path, err := envFile(memProfileEnv)
	if f == nil {
		return func() {}, err
	}
	return func() {
		// The runtime publishes allocations at a collection: one now, so
		// that the last cycle's are in the profile (as go test -memprofile does).
		runtime.GC()
		err := pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintf(stderr, "glora: %s=%s: %v\n", memProfileEnv, path, err)
		}
	}, nil
}

// envFile creates the file the environment variable env names: nil
// without one, or with an error naming env where it cannot be created.
func envFile(env string) (f *os.File, path string, err error) {
	path = os.Getenv(env)
	if path == "" {
		return nil, "", nil
	}
	if f, err = os.Create(path); err != nil {
		return nil, path, fmt.Errorf("%s: %w", env, err)
	}
	return f, path, nil
}

// startCPUProfile starts the CPU profile profileEnv asks for, if any; the
// returned function stops it and closes the file.
func startCPUProfile(stderr io.Writer) (stop func(), err error) {
	f, path, err := envFile(profileEnv)
	if f == nil {
		return func() {}, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s=%s: %w", profileEnv, path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "glora: %s=%s: %v\n", profileEnv, path, err)
		}
	}, nil
}
