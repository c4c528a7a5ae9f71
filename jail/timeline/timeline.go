//go:build linux

// Package timeline records when each step of a `jailer enter` happens, in
// jailer and in the jail's init, and prints them: JAILER_TIMELINE=1 in the
// environment turns it on (bench/enter.sh prints the medians of each step,
// so that a step that got slower shows). Off, a Mark costs a branch.
//
// Times are CLOCK_MONOTONIC, which is one clock for every process on the
// machine (jailer makes no time namespace), so the init's marks line up
// with jailer's: the init sends its own to jailer (Encode, Add).
//
// The first marks are the process's start. JAILER_TIMELINE may carry the
// moment the caller started jailer, as bash's $EPOCHREALTIME (seconds of
// CLOCK_REALTIME with a fraction): the timeline then starts at "exec"
// (the time to exec the binary and start the Go runtime shows). Go offers
// no way to run code before the runtime and the packages that sort before
// this one are initialised, so "runtime start" ends when this package is
// initialised, and "package init" at main.
//
// This package imports little, so that the jail's init (which links it)
// stays small; it is for measuring, and changes nothing a run does.
package timeline

import (
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Env is the variable that turns the timeline on.
const Env = "JAILER_TIMELINE"

// mark is one step's end.
type mark struct {
	name string
	at   int64 // CLOCK_MONOTONIC, ns
}

// note is a number measured along the way (a peak resident size).
type note struct {
	name  string
	value int64
}

var (
	on    bool
	mu    sync.Mutex
	marks []mark
	notes []note
)

// The package's own initialisation is the earliest this process can mark.
func init() {
	v, ok := os.LookupEnv(Env)
	if !ok || v == "" || v == "0" {
		return
	}
	on = true
	now := Now()
	if launched, err := strconv.ParseFloat(v, 64); err == nil && launched > 1e9 {
		// The caller's realtime clock at exec, moved onto the monotonic one.
		since := float64(time.Now().UnixNano()) - launched*1e9
		if since >= 0 && since < 10e9 {
			marks = append(marks, mark{"exec", now - int64(since)})
		}
	}
	marks = append(marks, mark{"runtime start", now})
}

// On says whether the timeline is on (JAILER_TIMELINE set, and not 0).
func On() bool { return on }

// Now is CLOCK_MONOTONIC in nanoseconds.
func Now() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Mark records that the step name ends now.
func Mark(name string) {
	if on {
		at := Now()
		mu.Lock()
		marks = append(marks, mark{name, at})
		mu.Unlock()
	}
}

// Note records a number measured along the way, printed after the
// steps as "name: value".
func Note(name string, value int64) {
	if on {
		mu.Lock()
		notes = append(notes, note{name, value})
		mu.Unlock()
	}
}

// Encode is this process's marks and notes as one line for another
// process to Add: "name=ns" and "name:value", separated by tabs (which
// no name holds).
func Encode() string {
	mu.Lock()
	defer mu.Unlock()
	var fields []string
	for _, m := range marks {
		fields = append(fields, m.name+"="+strconv.FormatInt(m.at, 10))
	}
	for _, n := range notes {
		fields = append(fields, n.name+":"+strconv.FormatInt(n.value, 10))
	}
	return strings.Join(fields, "\t")
}

// Add records the marks and notes of another process (its Encode),
// each named with prefix before it ("init: ").
func Add(prefix, encoded string) {
	if !on {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range strings.Split(encoded, "\t") {
		if name, at, ok := strings.Cut(f, "="); ok {
			if n, err := strconv.ParseInt(at, 10, 64); err == nil {
				marks = append(marks, mark{prefix + name, n})
			}
		} else if name, v, ok := strings.Cut(f, ":"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				notes = append(notes, note{prefix + name, n})
			}
		}
	}
}

// Print writes the timeline to w, in the order of time: each step's end
// in milliseconds from the first mark, and how long it took (since the
// mark before it). Nothing when the timeline is off.
func Print(w io.Writer) {
	mu.Lock()
	ms, ns := slices.Clone(marks), slices.Clone(notes)
	mu.Unlock()
	if !on || len(ms) == 0 {
		return
	}
	slices.SortStableFunc(ms, func(a, b mark) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	var b []byte
	b = append(b, "jailer timeline ("+Env+"): ms since the first mark, ms since the mark before, step\n"...)
	t0, prev := ms[0].at, ms[0].at
	for _, m := range ms {
		b = append(b, "  "...)
		b = appendMs(b, m.at-t0)
		b = append(b, ' ')
		b = appendMs(b, m.at-prev)
		b = append(b, "  "...)
		b = append(b, m.name...)
		b = append(b, '\n')
		prev = m.at
	}
	for _, n := range ns {
		b = append(b, "  note  "...)
		b = append(b, n.name...)
		b = append(b, ": "...)
		b = strconv.AppendInt(b, n.value, 10)
		b = append(b, '\n')
	}
	w.Write(b)
}

// appendMs appends ns as milliseconds, right-aligned to 8 characters.
func appendMs(b []byte, ns int64) []byte {
	s := strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64)
	for range 8 - len(s) {
		b = append(b, ' ')
	}
	return append(b, s...)
}
