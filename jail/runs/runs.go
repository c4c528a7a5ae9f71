//go:build linux

// Package runs is the register of running jails: each `jailer enter`,
// `run` and `trace` writes a record of its jail (Record) into the
// caller's runtime directory while the jail runs, and `jailer ps`,
// `exec` and `stop` find jails there.
//
// Where records live (Dir): /run/jailer for root; for other users
// $XDG_RUNTIME_DIR/jailer, or /tmp/jailer-UID when XDG_RUNTIME_DIR is
// unset. The directory is the user's own, mode 0700: nobody else reads
// the records or reaches the exec sockets beside them (ID.sock, which
// the jail's init listens on; package enter). A directory that is not
// the user's, or open to others, is refused, never used. Root reads
// every user's directories too; a user reads only their own.
//
// A record is written whole (a temporary file renamed into place) and
// removed when the jail ends. One whose init is gone (jailer was killed)
// is stale: it is not listed, and List removes it from the caller's own
// directories. An init is recognised by its pid and its start time in
// /proc/PID/stat, so a pid reused by another process is not mistaken for
// it, and by its owner: a record in a user's directory names a process
// of that user's, or none.
package runs

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jailer-dev/jailer/jail/internal/human"
)

// Record describes a running jail.
type Record struct {
	// ID names the run: 8 hex digits, unique among the owner's runs.
	ID string `json:"id"`
	// Tree is the jail's directory, absolute, symlinks resolved.
	Tree string `json:"tree"`
	// Manifest is the manifest the jail was built from by run or trace.
	Manifest string `json:"manifest,omitempty"`
	// Command is what the jail runs, as given (or the manifest's).
	Command []string `json:"command"`
	// User is the command's user in the jail, as asked ("" is root).
	User string `json:"user,omitempty"`
	// PID is the host pid of the jail's init; PIDStart its start time
	// (field 22 of /proc/PID/stat), which a reused pid does not share.
	PID      int    `json:"pid"`
	PIDStart uint64 `json:"pid_start"`
	// Started is when the jail started.
	Started time.Time `json:"started"`
	// Limits are the jail's cgroup limits (0: none).
	Limits Limits `json:"limits"`
	// Owner is the uid of the user who started the jail; it is the owner
	// of the directory the record was found in, not what the file says.
	Owner int `json:"owner_uid"`
	// Net is the jail's network: none (its own, loopback only), user
	// (its own, with slirp4netns's NAT) or host.
	Net string `json:"net"`
	// Rootless says the jail runs in a user namespace of its owner's.
	Rootless bool `json:"rootless"`
	// Exec says the jail's init takes commands from jailer exec (not with
	// --no-namespaces).
	Exec bool `json:"exec"`
	// Socket is where the init listens for jailer exec.
	Socket string `json:"socket,omitempty"`

	dir string // the runtime directory the record is in
}

// Limits are a running jail's limits, in numbers.
type Limits struct {
	Memory  int64   `json:"memory_bytes,omitempty"`
	Pids    int     `json:"pids,omitempty"`
	CPUs    float64 `json:"cpus,omitempty"`
	Timeout string  `json:"timeout,omitempty"`
}

// String says the limits in a few words, "-" for none.
func (l Limits) String() string {
	var out []string
	if l.Memory > 0 {
		out = append(out, "memory "+human.Bytes(l.Memory))
	}
	if l.Pids > 0 {
		out = append(out, fmt.Sprintf("pids %d", l.Pids))
	}
	if l.CPUs > 0 {
		out = append(out, fmt.Sprintf("cpus %g", l.CPUs))
	}
	if l.Timeout != "" {
		out = append(out, "timeout "+l.Timeout)
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

// ErrNotFound says that no running jail of the caller's answers to a name.
var ErrNotFound = errors.New("no running jail")

// Dir returns the caller's runtime directory, made when missing.
func Dir() (string, error) {
	dir := DirPath()
	if err := ensureDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// DirPath is the caller's runtime directory, whether it exists or not.
func DirPath() string { return dirFor(os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR")) }

// OwnDirs are every runtime directory where the caller's records may be
// (those readDirs reads for a user: the one of XDG_RUNTIME_DIR, of
// /run/user/UID, of /tmp), each made now where its parent exists: a jail
// started meanwhile with another XDG_RUNTIME_DIR puts its socket in one of
// them, and a bind mount made now that holds one must show it, for the
// init to cover it.
func OwnDirs() []string {
	uid := os.Geteuid()
	cands := []string{DirPath()}
	if uid != 0 {
		cands = append(cands, dirFor(uid, fmt.Sprintf("/run/user/%d", uid)), dirFor(uid, ""))
	}
	var out []string
	for _, d := range cands {
		if slices.Contains(out, d) {
			continue
		}
		if _, err := os.Stat(filepath.Dir(d)); err == nil {
			ensureDir(d) // one another user made is refused, and covered all the same
		}
		out = append(out, d)
	}
	return out
}

// dirFor is where user uid keeps its records.
func dirFor(uid int, xdg string) string {
	switch {
	case uid == 0:
		return "/run/jailer"
	case xdg != "" && filepath.IsAbs(xdg):
		return filepath.Join(xdg, "jailer")
	}
	return fmt.Sprintf("/tmp/jailer-%d", uid)
}

// ensureDir makes dir, mode 0700, or checks that it is the caller's
// own directory and open to nobody else (in /tmp anyone could have made
// it first, to read the records or answer on the sockets).
func ensureDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	return checkDir(dir, os.Geteuid())
}

// checkDir says whether dir is a directory of uid's, not a symlink, and
// that nobody else may enter or write.
func checkDir(dir string, uid int) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != uid || st.Mode&0o077 != 0 {
		return fmt.Errorf("runtime directory %s is not a directory of uid %d's that only it may use (mode 0700): refusing to use it (remove it, or set XDG_RUNTIME_DIR)", dir, uid)
	}
	return nil
}

// readDirs are the directories the caller reads records from, with the
// uid each belongs to: root's own and every user's; a user's own.
func readDirs() map[string]int {
	uid := os.Geteuid()
	dirs := map[string]int{}
	add := func(dir string, owner int) {
		if checkDir(dir, owner) == nil {
			dirs[dir] = owner
		}
	}
	if uid != 0 {
		add(dirFor(uid, os.Getenv("XDG_RUNTIME_DIR")), uid)
		add(dirFor(uid, fmt.Sprintf("/run/user/%d", uid)), uid)
		add(dirFor(uid, ""), uid)
		return dirs
	}
	add(dirFor(0, ""), 0)
	for _, pattern := range []string{"/run/user/*/jailer", "/tmp/jailer-[0-9]*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			s := strings.TrimPrefix(m, "/tmp/jailer-")
			if s == m {
				s = filepath.Base(filepath.Dir(m))
			}
			if owner, err := strconv.Atoi(s); err == nil && owner > 0 {
				add(m, owner)
			}
		}
	}
	return dirs
}

// NewID returns an id no record in dir has.
func NewID(dir string) (string, error) {
	for range 16 {
		b := make([]byte, 4)
		rand.Read(b)
		id := hex.EncodeToString(b)
		if _, err := os.Lstat(filepath.Join(dir, id+".json")); errors.Is(err, fs.ErrNotExist) {
			return id, nil
		}
	}
	return "", fmt.Errorf("runtime directory %s: no free id", dir)
}

// SocketPath is where the init of run id in dir listens for jailer exec.
func SocketPath(dir, id string) string { return filepath.Join(dir, id+".sock") }

// Write puts r into dir whole: a temporary file, renamed into place.
func Write(dir string, r *Record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".record-")
	if err != nil {
		return fmt.Errorf("record the jail: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, r.ID+".json"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("record the jail: %w", err)
	}
	return nil
}

// Remove deletes the record of run id from dir, and its socket.
func Remove(dir, id string) {
	os.Remove(filepath.Join(dir, id+".json"))
	os.Remove(SocketPath(dir, id))
}

// List returns the running jails the caller may see, oldest first:
// root's own and every user's for root, a user's own otherwise. Stale
// records in the caller's own directories are removed.
func List() []*Record {
	var out []*Record
	self := os.Geteuid()
	for _, r := range records() {
		switch {
		case r.Alive():
			out = append(out, r)
		case r.Owner == self:
			Remove(r.dir, r.ID)
		}
	}
	return out
}

// records are every record the caller may read, live or not, oldest
// first.
func records() []*Record {
	var out []*Record
	for dir, owner := range readDirs() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || !validID(id) {
				continue
			}
			if r, err := readRecord(dir, id, owner); err == nil {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b *Record) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// validID says whether id is one NewID could have made.
func validID(id string) bool {
	if len(id) != 8 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// readRecord reads the record of id in dir, a directory of owner's; the
// record is owner's claim, so owner, socket and dir are set from where
// it was found, not from what it says.
func readRecord(dir, id string, owner int) (*Record, error) {
	f, err := os.OpenFile(filepath.Join(dir, id+".json"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("record %s: not a file", id)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	r.ID, r.Owner, r.dir, r.Socket = id, owner, dir, SocketPath(dir, id)
	return &r, nil
}

// Alive says whether the record's init still runs: the process at its
// pid started when the record says, has not exited, and belongs to the
// record's owner.
func (r *Record) Alive() bool {
	start, state, err := procStat(r.PID)
	if err != nil || start != r.PIDStart || state == 'Z' || state == 'X' {
		return false
	}
	uid, err := procUID(r.PID)
	return err == nil && uid == r.Owner
}

// Dir is the runtime directory the record was found in.
func (r *Record) Dir() string { return r.dir }

// StartTime returns the start time of process pid, field 22 of
// /proc/PID/stat, which together with the pid names one process.
func StartTime(pid int) (uint64, error) {
	start, _, err := procStat(pid)
	return start, err
}

// procStat reads the start time and state of process pid.
func procStat(pid int) (start uint64, state byte, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name, field 2, is in parentheses and may hold
	// anything: the fields after it start after the last ")".
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64) // field 22
	return start, f[0][0], err
}

// procUID is the real uid of process pid.
func procUID(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no Uid", pid)
}

// Find returns the running jail that name means: the id of one (or a
// unique prefix of ids), or a jail directory or manifest with exactly one
// running jail. Several jails of one directory are an error listing
// their ids; a jail whose init has exited, but whose jailer has not yet
// removed its record, is ErrExited. Another user's jail (root sees them)
// is found by its whole id, or by a tree or manifest of that user's own.
// trees are more jail directories name
// stands for (a manifest's output, found by the caller: this package reads
// no manifests).
func Find(name string, trees ...string) (*Record, error) {
	var live, dead []*Record
	paths := pathsOf(name)
	for _, t := range trees {
		paths = append(paths, pathsOf(t)...)
	}
	me := os.Geteuid()
	for _, r := range records() {
		var match bool
		switch {
		case r.Owner != me:
			// Root sees every user's records, which their users wrote:
			// one that names root's tree, or an id prefix root meant
			// for its own, would take root's exec (its stdio) and stop
			// to a socket and a process of the user's choosing. Another
			// user's jail is named by its whole id, or by a tree (or
			// manifest) that is that user's own.
			match = strings.ToLower(name) == r.ID ||
				len(paths) > 0 && (slices.Contains(paths, r.Tree) && ownedBy(r.Tree, r.Owner) ||
					r.Manifest != "" && slices.Contains(paths, r.Manifest) && ownedBy(r.Manifest, r.Owner))
		case len(paths) > 0:
			match = slices.Contains(paths, r.Tree) || (r.Manifest != "" && slices.Contains(paths, r.Manifest))
		default:
			match = name != "" && strings.HasPrefix(r.ID, strings.ToLower(name))
		}
		switch {
		case !match:
		case r.Alive():
			live = append(live, r)
		default:
			dead = append(dead, r)
		}
	}
	switch {
	case len(live) == 1:
		return live[0], nil
	case len(live) > 1:
		ids := make([]string, len(live))
		for i, r := range live {
			ids[i] = r.ID
		}
		return nil, fmt.Errorf("%d running jails match %s: %s (name one by its id)", len(live), name, strings.Join(ids, ", "))
	case len(dead) > 0:
		return nil, &ExitedError{Record: dead[len(dead)-1]}
	case len(paths) > 0:
		return nil, fmt.Errorf("%w of yours in %s (jailer ps lists the running jails)", ErrNotFound, name)
	}
	return nil, fmt.Errorf("%w of yours has id %s (it has ended, or is not yours; jailer ps lists yours)", ErrNotFound, name)
}

// ExitedError says that a jail's command has exited: the jail is ending.
type ExitedError struct{ Record *Record }

// Error names the jail and its command.
func (e *ExitedError) Error() string {
	return fmt.Sprintf("jail %s: its command (%s) has exited, and the jail with it", e.Record.ID, strings.Join(e.Record.Command, " "))
}

// ownedBy says whether the file at p belongs to uid.
func ownedBy(p string, uid int) bool {
	var st unix.Stat_t
	return unix.Stat(p, &st) == nil && int(st.Uid) == uid
}

// pathsOf is name as the paths a record may hold, when it names an
// existing file or directory: absolute, and with symlinks resolved.
func pathsOf(name string) []string {
	if _, err := os.Stat(name); err != nil {
		return nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil
	}
	out := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		out = append(out, real)
	}
	return out
}
