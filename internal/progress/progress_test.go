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
