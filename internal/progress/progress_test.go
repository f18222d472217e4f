package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBarPrintsThrottledLinesAndFinal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "epoch 1/2", 10)
	b.Interval = time.Hour
	for i := 1; i <= 10; i++ {
		b.Update(i, "loss 0.5")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// the first update prints (nothing printed yet), the rest are throttled but the final
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[1], "10/10") || !strings.Contains(lines[1], "loss 0.5") {
		t.Fatalf("final line %q lacks count or fields", lines[1])
	}
}

// A bar resumed at 90 of 100 estimates the time left from its own pace: 5
// units in 50 s leave 50 s for the last 5, not the 5 s that counting the 90
// earlier units as this run's work would give.
func TestBarResumedEstimatesFromItsOwnPace(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "epoch 7/12", 100)
	b.StartAt(90)
	b.start = time.Now().Add(-50 * time.Second) // 5 units took 50 s
	b.Update(95, "")
	if !strings.Contains(buf.String(), "eta 50s") {
		t.Fatalf("resumed bar: %q, want eta 50s", buf.String())
	}
}

// Finish ends a terminal line left open by a bar that stopped short of its
// total, once; a finished bar, or one writing to a log, adds nothing.
func TestBarFinishEndsAnOpenTerminalLine(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "search", 10)
	b.tty = true
	b.Update(3, "")
	b.Finish()
	b.Finish()
	if got := buf.String(); !strings.HasPrefix(got, "\r") || strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Fatalf("open terminal bar after Finish: %q", got)
	}
	buf.Reset()
	b.Update(10, "")
	b.Finish()
	if got := buf.String(); strings.Count(got, "\n") != 1 {
		t.Fatalf("final terminal bar after Finish: %q, want one newline", got)
	}
	var log bytes.Buffer
	l := New(&log, "search", 10)
	l.Update(3, "")
	l.Finish()
	if got := log.String(); strings.Count(got, "\n") != 1 {
		t.Fatalf("log bar after Finish: %q, want its one line", got)
	}
}
