package elfdeps

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

func TestReadELFDeps(t *testing.T) {
	for _, file := range []string{"/bin/bash", filepath.Join("/lib", testutil.Multiarch(t), "libc.so.6"), testutil.Loader(t)} {
		t.Run(file, func(t *testing.T) {
			real, err := filepath.EvalSymlinks(file)
			if err != nil {
				t.Skip(err)
			}
			f, err := os.Open(real)
			if err != nil {
				t.Skip(err)
			}
			defer f.Close()
			d, err := ReadDynamic(f)
			if err != nil {
				t.Fatalf("readELFDeps(%s) = %v", real, err)
			}
			ef, err := elf.NewFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ef.ImportedLibraries()
			if !slices.Equal(d.Needed, want) {
				t.Errorf("readELFDeps(%s).needed = %q, want %q (debug/elf from the section headers)", real, d.Needed, want)
			}
			if want := (ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64}); d.ID != want || !d.Loadable {
				t.Errorf("readELFDeps(%s) = id %v loadable %v, want %v true", real, d.ID, d.Loadable, want)
			}
			wantInterp := "/lib64/ld-linux-x86-64.so.2"
			if file == "/lib64/ld-linux-x86-64.so.2" {
				wantInterp = ""
			}
			if d.Interp != wantInterp {
				t.Errorf("readELFDeps(%s).interp = %q, want %q", real, d.Interp, wantInterp)
			}
		})
	}
}

func TestReadELFID(t *testing.T) {
	x86 := []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00")
	s390 := []byte("\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x16")
	tests := []struct {
		name   string
		in     []byte
		want   ID
		wantOK bool
	}{
		{"x86-64", x86, ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64}, true},
		{"big-endian s390x", s390, ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2MSB, Machine: elf.EM_S390}, true},
		{"script", []byte("#!/bin/sh\necho hello world\n"), ID{}, false},
		{"short", x86[:10], ID{}, false},
		{"bad class", append([]byte("\x7fELF\x09"), x86[5:]...), ID{}, false},
		{"bad byte order", append([]byte("\x7fELF\x02\x07"), x86[6:]...), ID{}, false},
	}
	for _, tt := range tests {
		if got, ok := ReadID(bytes.NewReader(tt.in)); got != tt.want || ok != tt.wantOK {
			t.Errorf("readELFID(%s) = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	if got, want := (ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2MSB, Machine: elf.EM_S390}).String(), "64-bit S390 big-endian"; got != want {
		t.Errorf("elfID.String() = %q, want %q", got, want)
	}
}

func TestExpandOrigin(t *testing.T) {
	tests := []struct{ in, origin, want string }{
		{"$ORIGIN/../mylib", "/bin", "/bin/../mylib"},
		{"${ORIGIN}/../mylib", "/usr/bin", "/usr/bin/../mylib"},
		{"$ORIGIN", "/opt/app", "/opt/app"},
		{"/x/$ORIGIN/y/${ORIGIN}", "/o", "/x//o/y//o"},
		{"$ORIGINAL/lib", "/o", "$ORIGINAL/lib"},
		{"$LIB/x", "/o", "$LIB/x"},
		{"/usr/lib", "/o", "/usr/lib"},
		{"$", "/o", "$"},
	}
	for _, tt := range tests {
		if got := ExpandOrigin(tt.in, tt.origin); got != tt.want {
			t.Errorf("expandOrigin(%q, %q) = %q, want %q", tt.in, tt.origin, got, tt.want)
		}
	}
}

func TestDefaultLibDirs(t *testing.T) {
	generic := []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64"}
	tests := []struct {
		id   ID
		arch []string
	}{
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64}, []string{"x86_64-linux-gnu"}},
		{ID{Class: elf.ELFCLASS32, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64}, []string{"x86_64-linux-gnux32"}},
		{ID{Class: elf.ELFCLASS32, Data: elf.ELFDATA2LSB, Machine: elf.EM_386}, []string{"i386-linux-gnu"}},
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_AARCH64}, []string{"aarch64-linux-gnu"}},
		{ID{Class: elf.ELFCLASS32, Data: elf.ELFDATA2LSB, Machine: elf.EM_ARM}, []string{"arm-linux-gnueabihf", "arm-linux-gnueabi"}},
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_PPC64}, []string{"powerpc64le-linux-gnu"}},
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2MSB, Machine: elf.EM_PPC64}, []string{"powerpc64-linux-gnu"}},
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2MSB, Machine: elf.EM_S390}, []string{"s390x-linux-gnu"}},
		{ID{Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_RISCV}, []string{"riscv64-linux-gnu"}},
		{ID{Class: elf.ELFCLASS32, Data: elf.ELFDATA2MSB, Machine: elf.EM_MIPS}, nil},
	}
	for _, tt := range tests {
		want := slices.Clone(generic)
		for _, a := range tt.arch {
			want = append(want, "/lib/"+a, "/usr/lib/"+a)
		}
		if got := DefaultLibDirs(tt.id); !slices.Equal(got, want) {
			t.Errorf("defaultLibDirs(%v) = %q, want %q", tt.id, got, want)
		}
	}
}
