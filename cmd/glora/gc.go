package main

import (
	"runtime/debug"
)

// gcPercent is the collector's target the glora command runs with (Go's
// GOGC; Go's default is 100): a collection starts once the heap has grown
// by gcPercent% over what the last one left live.
//
// A training step hands its large buffers back to the tape's pool and
// reuses them, so its live heap is flat; what a step allocates and drops
// is a few hundred kilobytes of small records (closures, shapes, scratch
// vectors). With Go's default the heap nonetheless grows to twice the live
// heap before each collection, so a long run's peak RSS ended near twice a
// short benchmark's (the shipped backbone's GLoRA supernet step, batch 32:
// 101 MiB after 20 steps, 165 MiB after 300). The live heap is mostly
// pointer-free float buffers, which the collector does not scan: a
// collection there took 1–2 ms, so collecting at 10% growth kept the peak
// within about a tenth of the live heap (the same 300 steps: 96 MiB, 42
// collections instead of 7) at no cost the runs of a minute or more
// showed. A process of many runs of a few seconds each (CI's tiny
// transfer suite) was about a tenth slower (docs/SPEED.md, "Memory in long
// runs").
const gcPercent = 10

// leanGC sets the collector's target to gcPercent unless the user chose
// one (GOGC) or a memory limit (GOMEMLIMIT), and returns the target now in
// force, or −1 where it was left as the user set it.
func leanGC(getenv func(string) string) int {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return -1
	}
	debug.SetGCPercent(gcPercent)
	return gcPercent
}
