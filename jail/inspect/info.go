package inspect

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/internal/human"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/jailer-dev/jailer/manifest"
)

// Info is what `jailer info` tells about a built jail: where it came from,
// what is in it, whether a build would change it, and how it is entered.
type Info struct {
	// Jail is the absolute path of the jail directory.
	Jail string `json:"jail"`
	// Name is the jail's name from the manifest.
	Name string `json:"name"`
	// Manifest is the absolute path of the manifest it was built from.
	Manifest string `json:"manifest"`
	// ManifestExists says whether that manifest is still there.
	ManifestExists bool `json:"manifest_exists"`
	// Built is when the build finished.
	Built time.Time `json:"built"`
	// Layout is flat or preserve.
	Layout string `json:"layout"`
	// Link is copy, hardlink or store, as the jail was built.
	Link string `json:"link"`
	// Store is the store directory of a jail built with --link store.
	Store string `json:"store,omitempty"`
	// Files, Dirs, Symlinks and Devices count the jail's entries by kind.
	Files    int `json:"files"`
	Dirs     int `json:"dirs"`
	Symlinks int `json:"symlinks"`
	Devices  int `json:"devices"`
	// Bytes is the size of all files.
	Bytes int64 `json:"bytes"`
	// Linked counts the files that are hardlinks to their host source.
	Linked int `json:"linked"`
	// Stored counts the files that are hardlinks of store files.
	Stored int `json:"stored,omitempty"`
	// Rootless is set when the jail was built without root: the builder,
	// who owns every path of the tree (see lockfile.Rootless).
	Rootless *lockfile.Rootless `json:"rootless,omitempty"`
	// Owned counts the paths declared with an owner other than root.
	Owned int `json:"owned,omitempty"`
	// UpToDate says a build would change nothing.
	UpToDate bool `json:"up_to_date"`
	// Stale says why a build would change the jail, when it would: the
	// reason a build would give for rebuilding it.
	Stale lockfile.Reason `json:"stale,omitzero"`
	// Enter is what `jailer enter JAIL` uses when no flag overrides it:
	// the manifest's enter: settings with jailer's defaults filled in.
	Enter manifest.Enter `json:"enter"`
}

// Inspect describes the jail at dir from its lock, and finds out whether a
// build of its manifest would change it: the decision Build makes
// (lockfile.Staleness), with the manifest loaded again for its digest, as
// the lock's link mode would build it. The manifest is loaded, not
// planned: no library is resolved and nothing is read from the jail.
func Inspect(dir string) (*Info, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	lock, err := lockfile.Read(abs)
	if err != nil {
		return nil, err
	}
	in := &Info{
		Jail: abs, Name: lock.Name, Manifest: lock.Manifest, Built: lock.Built,
		Layout: lock.Layout, Link: lock.Link, Store: lock.Store, Enter: infoEnter(lock), Rootless: lock.Rootless,
	}
	for _, e := range lock.Entries {
		if e.UID != 0 || e.GID != 0 {
			in.Owned++
		}
		switch e.Kind {
		case plan.KindFile:
			in.Files++
			in.Bytes += e.Size
			if e.Linked {
				in.Linked++
			}
			if e.Store != "" {
				in.Stored++
			}
		case plan.KindDir:
			in.Dirs++
		case plan.KindSymlink:
			in.Symlinks++
		case plan.KindDevice:
			in.Devices++
		}
	}
	_, err = os.Stat(lock.Manifest)
	in.ManifestExists = err == nil
	want := lockfile.WantManifest(lock.Manifest, lock.Link)
	want.Store = lock.Store
	in.Stale = lockfile.Staleness(lock, abs, want)
	in.UpToDate = !in.Stale.Stale()
	return in, nil
}

// infoEnter fills the lock's enter settings with what `jailer enter`
// assumes for the ones left out (see DefaultEnterOptions).
func infoEnter(lock *lockfile.Lock) manifest.Enter {
	e := lock.Enter
	o, _ := enter.FromLock(lock)
	e.Command, e.Namespaces, e.Hostname = o.Command, o.Namespaces, o.Hostname
	if len(e.Command) == 0 {
		e.Command = []string{manifest.DefaultShell}
	}
	if e.User == "" {
		e.User = "root"
	}
	if e.Workdir == "" {
		e.Workdir = "/"
	}
	ro := o.Readonly
	e.Readonly = &ro
	if e.TmpSize == "" {
		e.TmpSize = manifest.DefaultTmpSize
	}
	if e.Limits.Pids == nil {
		pids := o.Limits.Pids // the default
		e.Limits.Pids = &pids
	}
	e.Fields = nil
	return e
}

// Text writes the information as aligned "key: value" lines.
func (in *Info) Text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	line("jail", in.Jail)
	line("name", in.Name)
	m := in.Manifest
	if !in.ManifestExists {
		m += " (missing)"
	}
	line("manifest", m)
	line("built", in.Built.UTC().Format("2006-01-02 15:04:05 MST"))
	line("layout", in.Layout)
	line("contents", fmt.Sprintf("%d files (%s), %d dirs, %d symlinks, %d devices",
		in.Files, human.Bytes(in.Bytes), in.Dirs, in.Symlinks, in.Devices))
	switch {
	case in.Link == lockfile.LinkHardlink:
		line("files", fmt.Sprintf("hardlinked: %d of %d files share their inode with the host (runs get a fresh root; --persist is refused)", in.Linked, in.Files))
	case in.Link == lockfile.LinkStore:
		line("files", fmt.Sprintf("stored: %d of %d files are links of files in the store %s (runs get a fresh root; --persist is refused)", in.Stored, in.Files, in.Store))
	default:
		line("files", "copied")
	}
	if r := in.Rootless; r != nil {
		line("built by", fmt.Sprintf("%d:%d, without root: the declared owners of %s and %s are recorded in the lock, not made (export writes them; enter gives the jail its own /dev)",
			r.UID, r.GID, count(in.Owned, "path"), count(in.Devices, "device")))
	}
	if in.UpToDate {
		line("status", "up to date")
	} else {
		line("status", "stale: "+in.Stale.String()+staleHint(in))
	}
	e := in.Enter
	line("enter", infoQuoteArgs(e.Command))
	line("  user", e.User)
	line("  workdir", e.Workdir)
	line("  hostname", e.Hostname)
	line("  namespaces", strings.Join(e.Namespaces, ", "))
	network := e.Network
	if network == "" {
		network = "none"
	}
	line("  network", network)
	if len(e.Publish) > 0 {
		line("  publish", strings.Join(e.Publish, ", "))
	}
	if e.Readonly != nil && *e.Readonly {
		line("  readonly", "yes")
	}
	line("  writes", "to a fresh root per run, at most "+e.TmpSize+", discarded after it")
	if len(e.Env) > 0 {
		keys := make([]string, 0, len(e.Env))
		for k := range e.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var env []string
		for _, k := range keys {
			env = append(env, infoQuote(k+"="+e.Env[k]))
		}
		line("  env", strings.Join(env, " "))
	}
	for _, mt := range e.Mounts {
		s := mt.Type + " " + mt.Target
		if mt.Source != "" {
			s += " < " + mt.Source
		}
		if mt.Size != "" {
			s += " (" + mt.Size + ")"
		}
		if mt.Readonly {
			s += " read-only"
		}
		line("  mount", s)
	}
	if l := infoLimits(e.Limits); l != "" {
		line("  limits", l)
	}
	return tw.Flush()
}

// staleHint says what to do about a stale jail, after its reason.
func staleHint(in *Info) string {
	switch {
	case !in.ManifestExists:
		return ""
	case in.Stale.Kind == lockfile.NotThisTree:
		return " (jailer build --force replaces it)"
	case in.Stale.Kind == lockfile.ManifestBroken:
		return " (fix it, then jailer build)"
	}
	return " (jailer build brings it up to date)"
}

func infoLimits(l manifest.Limits) string {
	var s []string
	add := func(k, v string) {
		if v != "" && v != "0" {
			s = append(s, k+" "+v)
		}
	}
	add("memory", l.Memory)
	switch {
	case l.Pids != nil && *l.Pids == 0:
		s = append(s, "pids unlimited")
	case l.Pids != nil:
		add("pids", strconv.Itoa(*l.Pids))
	}
	add("cpu", strconv.FormatFloat(l.CPU, 'g', -1, 64))
	add("nofile", strconv.Itoa(l.Nofile))
	add("timeout", l.Timeout)
	return strings.Join(s, ", ")
}

// infoQuoteArgs writes a command as a shell would read it back.
func infoQuoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = infoQuote(a)
	}
	return strings.Join(q, " ")
}

func infoQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=:,+@%", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// count says how many of a thing: "1 path", "2 paths".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
