package main

import (
	"runtime/debug"
	"testing"
)

// The command collects at gcPercent unless GOGC or GOMEMLIMIT says
// otherwise, and then leaves the collector as it was.
func TestLeanGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if got := leanGC(env(nil)); got != gcPercent {
		t.Fatalf("leanGC without GOGC = %d, want %d", got, gcPercent)
	}
	if now := debug.SetGCPercent(100); now != gcPercent {
		t.Fatalf("the collector's target is %d, want %d", now, gcPercent)
	}
	for _, kv := range []map[string]string{{"GOGC": "200"}, {"GOGC": "off"}, {"GOMEMLIMIT": "1GiB"}} {
		if got := leanGC(env(kv)); got != -1 {
			t.Errorf("leanGC with %v = %d, want -1", kv, got)
		}
		if now := debug.SetGCPercent(100); now != 100 {
			t.Errorf("with %v the collector's target became %d", kv, now)
		}
	}
}
