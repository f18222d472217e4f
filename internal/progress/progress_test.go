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
