package build_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/planner"
	"github.com/jailer-dev/jailer/manifest"
)

// The benchmarks use the same ~100 host programs as bench/compare.sh, which
// compares jailer with jk_cp, lddtree and cp -a:
//
//	go test -run '^$' -bench . -benchtime 5x ./jail

// benchPrograms chooses the programs once per test binary.
var benchPrograms = sync.OnceValues(func() ([]string, error) { return choosePrograms("/usr/bin", 100) })

// choosePrograms picks count dynamically linked programs from dir as
// bench/binaries.sh does: the regular (not symlinked) ELF files, sorted, are
// sampled at count evenly spaced points; from each point the first program
// not yet tried whose libraries all resolve (by ldd) is taken.
func choosePrograms(dir string, count int) ([]string, error) {
	ents, err := os.ReadDir(dir) // sorted bytewise, as LC_ALL=C sorts
	if err != nil {
		return nil, err
	}
	var cands []string
	for _, e := range ents {
		if p := filepath.Join(dir, e.Name()); e.Type().IsRegular() && hasELFMagic(p) {
			cands = append(cands, p)
		}
	}
	n := len(cands)
	count = min(count, n)
	// ldd is slow (a script running the loader twice): ask it about every
	// sampling point at once, then walk on from the points that fail.
	var mu sync.Mutex
	known := map[int]bool{}
	usable := func(j int) bool {
		mu.Lock()
		ok, done := known[j]
		mu.Unlock()
		if !done {
			out, err := exec.Command("ldd", cands[j]).CombinedOutput()
			s := string(out)
			ok = err == nil && !strings.Contains(s, "not found") && !strings.Contains(s, "statically linked") && !strings.Contains(s, "not a dynamic executable")
			mu.Lock()
			known[j] = ok
			mu.Unlock()
		}
		return ok
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2*runtime.NumCPU())
	for i := range count {
		sem <- struct{}{}
		wg.Go(func() { usable(i * n / count); <-sem })
	}
	wg.Wait()
	tried := make([]bool, n)
	var chosen []string
	for i := range count {
		for j := i * n / count; j < n; j++ {
			if !tried[j] {
				tried[j] = true
				if usable(j) {
					chosen = append(chosen, cands[j])
					break
				}
			}
		}
	}
	return chosen, nil
}

func hasELFMagic(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = f.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == "\x7fELF"
}

// benchManifest writes a manifest of the benchmark programs into a temporary
// directory and loads it.
func benchManifest(b *testing.B) (*manifest.Manifest, int) {
	b.Helper()
	progs, err := benchPrograms()
	if err != nil {
		b.Fatal(err)
	}
	if len(progs) < 10 {
		b.Skipf("only %d usable programs in /usr/bin", len(progs))
	}
	var sb strings.Builder
	sb.WriteString("version: 1\nname: bench\nbinaries:\n")
	for _, p := range progs {
		fmt.Fprintf(&sb, "  - %q\n", p)
	}
	path := filepath.Join(b.TempDir(), "bench.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return m, len(progs)
}

// BenchmarkPlan resolves the libraries of ~100 programs (a new Resolver each
// time, as `jailer plan` has) and sorts the entries.
func BenchmarkPlan(b *testing.B) {
	m, nprogs := benchManifest(b)
	var p *plan.Plan
	for b.Loop() {
		var err error
		if p, err = planner.New(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nprogs), "programs")
	b.ReportMetric(float64(len(p.Entries)), "entries")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(nprogs), "µs/program")
}

// BenchmarkBuild100 builds the jail of ~100 programs into a new directory
// each time: plan, copy and hash every file, write the lock, swap in.
func BenchmarkBuild100(b *testing.B) {
	m, nprogs := benchManifest(b)
	dir := b.TempDir()
	var sum *build.Summary
	i := 0
	for b.Loop() {
		out := filepath.Join(dir, fmt.Sprint("jail", i))
		var err error
		if sum, err = build.Build(b.Context(), m, build.Options{Output: out}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(sum.Bytes)
		b.StopTimer() // keep the disk from filling over many iterations
		os.RemoveAll(out)
		os.Remove(lockfile.Path(out))
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(nprogs), "programs")
	b.ReportMetric(float64(sum.Files), "files")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(sum.Files), "µs/file")
}

// BenchmarkRebuildUpToDate rebuilds a jail that is up to date: a stat of
// every source and tree file, nothing copied.
func BenchmarkRebuildUpToDate(b *testing.B) {
	m, nprogs := benchManifest(b)
	opts := build.Options{Output: filepath.Join(b.TempDir(), "jail")}
	first, err := build.Build(b.Context(), m, opts)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		sum, err := build.Build(b.Context(), m, opts)
		if err != nil {
			b.Fatal(err)
		}
		if !sum.UpToDate {
			b.Fatalf("a second build of an unchanged jail rewrote it: %s", sum)
		}
	}
	entries := first.Files + first.Dirs + first.Symlinks + first.Devices
	b.ReportMetric(float64(nprogs), "programs")
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(entries), "µs/entry")
}
