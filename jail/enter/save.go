//go:build linux

package enter

// Saving a rootless run's results. What the run left in its fresh root
// and its outputs belongs to ids of its user namespace: the caller's,
// and with the full mapping those of the subordinate range, which the
// caller cannot read or chown on the host (a file the jail's user made
// with mode 0600, a directory it made 0700). So the parent does not
// save them itself: it starts this binary again, as a helper in a user
// namespace with the same mapping, where 0 is the caller and root's
// capabilities reach every id the run could have used. The helper saves
// --keep-changes and hands the outputs over to 0, the caller, and says
// on a pipe what failed. It runs only once the jail has exited, and it
// runs no program of the jail's.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/internal/jsonpath"
)

// saveArg, as argv[1], makes the jailer binary run as the save helper.
const saveArg = "__jailer_save__"

// Fds of the save helper besides stdin, stdout and stderr.
const (
	saveRequestFd = 3 // the saveRequest, as JSON, to EOF
	saveResultFd  = 4 // what failed, one line; nothing when all went well
	saveUpperFd   = 5 // the run's upper layer, when it has one
)

// saveRequest is what the save helper is asked to do.
type saveRequest struct {
	KeepChanges string       `json:"keep_changes,omitempty"` // absolute host directory
	Upper       bool         `json:"upper,omitempty"`        // saveUpperFd is the upper layer
	Lower       string       `json:"lower"`                  // the tree
	Targets     []string     `json:"targets,omitempty"`      // the init's mount targets
	Owned       []ownedEntry `json:"owned,omitempty"`        // owners the init gave (chownOwned)
	Outputs     []Output     `json:"outputs,omitempty"`
}

// withPaths is r with every path mapped by f: jsonpath.Encode before it
// is sent as JSON, jsonpath.Decode once read (a jail or directory whose
// name is not UTF-8 would arrive as another name).
func (r saveRequest) withPaths(f func(string) string) saveRequest {
	r.KeepChanges, r.Lower = f(r.KeepChanges), f(r.Lower)
	r.Targets = slices.Clone(r.Targets)
	for i := range r.Targets {
		r.Targets[i] = f(r.Targets[i])
	}
	r.Owned = slices.Clone(r.Owned)
	for i := range r.Owned {
		r.Owned[i].Path = f(r.Owned[i].Path)
	}
	r.Outputs = slices.Clone(r.Outputs)
	for i := range r.Outputs {
		r.Outputs[i].Host, r.Outputs[i].Target = f(r.Outputs[i].Host), f(r.Outputs[i].Target)
	}
	return r
}

// save saves the run's changes and hands over its outputs, through the
// save helper (see above).
func (ns *userns) save(changes *changeSink, root string, cfg *jailinit.Config, outs []Output) error {
	if changes == nil && len(outs) == 0 {
		return nil
	}
	req := saveRequest{Lower: root, Targets: changeTargets(cfg), Owned: cfg.Chown}
	for _, o := range outs {
		abs, err := filepath.Abs(o.Host)
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.Host, err)
		}
		req.Outputs = append(req.Outputs, Output{Host: abs, Target: o.Target})
	}
	upper := -1
	if changes != nil {
		changes.started()
		fd, err := changes.receive()
		if err != nil {
			return fmt.Errorf("--keep-changes: %w", err)
		}
		upper = fd
		if upper >= 0 {
			defer unix.Close(upper)
		}
		if req.KeepChanges, err = filepath.Abs(changes.dir); err != nil {
			return fmt.Errorf("--keep-changes: %w", err)
		}
		req.Upper = upper >= 0
	}
	return ns.runSaveHelper(&req, upper)
}

// runSaveHelper starts the save helper in a user namespace like the
// run's, sends it req, and returns what it says failed.
func (ns *userns) runSaveHelper(req *saveRequest, upper int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer reqW.Close()
	resR, resW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		return err
	}
	defer resR.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		reqR.Close()
		resW.Close()
		return err
	}
	files := []uintptr{null.Fd(), null.Fd(), os.Stderr.Fd(), reqR.Fd(), resW.Fd()}
	if upper >= 0 {
		files = append(files, uintptr(upper))
	}
	sys := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ns.sysProcAttr(sys)
	pid, err := syscall.ForkExec(self, []string{"jailer-save", saveArg}, &syscall.ProcAttr{Env: []string{}, Files: files, Sys: sys})
	reqR.Close()
	resW.Close()
	null.Close()
	if err != nil {
		return fmt.Errorf("save the run's results: start a helper in a user namespace: %w", err)
	}
	if ns.full {
		if err := ns.writeMaps(pid); err != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			jailinit.WaitStatus(pid)
			return fmt.Errorf("save the run's results: %w", err)
		}
	}
	err = json.NewEncoder(reqW).Encode(req.withPaths(jsonpath.Encode))
	reqW.Close()
	msg, _ := io.ReadAll(resR)
	code := jailinit.WaitStatus(pid)
	switch {
	case len(msg) > 0:
		return fmt.Errorf("%s", strings.TrimSpace(string(msg)))
	case err != nil:
		return fmt.Errorf("save the run's results: send the helper its request: %w", err)
	case code != 0:
		return fmt.Errorf("save the run's results: the helper exited with status %d", code)
	}
	return nil
}

// saveHelper is the save helper's side (see above); it returns the
// exit status.
func saveHelper() int {
	unix.CloseOnExec(saveRequestFd)
	unix.CloseOnExec(saveResultFd)
	result := os.NewFile(saveResultFd, "result")
	fail := func(err error) int {
		fmt.Fprintln(result, strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	var req saveRequest
	data, err := io.ReadAll(os.NewFile(saveRequestFd, "request"))
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	if err != nil {
		return fail(fmt.Errorf("save the run's results: read the request: %w", err))
	}
	req = req.withPaths(jsonpath.Decode)
	// 0 is the caller in this namespace: what is saved becomes theirs.
	var errs []string
	if req.KeepChanges != "" {
		upper := -1
		if req.Upper {
			upper = saveUpperFd
		}
		if err := saveChanges(req.KeepChanges, upper, req.Lower, req.Targets, true, 0, 0, req.Owned); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := handOver(req.Outputs, 0, 0); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fail(errors.New(strings.Join(errs, "; and ")))
	}
	return 0
}
