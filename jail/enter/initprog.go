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
// write or that another user owns (package companion).

import (
	"os"
	"sync"

	"github.com/jailer-dev/jailer/jail/companion"
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
// build ID is want (companion.Beside), else self.
func chooseInit(self, want string) string {
	if p, err := companion.Beside(self, InitProgram, want); err == nil {
		return p
	}
	return self
}
