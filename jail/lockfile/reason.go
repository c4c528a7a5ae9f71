package lockfile

import "fmt"

// Kind is the cause of a Reason. The kinds are listed in the order
// Staleness looks for them (SourceGone to TreeChanged entry by entry): the
// first that applies is the one reported.
type Kind uint8

// The kinds of Reason.
const (
	// UpToDate: a build would change nothing.
	UpToDate Kind = iota
	// Forced: the build was told to rebuild (--force).
	Forced
	// NoJail: there is no jail at Path (no tree, or no lock).
	NoJail
	// NotThisTree: the directory at Path is not the tree its lock was
	// written for (it was replaced since).
	NotThisTree
	// OldFormat: the lock was written by an older jailer (format in Detail).
	OldFormat
	// OtherManifest: the jail was built from the manifest at Path, not the
	// one being built.
	OtherManifest
	// OtherLink: the jail was built with the link mode in Detail.
	OtherLink
	// OtherStore: the jail was built with --link store into the store at
	// Path, not the one asked for.
	OtherStore
	// BuiltRootless: the jail was built without root (its owners and
	// devices recorded, not made), and the build asked for is root's,
	// which makes them.
	BuiltRootless
	// ManifestGone: the manifest at Path that the jail was built from is gone.
	ManifestGone
	// InputGone: a file the build read (an included manifest,
	// /etc/ld.so.cache, dpkg's status or a package's list) is gone.
	InputGone
	// InputChanged: a file the build read changed (Path).
	InputChanged
	// SourceGone: the host file at Path, copied to Entry, is gone.
	SourceGone
	// SourceChanged: the host file at Path, copied to Entry, changed.
	SourceChanged
	// EntryMissing: the jail path Entry is missing from the tree.
	EntryMissing
	// TreeChanged: the jail path Entry changed in the tree (how in Detail,
	// when it is known).
	TreeChanged
	// ManifestBroken: the manifest at Path no longer loads (why in Detail).
	ManifestBroken
	// PlanChanged: the manifest, read again, gives another plan though no
	// file the build read changed: a program it names is found elsewhere
	// in PATH now.
	PlanChanged
)

var kindNames = [...]string{
	UpToDate: "up-to-date", Forced: "forced", NoJail: "no-jail", NotThisTree: "not-this-tree",
	OldFormat: "old-format", OtherManifest: "other-manifest", OtherLink: "other-link", OtherStore: "other-store", BuiltRootless: "built-rootless",
	ManifestGone: "manifest-gone", InputGone: "input-gone", InputChanged: "input-changed",
	SourceGone: "source-gone", SourceChanged: "source-changed", EntryMissing: "entry-missing",
	TreeChanged: "tree-changed", ManifestBroken: "manifest-broken", PlanChanged: "plan-changed",
}

// String names the kind, for tests and logs: "source-changed".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Reason says whether a jail is stale, and why: the first cause found, with
// the file it is about. Build, info, check and `jailer -v build` all print
// it with String, so that they say the same thing for the same cause.
type Reason struct {
	// Kind is the cause; the zero Reason is UpToDate.
	Kind Kind
	// Path is the host file or directory the reason is about: the jail
	// directory, a manifest, an input or a host source.
	Path string
	// Entry is the jail path the reason is about (source and tree kinds).
	Entry string
	// Detail adds what only some kinds know (see each kind).
	Detail string
}

// Stale reports whether the reason calls for a build.
func (r Reason) Stale() bool { return r.Kind != UpToDate }

// String is the one message for the reason, as build -v, info and check
// print it: "host file /srv/data.txt changed".
func (r Reason) String() string {
	switch r.Kind {
	case EntryMissing, TreeChanged:
		return r.Entry + " " + r.AtEntry()
	}
	return r.AtEntry()
}

// AtEntry is String without the jail path that starts the message of an
// entry's reason (EntryMissing, TreeChanged), for lists that print that
// path first, as `jailer check` does: "/etc/motd: changed in the jail".
// For the other kinds it is String.
func (r Reason) AtEntry() string {
	detail := ""
	if r.Detail != "" {
		detail = ": " + r.Detail
	}
	switch r.Kind {
	case UpToDate:
		return "up to date"
	case Forced:
		return "--force"
	case NoJail:
		return fmt.Sprintf("there is no jail at %s", r.Path)
	case NotThisTree:
		return fmt.Sprintf("%s is not the directory its lock was written for", r.Path)
	case OldFormat:
		return fmt.Sprintf("its lock was written by an older jailer (format %s, this one writes %d)", r.Detail, plainFormat)
	case OtherManifest:
		return fmt.Sprintf("it was built from another manifest, %s", r.Path)
	case OtherLink:
		return fmt.Sprintf("it was built with --link %s", r.Detail)
	case OtherStore:
		return fmt.Sprintf("it was built with the store %s", r.Path)
	case BuiltRootless:
		return "it was built without root: its owners and devices are recorded, not made"
	case ManifestGone:
		return fmt.Sprintf("its manifest %s is gone", r.Path)
	case InputGone:
		return fmt.Sprintf("%s is gone", r.Path)
	case InputChanged:
		return fmt.Sprintf("%s changed", r.Path)
	case ManifestBroken:
		if r.Detail != "" { // the load error names the file, line and column
			return "its manifest no longer loads: " + r.Detail
		}
		return fmt.Sprintf("its manifest %s no longer loads", r.Path)
	case PlanChanged:
		return "a program the manifest names is found elsewhere in PATH now"
	case SourceGone:
		return fmt.Sprintf("host file %s is gone", r.Path)
	case SourceChanged:
		return fmt.Sprintf("host file %s changed%s", r.Path, detail)
	case EntryMissing:
		return "is missing from the jail" + detail
	case TreeChanged:
		return "changed in the jail" + detail
	}
	return fmt.Sprintf("stale (reason %d)", r.Kind)
}

// MarshalText makes a Reason its message in JSON (build's "reason", info's
// "stale"), as it was before reasons were typed.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }
