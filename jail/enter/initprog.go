//go:build linux

package enter

// Which program becomes the jail's init. The init's code is package
// jailinit, and two programs link it: jailer-init (cmd/jailer-init),
// which links little else and starts in a fraction of jailer's time,
// and jailer itself, whose main hands over to RunInit when started as an
// init. Run starts jailer-init when the one built with this jailer lies
// beside it (`make build` and `make install` put it there), else itself
// (`go build ./cmd/jailer` alone, and go test binaries).
//
// "The one built with this jailer" is checked by its Go build ID, which
// the Makefile links into jailer (initBuildID) after building
// jailer-init: a jailer-init from another build could read the config
// differently (a field it does not know is a setting it leaves out), so
// any other is passed over, as is one that others than its owner may
// write or that another user owns.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
)

// initBuildID is the Go build ID of the jailer-init built with this
// jailer, set at link time (-X) by the Makefile; empty when jailer was
// built without it, which then starts itself as the init.
var initBuildID string

// InitProgram is the name of the init's own program, beside jailer.
const InitProgram = "jailer-init"

// IsInit reports whether this process was started as a jail's init (or
// as the helper that saves a rootless run's results, save.go).
func IsInit() bool { return jailinit.IsInit() || (len(os.Args) > 1 && os.Args[1] == saveArg) }

// RunInit is the jail's init (or the save helper); it returns the exit
// status for os.Exit.
func RunInit() int {
	if os.Args[1] == saveArg {
		return saveHelper()
	}
	return jailinit.Main()
}

// initPath is the program Run starts as the init, found once per process.
var initPath = sync.OnceValues(func() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return chooseInit(self, initBuildID), nil
})

// chooseInit returns jailer-init beside self when it is the one whose
// build ID is want, else self.
func chooseInit(self, want string) string {
	if want == "" {
		return self
	}
	p := filepath.Join(filepath.Dir(self), InitProgram)
	f, err := os.Open(p)
	if err != nil {
		return self
	}
	defer f.Close()
	var st, selfSt unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || unix.Stat(self, &selfSt) != nil ||
		st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o022 != 0 || st.Mode&0o111 == 0 ||
		(st.Uid != selfSt.Uid && st.Uid != 0) {
		return self
	}
	if id, err := goBuildID(f); err != nil || id != want {
		return self
	}
	return p
}

// goBuildID reads the Go build ID of the program r, from its ELF note
// (what `go tool buildid` prints).
func goBuildID(r io.ReaderAt) (string, error) {
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
