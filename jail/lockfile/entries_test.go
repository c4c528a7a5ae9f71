package lockfile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/jailer-dev/jailer/jail/plan"
)

// TestEntriesReasonInOrder: a lock large enough to be checked by several
// goroutines reports the first stale entry in the lock's order, as a
// check one by one does, wherever the stale entries lie.
func TestEntriesReasonInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // four goroutines, whatever the machine
	dir := t.TempDir()
	const n = 1000
	l := &Lock{}
	for i := range n {
		dest := fmt.Sprintf("/d%04d", i)
		if err := os.Mkdir(filepath.Join(dir, dest), 0o755); err != nil {
			t.Fatal(err)
		}
		l.Entries = append(l.Entries, Entry{Dest: dest, Kind: plan.KindDir, Mode: "0755"})
	}
	tests := []struct {
		name    string
		missing []int
		want    int // the entry reported, -1 for none
	}{
		{"none stale", nil, -1},
		{"the first", []int{0}, 0},
		{"the last", []int{n - 1}, n - 1},
		{"two in one block", []int{70, 65}, 65},
		{"far apart", []int{900, 131, 500}, 131},
		{"every other block", []int{999, 800, 600, 400, 200, 33}, 33},
		{"the first entry of each block", []int{32, 64, 96, 128, 160, 192}, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, i := range tt.missing {
				os.Remove(filepath.Join(dir, l.Entries[i].Dest))
			}
			t.Cleanup(func() {
				for _, i := range tt.missing {
					os.Mkdir(filepath.Join(dir, l.Entries[i].Dest), 0o755)
				}
			})
			for range 50 { // the goroutines race differently each time
				r := l.entriesReason(dir)
				switch {
				case tt.want < 0 && r.Stale():
					t.Fatalf("stale: %v, want up to date", r)
				case tt.want >= 0 && (r.Kind != EntryMissing || r.Entry != l.Entries[tt.want].Dest):
					t.Fatalf("got %v (%s), want %s missing", r.Kind, r.Entry, l.Entries[tt.want].Dest)
				}
			}
		})
	}
}
