package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// A command ended by SIGTERM exits 143 and one ended by Ctrl-C 130
// (128 + the signal), as shells and schedulers read them.
func TestInterruptCode(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		want int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		if err := syscall.Kill(os.Getpid(), c.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v did not cancel the context", c.sig)
		}
		got := interruptCode(ctx)
		stop()
		if got != c.want {
			t.Errorf("after %v: exit code %d, want %d", c.sig, got, c.want)
		}
	}
	if got := interruptCode(context.Background()); got != exitInterrupted {
		t.Errorf("without a signal: %d, want %d", got, exitInterrupted)
	}
}
