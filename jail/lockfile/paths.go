package lockfile

import (
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/jailer-dev/jailer/jail/internal/jsonpath"
)

// A lock holds its paths as jsonpath does (a path that is not UTF-8 as
// NUL, "base64:" and its bytes): a lock that holds one is of format 5,
// which a jailer that reads only up to 4 refuses rather than take the
// encoded paths for names; any other is written as format 4, which every
// jailer since reads alike.

// encodePath and decodePath are jsonpath's, for short.
var encodePath, decodePath = jsonpath.Encode, jsonpath.Decode

// plainFormat is the format of a lock whose paths are all UTF-8.
const plainFormat = 4

// lockJSON is Lock without its JSON method.
type lockJSON Lock

// MarshalJSON writes the lock with its paths as encodePath holds them,
// as format 5; a lock whose paths are all UTF-8 is written as format 4
// was, byte for byte.
func (l Lock) MarshalJSON() ([]byte, error) {
	j := lockJSON(l)
	if l.pathsValid() {
		if j.Format == Format {
			j.Format = plainFormat
		}
		return json.Marshal(j)
	}
	j.Manifest, j.Store = encodePath(j.Manifest), encodePath(j.Store)
	j.Enter.Mounts = slices.Clone(j.Enter.Mounts)
	for i := range j.Enter.Mounts {
		j.Enter.Mounts[i].Source = encodePath(j.Enter.Mounts[i].Source)
	}
	j.Inputs = slices.Clone(j.Inputs)
	for i := range j.Inputs {
		j.Inputs[i].Path = encodePath(j.Inputs[i].Path)
	}
	j.Entries = slices.Clone(j.Entries)
	for i := range j.Entries {
		e := &j.Entries[i]
		e.Dest, e.Source, e.Target = encodePath(e.Dest), encodePath(e.Source), encodePath(e.Target)
	}
	return json.Marshal(j)
}

// Unmarshal reads the lock whose JSON is data, its paths back to their
// bytes. (A method UnmarshalJSON would make encoding/json scan the whole
// lock twice.)
func Unmarshal(data []byte) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	l.decodePaths()
	return &l, nil
}

// pathsValid says whether every path of l is UTF-8.
func (l *Lock) pathsValid() bool {
	if !utf8.ValidString(l.Manifest) || !utf8.ValidString(l.Store) {
		return false
	}
	for _, m := range l.Enter.Mounts {
		if !utf8.ValidString(m.Source) {
			return false
		}
	}
	for _, in := range l.Inputs {
		if !utf8.ValidString(in.Path) {
			return false
		}
	}
	for i := range l.Entries {
		e := &l.Entries[i]
		if !utf8.ValidString(e.Dest) || !utf8.ValidString(e.Source) || !utf8.ValidString(e.Target) {
			return false
		}
	}
	return true
}

// decodePaths turns the paths encodePath wrote back into their bytes.
func (l *Lock) decodePaths() {
	l.Manifest, l.Store = decodePath(l.Manifest), decodePath(l.Store)
	for i := range l.Enter.Mounts {
		l.Enter.Mounts[i].Source = decodePath(l.Enter.Mounts[i].Source)
	}
	for i := range l.Inputs {
		l.Inputs[i].Path = decodePath(l.Inputs[i].Path)
	}
	for i := range l.Entries {
		e := &l.Entries[i]
		e.Dest, e.Source, e.Target = decodePath(e.Dest), decodePath(e.Source), decodePath(e.Target)
	}
}
