//go:build linux

// Package companion finds the programs built and installed alongside
// jailer: jailer-init, the jail's init, and jailer-full, which a lean
// jailer hands the commands it leaves out to (see cmd/jailer's
// export_lean.go). Both lie beside jailer (`make build` puts them in
// bin/, `make install` in PREFIX/bin).
//
// A companion is used only when it is the one built with this jailer,
// as its Go build ID says (the Makefile links the companion's ID into
// jailer with -X): one from another build could read jailer's config or
// flags differently. It must also be a regular executable file that no
// one but its owner may write, owned by root or by jailer's own owner:
// otherwise whoever could replace it would run code as jailer's user.
package companion

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Beside returns the program name in the directory of self (jailer's
// own path) when it is the one whose Go build ID is want, and why not
// otherwise. An empty want (jailer built without the ID) finds none.
func Beside(self, name, want string) (string, error) {
	if want == "" {
		return "", errors.New("this jailer was built without " + name + " (make build links it)")
	}
	p := filepath.Join(filepath.Dir(self), name)
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st, selfSt unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	if err := unix.Stat(self, &selfSt); err != nil {
		return "", err
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0:
		return "", errors.New(p + " is not an executable file")
	case st.Mode&0o022 != 0:
		return "", errors.New(p + " may be written by others than its owner")
	case st.Uid != selfSt.Uid && st.Uid != 0:
		return "", errors.New(p + " is owned by another user")
	}
	if id, err := BuildID(f); err != nil || id != want {
		return "", errors.New(p + " is from another build of jailer")
	}
	return p, nil
}

// BuildID reads the Go build ID of the program r, from its ELF note
// (what `go tool buildid` prints).
func BuildID(r io.ReaderAt) (string, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return "", err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<16 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return "", err
		}
		if id, ok := goNote(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	return "", errors.New("no Go build ID")
}

// goNote finds the Go build ID among the ELF notes in data: name "Go",
// type 4.
func goNote(data []byte, order binary.ByteOrder) (string, bool) {
	const goBuildIDType = 4
	align := func(n uint32) uint32 { return (n + 3) &^ 3 }
	for len(data) >= 12 {
		namesz, descsz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
		data = data[12:]
		if uint64(align(namesz))+uint64(align(descsz)) > uint64(len(data)) {
			return "", false
		}
		name := data[:namesz]
		desc := data[align(namesz) : align(namesz)+descsz]
		data = data[align(namesz)+align(descsz):]
		if typ == goBuildIDType && bytes.Equal(bytes.TrimRight(name, "\x00"), []byte("Go")) {
			return string(desc), true
		}
	}
	return "", false
}
