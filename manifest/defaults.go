package manifest

import (
	"path/filepath"
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

// DefaultNamespaces are the namespaces `jailer enter` creates unless told otherwise.
var DefaultNamespaces = []string{"mount", "uts", "pid"}

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
	if len(m.Enter.Namespaces) == 0 {
		m.Enter.Namespaces = append([]string(nil), DefaultNamespaces...)
	}
	if m.Enter.Hostname == "" {
		m.Enter.Hostname = m.Name
	}
	if m.Enter.TmpSize == "" {
		m.Enter.TmpSize = DefaultTmpSize
	}
}
