package manifest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// maxManifestSize bounds a manifest file; larger is surely a mistake.
const maxManifestSize = 4 << 20

// Load reads the manifest at path with its includes, then fills defaults
// (SetDefaults), normalises (Normalize) and validates it against the host
// (Validate). A returned error lists every problem found, one per line,
// each as FILE:LINE:COL: message.
func Load(path string) (*Manifest, error) {
	m, perr := parse(path)
	if m == nil {
		return nil, perr
	}
	SetDefaults(m)
	Normalize(m)
	verr := Validate(m)
	if perr == nil && verr == nil {
		return m, nil
	}
	return nil, joinSorted(perr, verr)
}

// Parse reads the manifest at path and merges its includes, without
// defaults or validation beyond the syntax and types.
func Parse(path string) (*Manifest, error) {
	m, err := parse(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// parse is Parse that also returns what could be decoded when some fields
// could not, so that Load reports their errors and the validation's at once.
func parse(path string) (*Manifest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	l := &loader{done: map[string]bool{}}
	m, err := l.load(path, abs, nil, Pos{File: path})
	if m != nil {
		m.Path = abs
		m.Sources = l.order
	}
	return m, err
}

// joinSorted joins the problems of both errors, ordered by position; a
// validation problem on a line that already has a decoding problem is left
// out, as it is most likely the same mistake seen twice (a uid that is not
// a number is also a missing uid).
func joinSorted(decoding, validation error) error {
	var all []error
	lines := map[string]bool{}
	for _, e := range flatten(decoding) {
		all = append(all, e)
		if me, ok := e.(*Error); ok {
			lines[fmt.Sprintf("%s:%d", me.Pos.File, me.Pos.Line)] = true
		}
	}
	for _, e := range flatten(validation) {
		if me, ok := e.(*Error); ok && lines[fmt.Sprintf("%s:%d", me.Pos.File, me.Pos.Line)] {
			continue
		}
		all = append(all, e)
	}
	sortByPos(all)
	return errors.Join(all...)
}

// flatten lists the errors joined in err.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

type loader struct {
	done  map[string]bool // files already merged; each is included once
	order []string        // absolute paths of every file read
}

// load reads one file (shown to the user as name) and everything it includes.
// stack holds the files that are including it, to detect cycles.
func (l *loader) load(name, abs string, stack []string, from Pos) (*Manifest, error) {
	data, err := readManifest(abs)
	if err != nil {
		if len(stack) == 0 {
			return nil, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("cannot read manifest: %v", unwrapPath(err))}
		}
		return nil, &Error{Pos: from, Msg: fmt.Sprintf("include %s: %v (the path is relative to %s)", name, unwrapPath(err), filepath.Base(stack[len(stack)-1]))}
	}
	l.done[abs] = true
	l.order = append(l.order, abs)
	var m Manifest
	decoded, err := decodeDocument(name, data, &m)
	if !decoded {
		return nil, err
	}
	m.Pos = Pos{File: name, Line: 1, Col: 1}
	if m.Version != Version {
		msg := "missing `version: 1` (add it at the top)"
		if m.Version != 0 {
			msg = fmt.Sprintf("unsupported version %d (this jailer reads version %d)", m.Version, Version)
		}
		if _, written := m.Fields["version"]; written && err != nil {
			return nil, err // the version's own decoding error says it
		}
		return nil, errors.Join(err, &Error{Pos: fieldPos(m.Fields, "version", m.Pos), Msg: msg})
	}
	stack = append(stack, abs)
	merged := &Manifest{}
	var errs []error
	broken := false // an include could not be read at all
	if err != nil {
		errs = append(errs, err)
	}
	for _, inc := range m.Include {
		if inc.Path == "" {
			errs = append(errs, &Error{Pos: inc.Pos, Msg: "include needs a path"})
			continue
		}
		incName := inc.Path
		if !filepath.IsAbs(incName) {
			incName = filepath.Join(filepath.Dir(name), incName)
		}
		incAbs := inc.Path
		if !filepath.IsAbs(incAbs) {
			incAbs = filepath.Join(filepath.Dir(abs), incAbs)
		}
		incAbs = filepath.Clean(incAbs)
		if i := slices.Index(stack, incAbs); i >= 0 {
			chain := []string{}
			for _, s := range stack[i:] {
				chain = append(chain, filepath.Base(s))
			}
			chain = append(chain, filepath.Base(incAbs))
			errs = append(errs, &Error{Pos: inc.Pos, Msg: fmt.Sprintf("include cycle: %s (remove one of these includes)", strings.Join(chain, " includes "))})
			continue
		}
		if l.done[incAbs] {
			continue
		}
		sub, err := l.load(incName, incAbs, stack, inc.Pos)
		if err != nil {
			errs = append(errs, err)
		}
		if sub != nil {
			merge(reflect.ValueOf(merged).Elem(), reflect.ValueOf(sub).Elem())
		} else {
			broken = true
		}
	}
	if broken {
		return nil, errors.Join(errs...)
	}
	merge(reflect.ValueOf(merged).Elem(), reflect.ValueOf(&m).Elem())
	merged.Pos = m.Pos
	merged.Version = m.Version
	return merged, errors.Join(errs...)
}

func readManifest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("is a directory, not a manifest file")
	}
	if fi.Size() > maxManifestSize {
		return nil, fmt.Errorf("larger than %d bytes", maxManifestSize)
	}
	// Read through a limit: a device or pipe reports size 0 and may never end.
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("larger than %d bytes", maxManifestSize)
	}
	return data, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// merge lays src over dst: lists append (except those tagged
// merge:"replace"), maps merge key by key, and any other value set in src
// replaces dst's.
func merge(dst, src reflect.Value) {
	switch dst.Kind() {
	case reflect.Slice:
		if src.Len() > 0 {
			dst.Set(reflect.AppendSlice(dst, src))
		}
	case reflect.Map:
		if src.Len() == 0 {
			return
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMap(dst.Type()))
		}
		for _, k := range src.MapKeys() {
			dst.SetMapIndex(k, src.MapIndex(k))
		}
	case reflect.Struct:
		if dst.Type() == modeType || dst.Type() == posType {
			if !src.IsZero() {
				dst.Set(src)
			}
			return
		}
		var fields reflect.Value // computed before the lists are appended, as it counts dst's items
		if f := src.FieldByName("Fields"); f.IsValid() && f.Type() == fieldsType {
			fields = reflect.ValueOf(shiftIndexes(dst, f.Interface().(map[string]Pos)))
		}
		for i := 0; i < dst.NumField(); i++ {
			switch f := dst.Type().Field(i); {
			case !f.IsExported():
			case f.Name == "Fields" && fields.IsValid():
				merge(dst.Field(i), fields)
			case replaces(f):
				if src.Field(i).Len() > 0 {
					dst.Field(i).Set(src.Field(i))
				}
			default:
				merge(dst.Field(i), src.Field(i))
			}
		}
	default:
		if !src.IsZero() {
			dst.Set(src)
		}
	}
}

var fieldsType = reflect.TypeOf(map[string]Pos{})

// shiftIndexes returns a copy of fields (the positions recorded for a struct
// being merged onto dst) with each "key[i]" renumbered to follow the items
// dst already has under key, since merging appends the lists.
// replaces says whether a later manifest's list replaces an earlier one's
// instead of appending to it (a command, the set of namespaces).
func replaces(f reflect.StructField) bool { return f.Tag.Get("merge") == "replace" }

func shiftIndexes(dst reflect.Value, fields map[string]Pos) map[string]Pos {
	// How far each list of dst shifts the items merged after it.
	shift := map[string]int{}
	for j := 0; j < dst.NumField(); j++ {
		if f := dst.Field(j); f.Kind() == reflect.Slice && f.Len() > 0 && !replaces(dst.Type().Field(j)) {
			shift[yamlName(dst.Type().Field(j))] = f.Len()
		}
	}
	if len(shift) == 0 {
		return maps.Clone(fields) // the first manifest: nothing before it
	}
	out := make(map[string]Pos, len(fields))
	for k, p := range fields {
		if key, rest, ok := strings.Cut(k, "["); ok && strings.HasSuffix(rest, "]") && shift[key] > 0 {
			if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
				k = fmt.Sprintf("%s[%d]", key, i+shift[key])
			}
		}
		out[k] = p
	}
	return out
}
