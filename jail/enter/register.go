//go:build linux

package enter

import (
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/runs"
)

// registration is a run's entry in the register of running jails
// (package runs): the socket its init takes jailer exec on, made before
// the init starts, and its record, written once the init is admitted and
// removed when it has exited.
type registration struct {
	dir, id  string
	listener *os.File // the exec socket; the init gets it, this side closes its copy
	record   runs.Record
}

// register makes the run's exec socket in the caller's runtime
// directory. A run goes on without one where the register cannot be
// used (a runtime directory that is not the caller's alone): jailer ps
// and exec do not know it, and the run is warned so.
//
// pids is the pids limit applied (jailer's default is left out where the
// host cannot apply it).
func register(root string, opts *Options, pids int) *registration {
	dir, err := runs.Dir()
	if err == nil {
		var id string
		if id, err = runs.NewID(dir); err == nil {
			r := &registration{dir: dir, id: id}
			if err = r.listen(opts); err == nil {
				r.describe(root, opts, pids)
				return r
			}
		}
	}
	opts.warn(fmt.Sprintf("this jail is not recorded for jailer ps, exec and stop: %v", err))
	return nil
}

// listen makes the socket the init takes jailer exec on (not for a
// plain chroot, which has no init of its own to run it).
func (r *registration) listen(opts *Options) error {
	if opts.NoNamespaces {
		return nil
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("exec socket: %w", err)
	}
	path := runs.SocketPath(r.dir, r.id)
	os.Remove(path)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("exec socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		os.Remove(path)
		return fmt.Errorf("exec socket %s: %w", path, err)
	}
	r.listener = os.NewFile(uintptr(fd), path)
	return nil
}

// describe fills the record with what the options say of the run.
func (r *registration) describe(root string, opts *Options, pids int) {
	cmd := opts.Command
	if len(cmd) == 0 {
		cmd = []string{"/bin/sh"}
	}
	net := "host"
	switch {
	case opts.Net == NetUser:
		net = NetUser
	case opts.has("net"):
		net = "none"
	}
	r.record = runs.Record{
		ID: r.id, Tree: root, Manifest: opts.Manifest, Command: slices.Clone(cmd), User: opts.User,
		Owner: os.Geteuid(), Net: net, Rootless: isRootless(opts), Exec: r.listener != nil,
		Limits: runs.Limits{Memory: opts.Limits.Memory, Pids: pids, CPUs: opts.Limits.CPU},
	}
	if opts.Limits.Timeout > 0 {
		r.record.Limits.Timeout = opts.Limits.Timeout.String()
	}
	if r.listener != nil {
		r.record.Socket = runs.SocketPath(r.dir, r.id)
	}
}

// file is the socket for the init, nil when there is none.
func (r *registration) file() *os.File {
	if r == nil {
		return nil
	}
	return r.listener
}

// write records the run, its init at pid started at started.
func (r *registration) write(pid int, started time.Time, opts *Options) {
	if r == nil {
		return
	}
	r.record.PID, r.record.Started = pid, started
	var err error
	if r.record.PIDStart, err = runs.StartTime(pid); err == nil {
		err = runs.Write(r.dir, &r.record)
	}
	if err != nil {
		opts.warn(fmt.Sprintf("this jail is not recorded for jailer ps, exec and stop: %v", err))
	}
}

// remove takes the run out of the register: the jail has ended.
func (r *registration) remove() {
	if r == nil {
		return
	}
	runs.Remove(r.dir, r.id)
}
