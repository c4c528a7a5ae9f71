//go:build linux

package timeline

import (
	"bytes"
	"strings"
	"testing"
)

// reset turns the timeline on or off with nothing recorded.
func reset(t *testing.T, enabled bool) {
	t.Helper()
	oldOn, oldMarks, oldNotes := on, marks, notes
	on, marks, notes = enabled, nil, nil
	t.Cleanup(func() { on, marks, notes = oldOn, oldMarks, oldNotes })
}

func TestPrint(t *testing.T) {
	tests := []struct {
		name  string
		marks []mark
		notes []note
		want  string
	}{
		{"nothing", nil, nil, ""},
		{
			"in the order of time, each since the one before",
			[]mark{{"a", 1_000_000}, {"c", 4_500_000}, {"b", 2_000_000}},
			nil,
			"     0.000    0.000  a\n     1.000    1.000  b\n     3.500    2.500  c\n",
		},
		{
			"notes after the steps",
			[]mark{{"a", 7}},
			[]note{{"peak kB", 1234}},
			"     0.000    0.000  a\n  note  peak kB: 1234\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset(t, true)
			marks, notes = tt.marks, tt.notes
			var b bytes.Buffer
			Print(&b)
			_, got, _ := strings.Cut(b.String(), "\n") // after the heading
			if got != tt.want {
				t.Errorf("Print() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestEncodeAdd: what one process encodes, another adds with a prefix,
// names with spaces, colons and commas whole.
func TestEncodeAdd(t *testing.T) {
	reset(t, true)
	marks = []mark{{"root (tmpfs, overlay: bind)", 10}, {"seccomp", 20}}
	notes = []note{{"peak resident kB", 7000}}
	enc := Encode()
	marks, notes = nil, nil
	Add("init: ", enc)
	Add("init: ", "garbage\tx=notanumber\ty:z")
	wantMarks := []mark{{"init: root (tmpfs, overlay: bind)", 10}, {"init: seccomp", 20}}
	if len(marks) != len(wantMarks) || marks[0] != wantMarks[0] || marks[1] != wantMarks[1] {
		t.Errorf("Add(Encode()) marks = %v, want %v", marks, wantMarks)
	}
	if len(notes) != 1 || notes[0] != (note{"init: peak resident kB", 7000}) {
		t.Errorf("Add(Encode()) notes = %v, want [{init: peak resident kB 7000}]", notes)
	}
}

// TestOff: off, nothing is recorded or printed.
func TestOff(t *testing.T) {
	reset(t, false)
	Mark("a")
	Note("n", 1)
	Add("init: ", "b=5")
	var b bytes.Buffer
	Print(&b)
	if len(marks) != 0 || len(notes) != 0 || b.Len() != 0 {
		t.Errorf("off: marks %v, notes %v, printed %q; want none", marks, notes, b.String())
	}
}

func TestMarkIsMonotonic(t *testing.T) {
	reset(t, true)
	Mark("a")
	Mark("b")
	if len(marks) != 2 || marks[1].at < marks[0].at || marks[0].at <= 0 {
		t.Errorf("marks = %v, want two, in order, after boot", marks)
	}
}
