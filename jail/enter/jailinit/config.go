//go:build linux

package jailinit

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Config is everything the init needs, worked out by jailer (package
// enter) and sent on ConfigFd in its own encoding (Encode): decoding JSON
// would cost the init encoding/json's code and reflection, a millisecond
// of every start.
type Config struct {
	Root         string   // the tree's absolute path, symlinks resolved
	Argv         []string // the command; Argv[0] is looked up in the jail's PATH
	Env          []string // the command's whole environment, K=V
	Workdir      string   // in the jail
	UID, GID     int      // the command's ids (in the jail's user namespace)
	Groups       []int    // its supplementary groups
	NoNamespaces bool     // a plain chroot: no namespaces, no hardening
	PID          bool     // the init is PID 1 of a PID namespace of its own
	UTS          bool     // a UTS namespace: set Hostname
	Net          bool     // make a network namespace, loopback up (see startNetns)
	UserNS       bool     // the init is in a user namespace
	Hostname     string
	Readonly     bool    // the jail's root read-only
	Overlay      bool    // a fresh root: see overlay.go
	TmpSize      int64   // of the tmpfs under the overlay, bytes
	KeepChanges  bool    // hand the upper layer to jailer on ChangesFd
	Mounts       []Mount // tmpfs and bind mounts, in order
	Outputs      []Mount // writable binds, nosuid and nodev
	Nofile       int     // RLIMIT_NOFILE; 0: unchanged
	Nproc        int     // RLIMIT_NPROC; 0: unchanged
	Interactive  bool    // stdin is a pty: make it the command's controlling terminal
	// PidsHop, when the command's pids are limited, puts it in its
	// cgroup (the init stays out of it).
	PidsHop *PidsHop
	// NoSetgroups: setgroups is denied in the jail's user namespace (a
	// run without root that maps the caller alone), so the command keeps
	// the init's groups.
	NoSetgroups bool
	// Chown gives entries of the tree their owners in the fresh root (a
	// run without root, whose tree is the caller's).
	Chown []Owned
	// RootOwner, in a run without root, is the tree's owner as uid and
	// gid inside, -1 for one the namespace does not map.
	RootOwner []int
	// NetReady, with the user-mode network, is the fd of a pipe the
	// init reads a byte from before it starts the command: jailer writes
	// it once slirp4netns has configured the jail's network (see
	// usernet.go); 0: none.
	NetReady int
	// ResolvConf, when set, is written as /etc/resolv.conf in the fresh
	// root (never the tree).
	ResolvConf string
	// ExecFd, when above 0, is a listening unix socket on which the init
	// takes commands to run in the jail from jailer exec (exec.go).
	ExecFd int
	// Masks are directories of the jail that an empty read-only tmpfs
	// covers once the mounts are made: the caller's runtime directory
	// where a bind mount brought it in (the exec sockets of the
	// caller's other jails).
	Masks []string

	netns <-chan netns // the network namespace being made (Net), not sent
	files []uintptr    // an exec'd command's stdin, stdout, stderr; nil: the init's
	pidfd *int         // where the fork puts the command's pidfd, when not nil
}

// Mount is a tmpfs or bind mount inside the jail.
type Mount struct {
	Type     string // "tmpfs" or "bind"
	Source   string // a bind's host path, absolute
	Target   string // the jail path mounted onto
	Readonly bool
	Size     int64 // a tmpfs's size in bytes; 0: the kernel's default
}

// Owned is an entry of the tree that the lock records with an owner.
type Owned struct {
	Path string `json:"path"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// configMagic starts an encoded Config; its last byte is the encoding's
// version, so that an init of another build refuses a config it would
// misread rather than run with it.
const configMagic = "jailer-init config\x01"

// Encode is c in the init's encoding: fields in a fixed order, numbers
// as varints, strings and lists with their lengths first.
func (c *Config) Encode() []byte {
	e := &encoder{b: []byte(configMagic)}
	e.str(c.Root)
	e.strs(c.Argv)
	e.strs(c.Env)
	e.str(c.Workdir)
	e.int(int64(c.UID))
	e.int(int64(c.GID))
	e.ints(c.Groups)
	for _, b := range []bool{c.NoNamespaces, c.PID, c.UTS, c.Net, c.UserNS} {
		e.bool(b)
	}
	e.str(c.Hostname)
	e.bool(c.Readonly)
	e.bool(c.Overlay)
	e.int(c.TmpSize)
	e.bool(c.KeepChanges)
	e.mounts(c.Mounts)
	e.mounts(c.Outputs)
	e.int(int64(c.Nofile))
	e.int(int64(c.Nproc))
	e.bool(c.Interactive)
	e.bool(c.PidsHop != nil)
	if h := c.PidsHop; h != nil {
		e.ints([]int{h.Into, h.Limit, h.Back, h.Pids})
	}
	e.bool(c.NoSetgroups)
	e.uint(uint64(len(c.Chown)))
	for _, o := range c.Chown {
		e.str(o.Path)
		e.int(int64(o.UID))
		e.int(int64(o.GID))
	}
	e.ints(c.RootOwner)
	e.int(int64(c.NetReady))
	e.str(c.ResolvConf)
	e.int(int64(c.ExecFd))
	e.strs(c.Masks)
	return e.b
}

// Decode reads a Config that Encode wrote.
func Decode(data []byte) (*Config, error) {
	if len(data) < len(configMagic) || string(data[:len(configMagic)]) != configMagic {
		return nil, errors.New("not a config of this jailer-init's (is jailer-init from another build than jailer? reinstall both: make install)")
	}
	d := &decoder{b: data[len(configMagic):]}
	c := &Config{}
	c.Root = d.str()
	c.Argv = d.strs()
	c.Env = d.strs()
	c.Workdir = d.str()
	c.UID = d.intn()
	c.GID = d.intn()
	c.Groups = d.ints()
	for _, b := range []*bool{&c.NoNamespaces, &c.PID, &c.UTS, &c.Net, &c.UserNS} {
		*b = d.bool()
	}
	c.Hostname = d.str()
	c.Readonly = d.bool()
	c.Overlay = d.bool()
	c.TmpSize = d.int()
	c.KeepChanges = d.bool()
	c.Mounts = d.mounts()
	c.Outputs = d.mounts()
	c.Nofile = d.intn()
	c.Nproc = d.intn()
	c.Interactive = d.bool()
	if d.bool() {
		if h := d.ints(); len(h) == 4 {
			c.PidsHop = &PidsHop{Into: h[0], Limit: h[1], Back: h[2], Pids: h[3]}
		} else {
			d.fail()
		}
	}
	c.NoSetgroups = d.bool()
	for n := d.len(); n > 0; n-- {
		c.Chown = append(c.Chown, Owned{Path: d.str(), UID: d.intn(), GID: d.intn()})
	}
	c.RootOwner = d.ints()
	c.NetReady = d.intn()
	c.ResolvConf = d.str()
	c.ExecFd = d.intn()
	c.Masks = d.strs()
	if d.err == nil && len(d.b) > 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(c.Argv) == 0 {
		return nil, errors.New("config without a command")
	}
	return c, nil
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}
func (e *encoder) ints(vs []int) {
	e.uint(uint64(len(vs)))
	for _, v := range vs {
		e.int(int64(v))
	}
}
func (e *encoder) mounts(ms []Mount) {
	e.uint(uint64(len(ms)))
	for _, m := range ms {
		e.str(m.Type)
		e.str(m.Source)
		e.str(m.Target)
		e.bool(m.Readonly)
		e.int(m.Size)
	}
}

// decoder reads what encoder wrote; the first error sticks, and every
// read after it returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = fmt.Errorf("config: malformed")
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// intn is an int that must fit in 32 bits (an id, a count, an fd).
func (d *decoder) intn() int {
	v := d.int()
	if v < -1<<31 || v >= 1<<31 {
		d.fail()
		return 0
	}
	return int(v)
}

// len is a length, which cannot exceed the bytes left (each element
// takes one at least).
func (d *decoder) len() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.len()
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) strs() []string { return list(d, d.str) }

func (d *decoder) ints() []int { return list(d, d.intn) }

func (d *decoder) mounts() []Mount {
	return list(d, func() Mount {
		return Mount{Type: d.str(), Source: d.str(), Target: d.str(), Readonly: d.bool(), Size: d.int()}
	})
}

// list reads a length, then that many values with one; an empty list is
// nil, as Encode's input had it.
func list[T any](d *decoder, one func() T) []T {
	n := d.len()
	if n == 0 {
		return nil
	}
	vs := make([]T, 0, n)
	for range n {
		vs = append(vs, one())
	}
	return vs
}
