package lockfile

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// A path on Linux is any bytes but NUL and a JSON string only UTF-8: a
// file named in Latin-1 ("caf\xe9") would come back from the lock as
// "caf\uFFFD", a name that is not in the jail or on the host, and the jail
// would be stale to every build and broken to every check. The lock holds
// such a path as rawPrefix and the path's bytes in base64: a path cannot
// hold NUL, so no real one starts so. Others are as they are.
const rawPrefix = "\x00base64:"

// encodePath is p as the lock's JSON holds it.
func encodePath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	return rawPrefix + base64.StdEncoding.EncodeToString([]byte(p))
}

// decodePath is the path the lock's JSON holds as s.
func decodePath(s string) string {
	rest, ok := strings.CutPrefix(s, rawPrefix)
	if !ok {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return s
	}
	return string(b)
}

// lockJSON is Lock without its JSON methods.
type lockJSON Lock

// MarshalJSON writes the lock with its paths as encodePath holds them;
// a lock whose paths are all UTF-8 is written as it always was.
func (l Lock) MarshalJSON() ([]byte, error) {
	j := lockJSON(l)
	if !l.pathsValid() {
		j.Manifest = encodePath(j.Manifest)
		j.Inputs = slices.Clone(j.Inputs)
		for i := range j.Inputs {
			j.Inputs[i].Path = encodePath(j.Inputs[i].Path)
		}
		j.Entries = slices.Clone(j.Entries)
		for i := range j.Entries {
			e := &j.Entries[i]
			e.Dest, e.Source, e.Target = encodePath(e.Dest), encodePath(e.Source), encodePath(e.Target)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a lock, its paths back to their bytes.
func (l *Lock) UnmarshalJSON(data []byte) error {
	var j lockJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*l = Lock(j)
	l.decodePaths()
	return nil
}

// pathsValid says whether every path of l is UTF-8.
func (l *Lock) pathsValid() bool {
	if !utf8.ValidString(l.Manifest) {
		return false
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
	l.Manifest = decodePath(l.Manifest)
	for i := range l.Inputs {
		l.Inputs[i].Path = decodePath(l.Inputs[i].Path)
	}
	for i := range l.Entries {
		e := &l.Entries[i]
		e.Dest, e.Source, e.Target = decodePath(e.Dest), decodePath(e.Source), decodePath(e.Target)
	}
}
