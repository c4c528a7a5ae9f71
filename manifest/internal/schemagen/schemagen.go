// Package schemagen writes the JSON Schema (draft 2020-12) of jailer
// manifests, manifest/schema.json, which the manifest package embeds and
// `jailer schema` prints. It runs at development time only (go generate
// ./manifest runs manifest/gen_schema.go, which calls Generate; a test of
// the manifest package calls Generate too and fails while schema.json
// differs), so go/parser stays out of the jailer binary.
//
// The method: the shape comes from the manifest types themselves, read by
// reflection the way the decoder reads them (the yaml tag names a key; a
// field tagged shorthand:"true" is what an item written as one scalar
// fills; manifest.Mode is an octal string); the descriptions come from the
// types' doc comments, parsed from the manifest package's source; the
// enums come from the lists Validate checks against (manifest.Layouts,
// Devices, Profiles, Namespaces, MountTypes) and the patterns from the
// regular expressions the decoder and Validate match (manifest/internal/rules).
// A field without a doc comment or a type the generator does not know is
// an error, so the schema cannot silently fall behind the types.
package schemagen

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/manifest"
	"github.com/jailer-dev/jailer/manifest/internal/rules"
)

// ID is where the committed schema is published, for editors.
const ID = "https://raw.githubusercontent.com/jailer-dev/jailer/main/manifest/schema.json"

// enums are the fields whose values Validate takes from a fixed list
// ("Type.Field"; for a list, its items).
func enums() map[string][]string {
	return map[string][]string{
		"Manifest.Layout":  manifest.Layouts,
		"Manifest.Link":    manifest.Links,
		"Device.Name":      slices.Sorted(maps.Keys(manifest.Devices)),
		"Profile.Name":     slices.Sorted(maps.Keys(manifest.Profiles)),
		"Enter.Namespaces": manifest.Namespaces,
		"Enter.Network":    manifest.Networks,
		"Enter.IPC":        manifest.IPCModes,
		"Mount.Type":       manifest.MountTypes,
	}
}

// patterns are the fields Validate matches against a regexp (for a list,
// its items; for a map, its keys).
func patterns() map[string]*regexp.Regexp {
	return map[string]*regexp.Regexp{
		"User.Name":     rules.AccountName(),
		"Group.Name":    rules.AccountName(),
		"Group.Members": rules.AccountName(),
		"Enter.Env":     rules.EnvName(),
	}
}

// required are the fields an item cannot do without: Validate reports each
// one missing (the manifest package's TestSchemaAgreesWithLoader checks
// that it does).
var required = map[string][]string{
	"Manifest": {"version"},
	"Symlink":  {"path", "target"},
	"User":     {"name", "uid"},
	"Group":    {"name", "gid"},
	"Mount":    {"type", "target"},
}

var modeType = reflect.TypeOf(manifest.Mode{})

// yamlName is the key a field is written under, "" for one the decoder
// fills itself (yaml:"-"). Every field a manifest may write names its key
// (`yaml:"name,omitempty"`), so a field without one is an error.
func (g *schemaGen) yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	switch {
	case !f.IsExported() || name == "-":
		return ""
	case name == "":
		g.errs = append(g.errs, fmt.Sprintf("%s has no yaml tag naming its key: write `yaml:\"key,omitempty\"`, or `yaml:\"-\"`", f.Name))
		return ""
	}
	return name
}

// schemaGen builds the schema of the manifest types.
type schemaGen struct {
	docs map[string]string // "Type" and "Type.Field" -> doc comment
	defs obj
	seen map[reflect.Type]bool
	errs []string
}

// Generate returns the schema of manifest.Manifest, as schema.json holds
// it, with the doc comments of the manifest package's source in dir.
func Generate(dir string) ([]byte, error) {
	docs, err := parseDocs(dir)
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs, seen: map[reflect.Type]bool{}}
	t := reflect.TypeOf(manifest.Manifest{})
	root := obj{}.
		with("$schema", "https://json-schema.org/draft/2020-12/schema").
		with("$id", ID).
		with("title", "jailer manifest").
		with("description", "A jailer manifest: what one jail contains and how it is entered. Generated from the doc comments of jailer's manifest types; unknown fields are errors.")
	root = append(root, g.object(t)...)
	g.seen[t] = true
	root = root.with("$defs", g.defs)
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(g.errs, "\n"))
	}
	var b bytes.Buffer
	if err := writeJSON(&b, root, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// goNames are words that may be the Go name of a field.
var goNames = regexp.MustCompile(`\b[A-Z][A-Za-z]*\b`)

// object is the schema of a struct's mapping form.
func (g *schemaGen) object(t reflect.Type) obj {
	props := obj{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := g.yamlName(f)
		if name == "" {
			continue
		}
		key := t.Name() + "." + f.Name
		doc := g.docs[key]
		if doc == "" {
			g.errs = append(g.errs, fmt.Sprintf("%s (yaml %q) has no doc comment: write one, it becomes the schema's description", key, name))
		}
		// "Src is ..." reads "src is ..." where an editor shows it beside `src:`.
		doc = goNames.ReplaceAllStringFunc(doc, func(w string) string {
			if sf, ok := t.FieldByName(w); ok && g.yamlName(sf) != "" {
				return g.yamlName(sf)
			}
			return w
		})
		props = props.with(name, append(obj{}.with("description", doc), g.field(t, f)...))
	}
	o := obj{}.with("type", "object").with("properties", props).with("additionalProperties", false)
	if req := required[t.Name()]; len(req) > 0 {
		r := make([]any, len(req))
		for i, s := range req {
			r[i] = s
		}
		o = o.with("required", r)
	}
	return o
}

// field is the schema of one field's value, with the enums and patterns
// Validate applies to it.
func (g *schemaGen) field(owner reflect.Type, f reflect.StructField) obj {
	key := owner.Name() + "." + f.Name
	if key == "Manifest.Version" {
		return obj{}.with("type", "integer").with("const", manifest.Version)
	}
	s := g.value(f.Type)
	var restrict obj
	if values, ok := enums()[key]; ok {
		restrict = enum(values)
	}
	re, hasPattern := patterns()[key]
	if hasPattern {
		restrict = obj{}.with("type", "string").with("pattern", re.String())
	}
	switch {
	case restrict == nil:
		return s
	case f.Type.Kind() == reflect.Slice:
		return obj{}.with("type", "array").with("items", restrict)
	case f.Type.Kind() == reflect.Map && hasPattern:
		return s.with("propertyNames", obj{}.with("pattern", re.String()))
	}
	return restrict
}

// enum is a schema for one of values.
func enum(values []string) obj {
	e := make([]any, len(values))
	for i, v := range values {
		e[i] = v
	}
	return obj{}.with("type", "string").with("enum", e)
}

// scalarNull lets a shorthand item be YAML's null where "null" is one of
// its names: the decoder reads the list item `null` as the name
// (`devices: [null]`), though YAML, and so an editor, reads it as nothing.
func scalarNull(s obj) obj {
	for i, e := range s {
		values, _ := e.v.([]any)
		if e.k != "enum" || !slices.Contains(values, any("null")) {
			continue
		}
		out := slices.Delete(slices.Clone(s), i, i+1)
		out = slices.DeleteFunc(out, func(e kv) bool { return e.k == "type" })
		return out.with("enum", append(slices.Clone(values), nil))
	}
	return s
}

// value is the schema of a Go type as the decoder reads it.
func (g *schemaGen) value(t reflect.Type) obj {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == modeType {
		return obj{}.with("type", "string").with("pattern", rules.Mode().String())
	}
	switch t.Kind() {
	case reflect.Struct:
		g.define(t)
		return obj{}.with("$ref", "#/$defs/"+t.Name())
	case reflect.Slice:
		return obj{}.with("type", "array").with("items", g.value(t.Elem()))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			g.errs = append(g.errs, fmt.Sprintf("%s: map keys must be strings", t))
		}
		return obj{}.with("type", "object").with("additionalProperties", g.value(t.Elem()))
	case reflect.String:
		// The decoder takes any scalar as text (`user: 1000`, `command: [sleep, 10]`).
		return obj{}.with("type", []any{"string", "number", "boolean"})
	case reflect.Bool:
		return obj{}.with("type", "boolean")
	case reflect.Int:
		return obj{}.with("type", "integer").with("minimum", 0).with("maximum", 1<<31-1)
	case reflect.Float64:
		return obj{}.with("type", "number")
	}
	g.errs = append(g.errs, fmt.Sprintf("%s: no JSON Schema for this type (teach schemagen, as the decoder was taught)", t))
	return obj{}
}

// define adds the definition of struct type t: its mapping form, and for
// list items with a shorthand, also the single scalar they may be written as.
func (g *schemaGen) define(t reflect.Type) {
	if g.seen[t] {
		return
	}
	g.seen[t] = true
	def := obj{}.with("description", g.docs[t.Name()])
	var short reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Tag.Get("shorthand") == "true" {
			short = f
		}
	}
	switch {
	case short.Name == "":
		g.defs = g.defs.with(t.Name(), append(def, g.object(t)...))
		return
	case short.Type.Kind() != reflect.String:
		g.errs = append(g.errs, fmt.Sprintf("%s.%s is tagged shorthand but is not a string (the decoder fills only strings)", t.Name(), short.Name))
		return
	}
	scalar := append(obj{}.with("description", "Shorthand for {"+g.yamlName(short)+": ...}."), scalarNull(g.field(t, short))...)
	g.defs = g.defs.with(t.Name(), def.with("oneOf", []any{scalar, g.object(t)}))
}
