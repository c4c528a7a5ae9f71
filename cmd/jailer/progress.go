package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressLine is the bar `jailer build` draws on a terminal: one line,
// "building 12.3 MiB / 146.0 MiB [=====>      ]  8%", drawn only once the
// build has taken longer than delay and then at most every interval, and
// erased when the build ends. (A progress-bar library did this before;
// its initialisation cost every jailer command 0.2 ms at start.)
//
// Its caller serialises update (the build calls Progress under a lock).
type progressLine struct {
	w        io.Writer
	start    time.Time
	delay    time.Duration
	interval time.Duration
	last     time.Time // of the last drawing; zero until the first
}

// newProgressLine starts the clock of a progress line on w.
func newProgressLine(w io.Writer) *progressLine {
	return &progressLine{w: w, start: time.Now(), delay: time.Second, interval: 100 * time.Millisecond}
}

// update draws done of total bytes, when it is time to.
func (p *progressLine) update(done, total int64) {
	now := time.Now()
	if now.Sub(p.start) < p.delay || (!p.last.IsZero() && now.Sub(p.last) < p.interval) {
		return
	}
	p.last = now
	fmt.Fprint(p.w, "\r"+progressText(done, total, 30)+"\x1b[K")
}

// clear erases the line, if it was drawn.
func (p *progressLine) clear() {
	if !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// progressText is the line for done of total bytes with a bar width
// characters wide.
func progressText(done, total int64, width int) string {
	if total <= 0 {
		total = 1
	}
	done = min(max(done, 0), total)
	filled := int(int64(width) * done / total)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("building %s / %s [%s] %3d%%", mebibytes(done), mebibytes(total), bar, 100*done/total)
}

// mebibytes is n bytes in MiB with one decimal.
func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
