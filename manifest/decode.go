package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/jailer-dev/jailer/manifest/internal/rules"
	"gopkg.in/yaml.v3"
)

// maxNodes bounds how many YAML nodes one manifest may expand to, and
// maxExpanded how many bytes of scalars, so that an alias bomb ("billion
// laughs") is an error rather than a hang: aliases are counted each time
// they are used, and without aliases neither bound is reached by a file of
// at most maxManifestSize bytes.
const (
	maxNodes    = 100000
	maxExpanded = 2 * maxManifestSize
)

// decoder turns a yaml.Node tree into Go values, strictly: unknown fields and
// wrong types are errors that keep the node's line and column. yaml.v3's own
// Decode gives neither the file nor the column, and its KnownFields option
// is lost inside custom unmarshalers, so jailer walks the nodes itself.
type decoder struct {
	file  string
	errs  []error
	nodes int // nodes and map keys decoded so far, aliases expanded
	bytes int // bytes of scalars decoded so far, aliases expanded
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// shorthandField returns the index of the field that an item written as
// one scalar fills (`- bash` for `- {src: bash}`): the string field tagged
// shorthand:"true". The JSON Schema generator reads the same tag.
func shorthandField(t reflect.Type) (int, bool) {
	if t.Kind() != reflect.Struct {
		return 0, false
	}
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Tag.Get("shorthand") == "true" && f.Type.Kind() == reflect.String {
			return i, true
		}
	}
	return 0, false
}

var (
	posType  = reflect.TypeOf(Pos{})
	modeType = reflect.TypeOf(Mode{})
)

// parseDocument decodes data (the contents of file) into v, which must be a
// pointer to a struct. It returns every problem found, joined.
func parseDocument(file string, data []byte, v any) error {
	_, err := decodeDocument(file, data, v)
	return err
}

// decodeDocument is parseDocument that also says whether v was decoded:
// when it was, the errors are about single fields and v holds everything
// else, so that validation can report its problems in the same pass; when
// it was not (a YAML syntax error, an empty file), v is untouched.
func decodeDocument(file string, data []byte, v any) (decoded bool, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return false, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "manifest is empty (start it with `version: 1`)"}
		}
		return false, syntaxError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return false, &Error{Pos: Pos{File: file, Line: extra.Line, Col: extra.Column}, Msg: "a manifest is one YAML document (remove the second document and its `---`)"}
	} else if !errors.Is(err, io.EOF) {
		return false, syntaxError(file, data, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return false, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "manifest is empty (start it with `version: 1`)"}
	}
	d := &decoder{file: file}
	d.decode(root, reflect.ValueOf(v).Elem(), "manifest")
	return root.Kind == yaml.MappingNode, errors.Join(d.errs...)
}

// yamlName returns the YAML key of a struct field, or "" for skipped fields.
func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// spend counts n against the bounds on the expanded manifest and reports
// whether decoding may go on. Map keys count too: an aliased mapping of
// unknown keys yields an error per key.
func (d *decoder) spend(n *yaml.Node) bool {
	if d.nodes > maxNodes || d.bytes > maxExpanded {
		return false
	}
	d.nodes++
	d.bytes += len(n.Value)
	if d.nodes > maxNodes || d.bytes > maxExpanded {
		d.errorf(n, "manifest expands to more than %d YAML nodes or %d bytes (remove alias loops or split it)", maxNodes, maxExpanded)
		return false
	}
	return true
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, what string) {
	if !d.spend(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorf(n, "unknown alias")
			return
		}
		d.decode(n.Alias, v, what)
		return
	}
	if n.Kind == yaml.ScalarNode && v.Kind() == reflect.Struct && n.Value != "" && n.Value != "~" {
		// Before the null check: `devices: [null]` names the null device.
		if i, ok := shorthandField(v.Type()); ok {
			v.Field(i).SetString(n.Value)
			d.setPos(n, v)
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if v.Kind() == reflect.Struct {
			d.setPos(n, v) // a null list item is still an item, with a place
		}
		return // leave the zero value, as if the key were absent
	}
	if v.Type() == modeType {
		d.decodeMode(n, v, what)
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), what)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, what)
	case reflect.Slice:
		d.decodeList(n, v, what)
	case reflect.Map:
		d.decodeMap(n, v, what)
	default:
		d.decodeScalar(n, v, what)
	}
}

// decodeList decodes a YAML sequence into the slice v.
func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, what string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, c := range n.Content {
		item := reflect.New(v.Type().Elem()).Elem()
		before := len(d.errs)
		d.decode(c, item, fmt.Sprintf("%s item %d", what, i+1))
		// An item with a decoding problem is left out, so that validation
		// does not report the same mistake again.
		if len(d.errs) == before {
			s = reflect.Append(s, item)
		}
	}
	v.Set(s)
}

// decodeMap decodes a YAML mapping with string keys into the map v.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, what string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.spend(k) {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s keys must be plain strings", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s has %q twice (keep one)", what, k.Value)
			continue
		}
		seen[k.Value] = true
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, what+"."+k.Value)
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
	v.Set(m)
}

// decodeScalar decodes a string, boolean, whole number or number into v,
// refusing what YAML typed otherwise (yes is not true, "1" is not 1).
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, what string) {
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "%s must be a string, not %s", what, kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.errorf(n, "%s must be true or false, not %s", what, kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || i < 0 || i > 1<<31-1 {
			d.errorf(n, "%s must be a whole number from 0 to 2147483647, not %s", what, kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, "%s must be a number, not %s", what, kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, "%s: unsupported type %s", what, v.Type())
	}
}

func (d *decoder) setPos(n *yaml.Node, v reflect.Value) {
	if f := v.FieldByName("Pos"); f.IsValid() && f.Type() == posType {
		f.Set(reflect.ValueOf(d.pos(n)))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, what string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		if _, ok := shorthandField(t); ok {
			d.errorf(n, "%s must be a string or a mapping, not %s", what, kindName(n))
		} else {
			d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		}
		return
	}
	d.setPos(n, v)
	fields := map[string]int{}
	var known []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			fields[name] = i
			known = append(known, name)
		}
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.spend(k) {
			return
		}
		idx, ok := fields[k.Value]
		if k.Kind != yaml.ScalarNode || !ok {
			d.errorf(k, "unknown field %q in %s (known fields: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "field %q given twice in %s (keep one)", k.Value, what)
			continue
		}
		seen[k.Value] = true
		d.recordField(v, k.Value, val)
		d.decode(val, v.Field(idx), k.Value)
	}
}

// recordField notes where key (and each item of a list under it) was
// written, in the struct's Fields map if it has one, so that later checks
// on plain values can still point at their line.
func (d *decoder) recordField(v reflect.Value, key string, val *yaml.Node) {
	f := v.FieldByName("Fields")
	if !f.IsValid() || f.Type() != reflect.TypeOf(map[string]Pos{}) {
		return
	}
	if f.IsNil() {
		f.Set(reflect.ValueOf(map[string]Pos{}))
	}
	fields := f.Interface().(map[string]Pos)
	fields[key] = d.pos(val)
	if val.Kind == yaml.SequenceNode {
		for i, c := range val.Content {
			fields[fmt.Sprintf("%s[%d]", key, i)] = d.pos(c)
		}
	}
	if val.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(val.Content); i += 2 {
			fields[key+"."+val.Content[i].Value] = d.pos(val.Content[i])
		}
	}
}

func (d *decoder) decodeMode(n *yaml.Node, v reflect.Value, what string) {
	s := n.Value
	if n.Kind != yaml.ScalarNode || !rules.Mode().MatchString(s) {
		d.errorf(n, "%s must be an octal mode such as \"0644\" or \"1777\", not %s", what, kindName(n))
		return
	}
	u, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || u > 07777 {
		d.errorf(n, "%s must be an octal mode such as \"0644\", not %q", what, s)
		return
	}
	v.Set(reflect.ValueOf(Mode{Perm: permFromUnix(uint32(u)), Set: true}))
}

// permFromUnix converts a Unix mode's low 12 bits to an os.FileMode.
func permFromUnix(u uint32) (m os.FileMode) {
	m = os.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
