package inspect

import (
	"bytes"
	"debug/elf"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
)

// buildRunpathProg compiles, in a temporary directory, libmy.so and a
// program linked to it with the given extra gcc flags, and returns their paths.
func buildRunpathProg(t *testing.T, flags ...string) (prog, lib string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("my.c", "int my(void) { return 42; }\n")
	write("main.c", "int my(void);\nint main(void) { return my() != 42; }\n")
	gcc := func(args ...string) {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %q: %v\n%s", args, err, out)
		}
	}
	gcc("-shared", "-fPIC", "-o", "libmy.so", "my.c")
	gcc(append([]string{"-o", "prog", "main.c", "-L.", "-lmy"}, flags...)...)
	return filepath.Join(dir, "prog"), filepath.Join(dir, "libmy.so")
}

func TestCheckELFRunpath(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		tag     string // RUNPATH or RPATH the program must carry
		libDest string // where libmy.so goes in the jail; "" for nowhere
		want    []wantProblem
	}{
		{
			name:    "$ORIGIN runpath, library there",
			flags:   []string{"-Wl,-rpath,$ORIGIN/../mylib"},
			tag:     "RUNPATH",
			libDest: "/mylib/libmy.so",
		},
		{
			name:  "$ORIGIN runpath, library removed",
			flags: []string{"-Wl,-rpath,$ORIGIN/../mylib"},
			tag:   "RUNPATH",
			want:  []wantProblem{{"/bin/prog", "unresolved", "libmy.so needed but not found in the jail (searched RUNPATH $ORIGIN/../mylib"}},
		},
		{
			name:    "$ORIGIN runpath, library elsewhere",
			flags:   []string{"-Wl,-rpath,$ORIGIN/../mylib"},
			tag:     "RUNPATH",
			libDest: "/opt/libmy.so",
			want:    []wantProblem{{"/bin/prog", "unresolved", "libmy.so needed"}},
		},
		{
			name:    "${ORIGIN} rpath, library there",
			flags:   []string{"-Wl,--disable-new-dtags,-rpath,${ORIGIN}/../mylib"},
			tag:     "RPATH",
			libDest: "/mylib/libmy.so",
		},
		{
			name:    "absolute runpath, library there",
			flags:   []string{"-Wl,-rpath,/mylib"},
			tag:     "RUNPATH",
			libDest: "/mylib/libmy.so",
		},
		{
			name:    "no runpath, library in a default dir",
			libDest: "/usr/lib/libmy.so",
		},
		{
			name:    "no runpath, library only in the program's dir",
			libDest: "/bin/libmy.so",
			want:    []wantProblem{{"/bin/prog", "unresolved", "libmy.so needed"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, lib := buildRunpathProg(t, tt.flags...)
			f, err := os.Open(prog)
			if err != nil {
				t.Fatal(err)
			}
			d, err := elfdeps.ReadDynamic(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tag := d.SearchTag; len(d.Search) == 0 {
				tag = ""
			} else if tag != tt.tag {
				t.Fatalf("gcc %q made a program with %s, want %s", tt.flags, tag, tt.tag)
			}
			j := newTestJail(t)
			j.copy(prog, "/bin/prog")
			j.addLibs(prog)
			if tt.libDest != "" {
				j.copy(lib, tt.libDest)
			}
			j.writeLock()
			checkProblems(t, j.dir, tt.want)
		})
	}
}

// TestReadELFDepsMalformed feeds truncated and corrupted ELF files to
// readELFDeps, and jails of corrupted programs and libraries to Check: they
// must return, not panic.
func TestReadELFDepsMalformed(t *testing.T) {
	bash, err := os.ReadFile(realPath(t, "/bin/bash"))
	if err != nil {
		t.Skip(err)
	}
	for _, n := range []int{0, 3, 4, 16, 20, 52, 63, 64, 65, 100, 500, 1000, 4096, 1 << 16, len(bash) / 2, len(bash) - 1} {
		if _, err := elfdeps.ReadDynamic(bytes.NewReader(bash[:n])); err == nil && n < 4096 {
			t.Errorf("readELFDeps(bash truncated to %d bytes) = nil error, want one", n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		data := slices.Clone(bash[:64<<10])
		for range 1 + rng.IntN(8) {
			data[rng.IntN(4096)] = byte(rng.IntN(256))
		}
		elfdeps.ReadDynamic(bytes.NewReader(data))
	}

	// The program and the libraries it loads are corrupted where the
	// loader emulation reads: the headers, the dynamic section and the
	// dynamic strings (needed names, RPATH, RUNPATH, SONAME).
	j := newBashJail(t)
	j.writeLock()
	files := []string{"/bin/bash", tinfoFile(t), "/lib/libc.so.6"}
	orig := map[string][]byte{}
	spans := map[string][][2]int{}
	for _, f := range files {
		data, err := os.ReadFile(j.path(f))
		if err != nil {
			t.Fatal(err)
		}
		orig[f] = data
		spans[f] = append(spans[f], [2]int{0, 4096})
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_DYNAMIC {
				spans[f] = append(spans[f], [2]int{int(p.Off), int(p.Filesz)})
			}
		}
		if s := ef.Section(".dynstr"); s != nil {
			spans[f] = append(spans[f], [2]int{int(s.Offset), int(s.Size)})
		}
	}
	for range 50 {
		for _, f := range files {
			data := slices.Clone(orig[f])
			for range 1 + rng.IntN(8) {
				s := spans[f][rng.IntN(len(spans[f]))]
				data[s[0]+rng.IntN(s[1])] = byte(rng.IntN(256))
			}
			j.write(f, data)
		}
		if _, err := Check(j.dir); err != nil {
			t.Fatalf("Check(corrupted jail) = %v", err)
		}
	}
}
