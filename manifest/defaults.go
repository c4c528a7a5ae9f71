package manifest

import (
	"path/filepath"
	"slices"
	"strings"
)

// Defaults that a manifest may leave out.
const (
	DefaultLayout = "flat"
	DefaultOutput = "./jail"
	DefaultShell  = "/bin/sh"
	// DefaultPATH is the PATH of a jail whose manifest sets none.
	DefaultPATH = "/bin:/usr/bin:/sbin:/usr/sbin"
	// DefaultTmpSize bounds what one run may write into its jail (the
	// per-run tmpfs under the overlay): enough for a test suite's
	// scratch files, not enough to fill a host's memory unnoticed.
	DefaultTmpSize = "1G"
)

// DefaultNamespaces are the namespaces `jailer enter` creates unless told
// otherwise: the jail is isolated by default, with a network (loopback
// only) and System V IPC of its own; enter.network and enter.ipc opt out.
var DefaultNamespaces = []string{"mount", "uts", "pid", "net", "ipc"}

// Defaults of enter.network, enter.ipc and enter.limits.pids.
const (
	DefaultNetwork = NetworkNone
	DefaultIPC     = IPCPrivate
	// DefaultPids is the most processes and threads a command may have at
	// once unless told otherwise, where the host has a pids controller: a
	// fork bomb stops there instead of taking the host's pid space.
	DefaultPids = 4096
)

// Values of enter.network and enter.ipc.
const (
	NetworkNone = "none" // a network namespace of the jail's own, loopback only
	NetworkHost = "host" // the host's network namespace
	// NetworkUser is a network namespace of the jail's own with a
	// user-mode network: outbound NAT through slirp4netns, the host's
	// loopback reachable at the gateway, ports published with publish.
	NetworkUser = "user"
	IPCPrivate  = "private"
	IPCHost     = "host"
)

// CreatedNamespaces are the namespaces an enter with these settings
// creates: Namespaces (DefaultNamespaces when empty) with net and ipc
// added or left out as Network and IPC say ("" is the default: a
// namespace of the jail's own). Network and IPC decide, so that the lock
// of a jail built before they existed, which records mount, uts and pid,
// is entered isolated too.
func (e *Enter) CreatedNamespaces() []string {
	ns := e.Namespaces
	if len(ns) == 0 {
		ns = DefaultNamespaces
	}
	out := make([]string, 0, len(ns)+2)
	for _, n := range ns {
		if n != "net" && n != "ipc" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if e.Network != NetworkHost {
		out = append(out, "net")
	}
	if e.IPC != IPCHost {
		out = append(out, "ipc")
	}
	return out
}

// SetDefaults fills what the manifest left out. Defaults live here and
// only here, so Validate sees exactly what will be used and a manifest's own
// text stays distinguishable from what jailer assumed.
func SetDefaults(m *Manifest) {
	if m.Name == "" {
		base := filepath.Base(m.Path)
		m.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if m.Output == "" {
		m.Output = DefaultOutput
	}
	if m.Layout == "" {
		m.Layout = DefaultLayout
	}
	for i := range m.Users {
		u := &m.Users[i]
		if u.GID == nil && u.UID != nil {
			gid := *u.UID
			u.GID = &gid
		}
		if u.Home == "" {
			u.Home = "/home/" + u.Name
			if u.UID != nil && *u.UID == 0 {
				u.Home = "/root"
			}
		}
		if u.Shell == "" {
			u.Shell = DefaultShell
		}
	}
	if m.Enter.Network == "" {
		m.Enter.Network = DefaultNetwork
	}
	if m.Enter.IPC == "" {
		m.Enter.IPC = DefaultIPC
	}
	if len(m.Enter.Namespaces) == 0 {
		m.Enter.Namespaces = m.Enter.CreatedNamespaces()
	}
	if m.Enter.Hostname == "" {
		m.Enter.Hostname = m.Name
	}
	if m.Enter.TmpSize == "" {
		m.Enter.TmpSize = DefaultTmpSize
	}
}
