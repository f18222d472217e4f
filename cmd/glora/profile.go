package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// profileEnv names a file to which any command writes a CPU profile of
// its whole run, for `go tool pprof -top` or bench/opkinds.sh (which sums
// it by op kind): GLORA_CPUPROFILE=run.prof glora run --data mnist.
const profileEnv = "GLORA_CPUPROFILE"

// startEnvProfile starts the CPU profile profileEnv asks for, if any; the
// returned function stops it and closes the file.
func startEnvProfile(stderr io.Writer) (stop func(), err error) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
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
