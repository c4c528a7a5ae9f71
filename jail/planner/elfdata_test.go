package planner

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// brokenELF writes an x86-64 executable that is only an ELF header and
// one program header: a PT_INTERP of size 0. The kernel would refuse it;
// Go's toolchain keeps such files as test data (debug/elf/testdata).
func brokenELF(t *testing.T, p string) {
	t.Helper()
	var b [64 + 56]byte
	copy(b[:], "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // 64-bit, little-endian, version 1
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 0x3e) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], 64) // e_phoff
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56) // e_phentsize
	le.PutUint16(b[56:], 1)  // e_phnum
	le.PutUint32(b[64:], 3)  // p_type PT_INTERP; offset, sizes 0
	if err := os.WriteFile(p, b[:], 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestELFDataInCopiedTrees: an ELF file in a copied directory that the
// loader could never start (a malformed one, one with a foreign
// interpreter) is copied as data with a note in the plan, not a failed
// build; as a listed binary it is an error at its manifest line.
func TestELFDataInCopiedTrees(t *testing.T) {
	if !isNativeX86_64() {
		t.Skip("the fixture is an x86-64 ELF")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	tree := filepath.Join(dir, "tree", "testdata")
	os.MkdirAll(tree, 0o755)
	brokenELF(t, filepath.Join(tree, "no-interp-x86-64"))
	src := filepath.Join(dir, "main.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	testutil.Gcc(t, "-o", filepath.Join(tree, "foreign-interp"), src, "-Wl,--dynamic-linker=/tmp/evil-ld.so")
	testutil.Gcc(t, "-o", filepath.Join(dir, "tree", "real-program"), src)

	testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles:\n  - { src: ./tree, dest: /src }\n")
	p, err := New(testutil.LoadManifest(t, "m.yaml"))
	if err != nil {
		t.Fatalf("NewPlan = %v, want the malformed files copied as data", err)
	}
	es := EntryMap(p)
	for _, name := range []string{"testdata/no-interp-x86-64", "testdata/foreign-interp"} {
		if e := es["/src/"+name]; e.Kind != plan.KindFile || !strings.Contains(e.Why, "files (m.yaml:3); copied as data, not resolved: ") {
			t.Errorf("/src/%s = %+v, want a file with a note that it is copied as data", name, e)
		}
	}
	if e := es["/src/real-program"]; strings.Contains(e.Why, "as data") {
		t.Errorf("/src/real-program Why = %q, want it resolved", e.Why)
	}
	if _, ok := es["/lib/libc.so.6"]; !ok {
		t.Errorf("plan has no /lib/libc.so.6: the real program's libraries were not added")
	}
	if len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0], "2 ELF files among the copied files") {
		t.Errorf("Warnings = %q, want one saying 2 ELF files are copied as data", p.Warnings)
	}

	testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries:\n  - ./tree/testdata/no-interp-x86-64\n")
	_, err = New(testutil.LoadManifest(t, "m.yaml"))
	var me *manifest.Error
	if err == nil || !errors.As(err, &me) || !regexp.MustCompile(`^m\.yaml:3:5: read interpreter of \S+/no-interp-x86-64: EOF$`).MatchString(err.Error()) {
		t.Errorf("NewPlan(binaries: [broken]) = %v, want an error at m.yaml:3:5", err)
	}
}

func isNativeX86_64() bool { return elfdeps.Native().Machine == 0x3e }

// TestExclude: a project copied without its .git and every testdata
// directory at any depth, as a user writes it; plan says what was left
// out and why; the build has none of it.
func TestExclude(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, f := range []string{"proj/main.go", "proj/.git/HEAD", "proj/.git/objects/ab/cd", "proj/pkg/testdata/big.bin",
		"proj/pkg/x.go", "proj/pkg/x.o", "proj/testdata/y", "proj/docs/.git-keep"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles:\n  - { src: ./proj, dest: /src, exclude: [.git, \"**/testdata\", \"**/*.o\"] }\n")
	p, err := New(testutil.LoadManifest(t, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	es := EntryMap(p)
	for _, keep := range []string{"/src/main.go", "/src/pkg/x.go", "/src/docs/.git-keep"} {
		if _, ok := es[keep]; !ok {
			t.Errorf("plan has no %s", keep)
		}
	}
	var left []string
	for _, x := range p.Excluded {
		left = append(left, x.Dest+" "+x.Pattern)
		if x.Why != "files (m.yaml:3)" || x.Source != filepath.Join(dir, "proj", strings.TrimPrefix(x.Dest, "/src/")) {
			t.Errorf("exclusion %+v: want the host path and files (m.yaml:3)", x)
		}
	}
	want := "/src/.git .git,/src/pkg/testdata **/testdata,/src/pkg/x.o **/*.o,/src/testdata **/testdata"
	if strings.Join(left, ",") != want {
		t.Errorf("Excluded = %s, want %s", strings.Join(left, ","), want)
	}
	for dest := range es {
		if strings.Contains(dest, "testdata") || strings.Contains(dest, "/.git/") || strings.HasSuffix(dest, ".o") {
			t.Errorf("plan has %s, which exclude leaves out", dest)
		}
	}
	var text strings.Builder
	p.Text(&text)
	if !regexp.MustCompile(`(?m)^/src/\.git +left out +< \S+/proj/\.git  \[exclude "\.git" of files \(m\.yaml:3\)\]$`).MatchString(text.String()) {
		t.Errorf("plan text does not say what was left out:\n%s", text.String())
	}
	for _, c := range []struct{ text, want string }{
		{"version: 1\nfiles:\n  - { src: ./proj/main.go, exclude: [x] }\n", `m.yaml:3:5: file ./proj/main.go: exclude is for directories`},
		{"version: 1\nfiles:\n  - { src: ./proj, dest: /src, exclude: [\"[\"] }\n", `m.yaml:3:5: file ./proj: exclude "[" is not a glob relative to the directory`},
		{"version: 1\nfiles:\n  - { src: ./proj, dest: /src, exclude: [/abs] }\n", `exclude "/abs" is not a glob relative`},
	} {
		testutil.WriteManifest(t, dir, "m.yaml", c.text)
		if _, err := manifest.Load("m.yaml"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%q) = %v, want %s", c.text, err, c.want)
		}
	}
}
