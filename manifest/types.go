// Package manifest reads jailer manifests: YAML files that say what a jail
// contains. Load runs four steps, each in its own file: it parses strictly,
// keeping the position of every item (decode.go; unknown fields are
// errors) and merges includes (load.go); SetDefaults fills what the
// manifest left out (defaults.go); Normalize rewrites it into the form the
// planner reads, cleaning jail paths, making host paths absolute, finding
// binaries in PATH and packages in dpkg's database (normalize.go); and
// Validate checks the result and reports every problem, changing nothing
// (validate.go). Every problem is reported as FILE:LINE:COL. It reads
// manifests and looks at the host (PATH, source files, dpkg's list of
// installed packages) but never touches a jail tree.
//
// The types below carry struct tags that the decoder, the merging of
// includes and the JSON Schema generator all read: yaml names the key a
// field is written under (`yaml:"key,omitempty"`; "-" for what jailer
// fills in), shorthand:"true" marks the field an item written as one
// scalar fills (`- bash` for `- {src: bash}`), and merge:"replace" a list
// that a later manifest replaces rather than appends to.
package manifest

import (
	"fmt"
	"os"
)

// Version is the only manifest format version this jailer understands.
const Version = 1

// Pos is where an item was written: file, line and column (1-based).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String is FILE:LINE:COL, or the file alone when the line is unknown.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Mode is a permission mode written in octal ("0644", "1777").
type Mode struct {
	// Perm is the parsed mode, including setuid, setgid and sticky bits.
	Perm os.FileMode
	// Set says whether the manifest gave a mode at all.
	Set bool
}

// Manifest is one jail description after includes are merged.
type Manifest struct {
	// Version is the manifest format version; must be 1.
	Version int `yaml:"version,omitempty"`
	// Name of the jail; default: the manifest file name without extension.
	Name string `yaml:"name,omitempty"`
	// Output is the jail directory, relative to the manifest; default ./jail.
	Output string `yaml:"output,omitempty"`
	// Layout is flat (bin, lib, lib64) or preserve (host paths kept).
	Layout string `yaml:"layout,omitempty"`
	// Link is how builds put host files into the jail when neither --link nor JAILER_LINK says: copy (the default), hardlink (to the host's files) or store (hardlinks into a content store shared by jails).
	Link string `yaml:"link,omitempty"`
	// Include lists manifests merged before this one; later values win, lists append.
	Include []Include `yaml:"include,omitempty"`
	// Binaries are programs to install, with every library they need.
	Binaries []Binary `yaml:"binaries,omitempty"`
	// Packages are installed Debian packages whose files are all copied.
	Packages []Package `yaml:"packages,omitempty"`
	// Profiles are named runtime additions such as hosts.
	Profiles []Profile `yaml:"profiles,omitempty"`
	// Files are host files or directories to copy, or inline content.
	Files []File `yaml:"files,omitempty"`
	// Dirs are directories to create.
	Dirs []Dir `yaml:"dirs,omitempty"`
	// Symlinks are symbolic links to create.
	Symlinks []Symlink `yaml:"symlinks,omitempty"`
	// Devices are device nodes to create under /dev.
	Devices []Device `yaml:"devices,omitempty"`
	// Users are written to /etc/passwd (root is always present).
	Users []User `yaml:"users,omitempty"`
	// Groups are written to /etc/group (root is always present).
	Groups []Group `yaml:"groups,omitempty"`
	// Enter holds the defaults for `jailer enter`.
	Enter Enter `yaml:"enter,omitempty"`

	// Fields maps each top-level key written to its position.
	Fields map[string]Pos `yaml:"-"`

	// Path is the absolute path of the top manifest file.
	Path string `yaml:"-"`
	// Files lists every manifest file read, the top one first.
	Sources []string `yaml:"-"`
	// Pos is where the manifest starts.
	Pos Pos `yaml:"-"`
}

// Include names another manifest to merge first.
type Include struct {
	// Path of the included manifest, relative to the including one.
	Path string `yaml:"path,omitempty" shorthand:"true"`
	Pos  Pos    `yaml:"-"`
}

// Binary is a program to install. Written as a name, a path, or a mapping.
type Binary struct {
	// Src is a program name looked up in PATH, or a path (relative to the manifest).
	Src string `yaml:"src,omitempty" shorthand:"true"`
	// Dest is the jail path; default /bin/NAME (flat) or the host path (preserve).
	Dest string `yaml:"dest,omitempty"`
	// AllowSetuid keeps setuid and setgid bits, which are stripped otherwise.
	AllowSetuid bool `yaml:"allow_setuid,omitempty"`

	// Host is the absolute host path Src resolved to (set by Normalize; empty when Src is not in PATH).
	Host string `yaml:"-"`
	Pos  Pos    `yaml:"-"`
}

// Package is an installed Debian package whose files are copied at their
// host paths. Written as a name or a mapping.
type Package struct {
	// Name of the installed package, optionally with its architecture (libpython3.11-stdlib:amd64).
	Name string `yaml:"name,omitempty" shorthand:"true"`
	// Depends also copies the packages it needs, as dpkg records them (pre-dependencies and dependencies, recursively).
	Depends bool `yaml:"depends,omitempty"`
	// Docs keeps documentation, manual pages and translations, which are left out otherwise.
	Docs bool `yaml:"docs,omitempty"`

	// List is the path of the package's dpkg file list (set by Normalize; empty when it is not installed).
	List string `yaml:"-"`
	Pos  Pos    `yaml:"-"`
}

// Profile is a named runtime addition.
type Profile struct {
	// Name of the profile.
	Name string `yaml:"name,omitempty" shorthand:"true"`
	Pos  Pos    `yaml:"-"`
}

// File is a host file or directory to copy, or inline content.
type File struct {
	// Src is the host path (relative to the manifest); a directory is copied recursively.
	Src string `yaml:"src,omitempty" shorthand:"true"`
	// Dest is the jail path; default: the same path as Src.
	Dest string `yaml:"dest,omitempty"`
	// Content is written to Dest instead of copying a file.
	Content *string `yaml:"content,omitempty"`
	// Mode is the octal permission mode; default: the source's, or 0644 for content.
	Mode Mode `yaml:"mode,omitempty"`
	// AllowSetuid keeps setuid and setgid bits, which are stripped otherwise.
	AllowSetuid bool `yaml:"allow_setuid,omitempty"`
	// Exclude lists glob patterns (** matches any depth) of paths in a copied directory, relative to it, that are left out.
	Exclude []string `yaml:"exclude,omitempty"`

	// Host is the absolute host path of Src (set by Normalize).
	Host string `yaml:"-"`
	Pos  Pos    `yaml:"-"`
}

// Dir is a directory to create.
type Dir struct {
	// Path is the jail path of the directory.
	Path string `yaml:"path,omitempty" shorthand:"true"`
	// Mode is the octal permission mode; default 0755.
	Mode Mode `yaml:"mode,omitempty"`
	// Owner is the owning user, a name from users or a uid, with an optional :group.
	Owner string `yaml:"owner,omitempty"`
	Pos   Pos    `yaml:"-"`
}

// Symlink is a symbolic link to create.
type Symlink struct {
	// Path is the jail path of the link.
	Path string `yaml:"path,omitempty"`
	// Target is what the link points to, resolved inside the jail.
	Target string `yaml:"target,omitempty"`
	Pos    Pos    `yaml:"-"`
}

// Device is a device node created under /dev.
type Device struct {
	// Name is one of null, zero, full, random, urandom, tty.
	Name string `yaml:"name,omitempty" shorthand:"true"`
	Pos  Pos    `yaml:"-"`
}

// User is an account written to /etc/passwd.
type User struct {
	// Name is the login name.
	Name string `yaml:"name,omitempty"`
	// UID is the numeric user id.
	UID *int `yaml:"uid,omitempty"`
	// GID is the primary group id; default: the same as UID.
	GID *int `yaml:"gid,omitempty"`
	// Home is the home directory, created owned by the user; default /home/NAME (/root for uid 0).
	Home string `yaml:"home,omitempty"`
	// Shell is the login shell; default /bin/sh.
	Shell string `yaml:"shell,omitempty"`
	// Gecos is the comment field.
	Gecos string `yaml:"gecos,omitempty"`
	Pos   Pos    `yaml:"-"`
}

// Group is a group written to /etc/group.
type Group struct {
	// Name is the group name.
	Name string `yaml:"name,omitempty"`
	// GID is the numeric group id.
	GID *int `yaml:"gid,omitempty"`
	// Members are user names in the group besides those whose primary group it is.
	Members []string `yaml:"members,omitempty"`
	Pos     Pos      `yaml:"-"`
}

// Enter holds the defaults for entering the jail; command-line flags override them.
type Enter struct {
	// Command runs when no command is given; default /bin/sh.
	Command []string `yaml:"command,omitempty" json:"command,omitempty" merge:"replace"`
	// Namespaces to create: mount, uts, pid, net, ipc (default), also user, cgroup; network and ipc say whether net and ipc are among them.
	Namespaces []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty" merge:"replace"`
	// Network is none (a network namespace of the jail's own, loopback only, up; the default), host (the host's network, shared) or user (a network namespace of the jail's own with outbound NAT through slirp4netns: address 10.0.2.100, gateway 10.0.2.2, which is also the host's loopback, DNS 10.0.2.3).
	Network string `yaml:"network,omitempty" json:"network,omitempty"`
	// Publish forwards host ports into the jail, with network user: [IP:]HOSTPORT:JAILPORT[/tcp|/udp], such as 8080:80; IP defaults to 127.0.0.1.
	Publish []string `yaml:"publish,omitempty" json:"publish,omitempty"`
	// IPC is private (System V shared memory, semaphores and message queues, and POSIX message queues, of the jail's own; the default) or host (the host's, shared).
	IPC string `yaml:"ipc,omitempty" json:"ipc,omitempty"`
	// Hostname inside the jail; default: the jail's name.
	Hostname string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	// User to run as: a name from users, or uid[:gid]; default root.
	User string `yaml:"user,omitempty" json:"user,omitempty"`
	// Workdir is the starting directory; default /.
	Workdir string `yaml:"workdir,omitempty" json:"workdir,omitempty"`
	// Env is the whole environment of the command (the caller's is cleared).
	Env map[string]string `yaml:"env,omitempty" json:"env,omitempty"`
	// Readonly mounts the jail root read-only.
	Readonly *bool `yaml:"readonly,omitempty" json:"readonly,omitempty"`
	// Mounts are tmpfs and bind mounts added inside the jail.
	Mounts []Mount `yaml:"mounts,omitempty" json:"mounts,omitempty"`
	// Limits are resource limits for everything in the jail.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
	// TmpSize is the size of the tmpfs that holds what a run writes into the jail, such as 512M; default 1G. Writes past it fail with "No space left on device"; all of it is discarded when the run ends.
	TmpSize string `yaml:"tmp_size,omitempty" json:"tmp_size,omitempty"`

	// Fields maps each key written (and "key[i]" for list items) to its position.
	Fields map[string]Pos `yaml:"-" json:"-"`
}

// Mount is a tmpfs or bind mount inside the jail.
type Mount struct {
	// Type is tmpfs or bind.
	Type string `yaml:"type,omitempty" json:"type"`
	// Source is the host path of a bind mount, relative to the manifest.
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Target is the jail path mounted over.
	Target string `yaml:"target,omitempty" json:"target"`
	// Size of a tmpfs, such as 64M.
	Size string `yaml:"size,omitempty" json:"size,omitempty"`
	// Readonly makes the mount read-only.
	Readonly bool `yaml:"readonly,omitempty" json:"readonly,omitempty"`
	Pos      Pos  `yaml:"-" json:"-"`
}

// Limits are resource limits for the jail.
type Limits struct {
	// Memory is the most memory the jail may use, such as 512M.
	Memory string `yaml:"memory,omitempty" json:"memory,omitempty"`
	// Pids is the most processes and threads the command may have at once; default 4096 where a pids controller exists, 0 means no limit.
	Pids *int `yaml:"pids,omitempty" json:"pids,omitempty"`
	// CPU is the number of CPUs' worth of time, such as 1.5.
	CPU float64 `yaml:"cpu,omitempty" json:"cpu,omitempty"`
	// Nofile is the most open files per process.
	Nofile int `yaml:"nofile,omitempty" json:"nofile,omitempty"`
	// Timeout kills the jail after this long: seconds, such as 30 or 1.5, or a duration, such as 10m; 0 means none.
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty"`

	// Fields maps each key written to its position.
	Fields map[string]Pos `yaml:"-" json:"-"`
}
