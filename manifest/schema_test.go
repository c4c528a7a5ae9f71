package manifest

// The JSON Schema of a manifest is generated here, in test code, so that
// go/parser stays out of the jailer binary: `go test ./manifest -run
// TestSchema -update` rewrites schema.json, which schema.go embeds, and
// TestSchema fails while the committed file differs from what the types
// say. The shape comes from the types themselves, read the way the decoder
// reads them (yamlName, shorthand items, Mode); the descriptions come from
// their doc comments, parsed from the package's source; the enums come from
// the lists Validate checks against.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite schema.json from the manifest types")

// SchemaID is where the committed schema is published, for editors.
const schemaID = "https://raw.githubusercontent.com/jailer-dev/jailer/main/manifest/schema.json"

// schemaEnums are the fields whose values Validate takes from a fixed list
// ("Type.Field"; for a list, its items).
func schemaEnums() map[string][]string {
	return map[string][]string{
		"Manifest.Layout":  Layouts,
		"Device.Name":      sortedKeys(Devices),
		"Profile.Name":     sortedKeys(Profiles),
		"Enter.Namespaces": Namespaces,
		"Enter.Network":    Networks,
		"Enter.IPC":        IPCModes,
		"Mount.Type":       MountTypes,
	}
}

// schemaPatterns are the fields Validate matches against a regexp (for a
// list, its items; for a map, its keys).
func schemaPatterns() map[string]*regexp.Regexp {
	return map[string]*regexp.Regexp{
		"User.Name":     userName(),
		"Group.Name":    userName(),
		"Group.Members": userName(),
		"Enter.Env":     envName(),
	}
}

// schemaRequired are the fields an item cannot do without: Validate reports
// each one missing (TestSchemaAgreesWithLoader checks that it does).
var schemaRequired = map[string][]string{
	"Manifest": {"version"},
	"Symlink":  {"path", "target"},
	"User":     {"name", "uid"},
	"Group":    {"name", "gid"},
	"Mount":    {"type", "target"},
}

// obj is a JSON object that keeps its keys in the order they were added,
// so that the schema lists properties in the order the types declare them.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) with(k string, v any) obj { return append(o, kv{k, v}) }

// writeJSON writes v indented by two spaces per level, without the HTML
// escaping of encoding/json ("->" stays readable in descriptions).
func writeJSON(b *bytes.Buffer, v any, indent string) error {
	switch v := v.(type) {
	case obj:
		if len(v) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			writeJSON(b, e.k, "")
			b.WriteString(": ")
			if err := writeJSON(b, e.v, indent+"  "); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if !slices.ContainsFunc(v, func(e any) bool { _, ok := e.(obj); return ok }) {
			b.WriteString("[")
			for i, e := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				if err := writeJSON(b, e, indent); err != nil {
					return err
				}
			}
			b.WriteString("]")
			return nil
		}
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			if err := writeJSON(b, e, indent+"  "); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	return nil
}

// schemaGen builds the schema of the manifest types.
type schemaGen struct {
	docs map[string]string // "Type" and "Type.Field" -> doc comment
	defs obj
	seen map[reflect.Type]bool
	errs []string
}

// parseDocs reads the doc comments of every struct type and field declared
// in the package's source files in dir.
func parseDocs(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				docs[ts.Name.Name] = commentText(doc)
				for _, fld := range st.Fields.List {
					text := commentText(fld.Doc)
					if text == "" {
						text = commentText(fld.Comment)
					}
					for _, n := range fld.Names {
						docs[ts.Name.Name+"."+n.Name] = text
					}
				}
			}
		}
	}
	return docs, nil
}

// commentText is a doc comment as one line.
func commentText(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// generateSchema returns the schema of Manifest, as schema.json holds it.
func generateSchema(dir string) ([]byte, error) {
	docs, err := parseDocs(dir)
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs, seen: map[reflect.Type]bool{}}
	t := reflect.TypeOf(Manifest{})
	root := obj{}.
		with("$schema", "https://json-schema.org/draft/2020-12/schema").
		with("$id", schemaID).
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

var shorthandType = reflect.TypeOf((*shorthand)(nil)).Elem()

// object is the schema of a struct's mapping form.
func (g *schemaGen) object(t reflect.Type) obj {
	props := obj{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
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
			if sf, ok := t.FieldByName(w); ok && yamlName(sf) != "" {
				return yamlName(sf)
			}
			return w
		})
		props = props.with(name, append(obj{}.with("description", doc), g.field(t, f)...))
	}
	o := obj{}.with("type", "object").with("properties", props).with("additionalProperties", false)
	if req := schemaRequired[t.Name()]; len(req) > 0 {
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
		return obj{}.with("type", "integer").with("const", Version)
	}
	s := g.value(f.Type)
	var restrict obj
	if values, ok := schemaEnums()[key]; ok {
		restrict = enum(values)
	}
	re, hasPattern := schemaPatterns()[key]
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
		return obj{}.with("type", "string").with("pattern", octalMode().String())
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
	g.errs = append(g.errs, fmt.Sprintf("%s: no JSON Schema for this type (teach schema_test.go, as the decoder was taught)", t))
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
	if !reflect.PointerTo(t).Implements(shorthandType) {
		g.defs = g.defs.with(t.Name(), append(def, g.object(t)...))
		return
	}
	// Find the field the scalar fills, by filling it.
	v := reflect.New(t)
	v.Interface().(shorthand).fromScalar("\x00probe")
	var short reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		if f := v.Elem().Field(i); f.Kind() == reflect.String && f.String() == "\x00probe" {
			short = t.Field(i)
		}
	}
	if short.Name == "" {
		g.errs = append(g.errs, fmt.Sprintf("%s.fromScalar fills no string field", t.Name()))
		return
	}
	scalar := append(obj{}.with("description", "Shorthand for {"+yamlName(short)+": ...}."), scalarNull(g.field(t, short))...)
	g.defs = g.defs.with(t.Name(), def.with("oneOf", []any{scalar, g.object(t)}))
}

func TestSchema(t *testing.T) {
	got, err := generateSchema(".")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatalf("%v (run go test ./manifest -run TestSchema -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return ls[i]
			}
			return "(end of file)"
		}
		t.Fatalf("schema.json is not what the manifest types say (run go test ./manifest -run TestSchema -update);\nline %d: schema.json has\n\t%s\nthe types give\n\t%s", i+1, line(wl), line(gl))
	}
	if !bytes.Equal(Schema(), want) {
		t.Error("Schema() differs from schema.json (rebuild)")
	}
}

// skipOnUpdate skips tests of the embedded schema while -update rewrites it.
func skipOnUpdate(t *testing.T) {
	if *update {
		t.Skip("-update: the embedded schema.json is the old one")
	}
}

// compileSchema compiles the committed schema with a validator that
// implements draft 2020-12.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	skipOnUpdate(t)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaID)
	if err != nil {
		t.Fatalf("compile schema.json: %v", err)
	}
	return s
}

// yamlInstance reads a YAML manifest as the JSON value an editor's schema
// validation sees.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchemaValidatesExamples(t *testing.T) {
	s := compileSchema(t)
	var files []string
	for _, pat := range []string{"../testdata/examples/*.yaml", "../testdata/manifests/*.yaml", "testdata/*/*.yaml"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("found %d example manifests, want the ones in testdata", len(files))
	}
	for _, f := range files {
		if strings.Contains(f, "include-errors") || strings.Contains(f, "include-validate") {
			continue // wrong on purpose
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s does not validate against schema.json:\n%v", f, err)
		}
	}
}

// TestSchemaAgreesWithLoader checks manifests both ways: what the schema
// rejects, the loader rejects too, and what it accepts loads.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	hostPATH(t)
	tests := []struct {
		name, yaml string
		valid      bool
	}{
		{"minimal", "version: 1\n", true},
		{"everything", lines(
			"version: 1",
			"name: all",
			"layout: preserve",
			"binaries: [sh, {src: /usr/bin/ls, dest: /bin/list, allow_setuid: true}]",
			"profiles: [hosts, {name: certs}]",
			"files: [{dest: /etc/motd, content: hi, mode: \"0644\"}, {dest: /etc/n, content: 1}]",
			"dirs: [/data, {path: /tmp2, mode: \"1777\", owner: \"0:0\"}]",
			"symlinks: [{path: /usr/bin/env, target: /bin/env}]",
			"devices: [null, zero, {name: tty}]",
			"users: [{name: tester, uid: 1000, gid: 1000, home: /home/t, shell: /bin/sh, gecos: T}]",
			"groups: [{name: staff, gid: 50, members: [tester]}]",
			"enter:",
			"  command: [/bin/sleep, 10]",
			"  namespaces: [mount, uts, pid, net]",
			"  hostname: h",
			"  user: 1000",
			"  workdir: /data",
			"  env: {PATH: /bin, CI: 1}",
			"  readonly: true",
			"  mounts: [{type: tmpfs, target: /tmp, size: 64M}, {type: bind, source: /etc, target: /src, readonly: true}]",
			"  limits: {memory: 512M, pids: 128, cpu: 1.5, nofile: 1024, timeout: 10m}",
		), true},
		{"no version", "name: x\n", false},
		{"version 2", "version: 2\n", false},
		{"unknown top-level field", "version: 1\nbinary: [sh]\n", false},
		{"unknown item field", "version: 1\nbinaries: [{src: sh, mode: \"0755\"}]\n", false},
		{"unknown enter field", "version: 1\nenter: {cmd: [sh]}\n", false},
		{"unknown limits field", "version: 1\nenter: {limits: {cpus: 1}}\n", false},
		{"layout", "version: 1\nlayout: deep\n", false},
		{"device", "version: 1\ndevices: [sda]\n", false},
		{"device named null in a mapping", "version: 1\ndevices: [{name: null}]\n", false},
		{"profile", "version: 1\nprofiles: [java]\n", false},
		{"namespace", "version: 1\nenter: {namespaces: [time]}\n", false},
		{"mount type", "version: 1\nenter: {mounts: [{type: overlay, target: /x}]}\n", false},
		{"mode not octal", "version: 1\ndirs: [{path: /x, mode: \"0999\"}]\n", false},
		{"mode a word", "version: 1\ndirs: [{path: /x, mode: rwx}]\n", false},
		{"uid a string", "version: 1\nusers: [{name: a, uid: \"1000\"}]\n", false},
		{"uid negative", "version: 1\nusers: [{name: a, uid: -1}]\n", false},
		{"user without uid", "version: 1\nusers: [{name: a}]\n", false},
		{"user name", "version: 1\nusers: [{name: Admin, uid: 5}]\n", false},
		{"group without gid", "version: 1\ngroups: [{name: a}]\n", false},
		{"symlink without target", "version: 1\nsymlinks: [{path: /a}]\n", false},
		{"symlink as a string", "version: 1\nsymlinks: [/a]\n", false},
		{"mount without target", "version: 1\nenter: {mounts: [{type: tmpfs}]}\n", false},
		{"env name", "version: 1\nenter: {env: {1X: y}}\n", false},
		{"readonly a string", "version: 1\nenter: {readonly: yes please}\n", false},
		{"binaries a string", "version: 1\nbinaries: sh\n", false},
		{"binary a list", "version: 1\nbinaries: [[sh]]\n", false},
		{"pids a float", "version: 1\nenter: {limits: {pids: 1.5}}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serr := s.Validate(yamlInstance(t, []byte(tt.yaml)))
			if (serr == nil) != tt.valid {
				t.Errorf("schema validation of\n%s= %v, want valid %v", tt.yaml, serr, tt.valid)
			}
			_, lerr := Load(writeManifest(t, t.TempDir(), tt.yaml))
			if (lerr == nil) != tt.valid {
				t.Errorf("Load of\n%s= %v, want valid %v (the schema and the loader disagree)", tt.yaml, lerr, tt.valid)
			}
		})
	}
}

// TestSchemaDescribesEveryField checks that each key the decoder accepts
// has a property with a description, so editors can offer all of them.
func TestSchemaDescribesEveryField(t *testing.T) {
	skipOnUpdate(t)
	var schema map[string]any
	if err := json.Unmarshal(Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	props := func(name string) map[string]any {
		if name == "Manifest" {
			return schema["properties"].(map[string]any)
		}
		d, ok := defs[name].(map[string]any)
		if !ok {
			t.Fatalf("$defs has no %s", name)
		}
		if alts, ok := d["oneOf"].([]any); ok {
			d = alts[len(alts)-1].(map[string]any)
		}
		if d["additionalProperties"] != false {
			t.Errorf("%s allows additional properties; the decoder rejects unknown fields", name)
		}
		return d["properties"].(map[string]any)
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Manifest{}), reflect.TypeOf(Binary{}), reflect.TypeOf(File{}),
		reflect.TypeOf(User{}), reflect.TypeOf(Enter{}), reflect.TypeOf(Mount{}), reflect.TypeOf(Limits{})} {
		p := props(typ.Name())
		n := 0
		for i := 0; i < typ.NumField(); i++ {
			name := yamlName(typ.Field(i))
			if name == "" {
				continue
			}
			n++
			prop, ok := p[name].(map[string]any)
			if !ok || prop["description"] == "" {
				t.Errorf("%s.%s: no property %q with a description in the schema", typ.Name(), typ.Field(i).Name, name)
			}
		}
		if len(p) != n {
			t.Errorf("%s: schema has %d properties, the type %d", typ.Name(), len(p), n)
		}
	}
	if got := fmt.Sprint(props("Manifest")["version"]); !strings.Contains(got, "const:"+strconv.Itoa(Version)) {
		t.Errorf("version = %s, want const %d", got, Version)
	}
	if !slices.Contains(schema["required"].([]any), any("version")) {
		t.Error("version is not required")
	}
}
