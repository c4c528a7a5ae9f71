package main

import (
	"strings"
	"testing"
	"time"
)

func TestProgressText(t *testing.T) {
	tests := []struct {
		done, total int64
		want        string
	}{
		{0, 10 << 20, "building 0.0 MiB / 10.0 MiB [>         ]   0%"},
		{5 << 20, 10 << 20, "building 5.0 MiB / 10.0 MiB [=====>    ]  50%"},
		{10 << 20, 10 << 20, "building 10.0 MiB / 10.0 MiB [==========] 100%"},
		{11 << 20, 10 << 20, "building 10.0 MiB / 10.0 MiB [==========] 100%"}, // more than the total: full
		{-1, 0, "building 0.0 MiB / 0.0 MiB [>         ]   0%"},                // nothing to copy
	}
	for _, tt := range tests {
		if got := progressText(tt.done, tt.total, 10); got != tt.want {
			t.Errorf("progressText(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}

// TestProgressLine: nothing is drawn before the delay, then at most once
// an interval; clear erases only a line that was drawn.
func TestProgressLine(t *testing.T) {
	var out strings.Builder
	p := newProgressLine(&out)
	p.update(1, 2)
	p.clear()
	if out.Len() != 0 {
		t.Fatalf("a build shorter than the delay drew %q", out.String())
	}
	p.start = time.Now().Add(-2 * time.Second)
	p.update(1, 4)
	p.update(2, 4) // within the interval: not drawn
	if n := strings.Count(out.String(), "\r"); n != 1 || !strings.Contains(out.String(), " 25%") {
		t.Fatalf("after two updates: %q, want one drawing at 25%%", out.String())
	}
	p.last = p.last.Add(-time.Second)
	p.update(3, 4)
	if !strings.Contains(out.String(), " 75%") {
		t.Errorf("after the interval: %q, want 75%% drawn", out.String())
	}
	out.Reset()
	p.clear()
	if out.String() != "\r\x1b[K" {
		t.Errorf("clear wrote %q", out.String())
	}
}
