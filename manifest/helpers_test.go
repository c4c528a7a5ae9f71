package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// lines joins YAML lines with newlines, so that a test reads like the file
// it writes and line numbers can be counted from the list.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// writeFile writes content to dir/name (creating parent directories) with
// the given permission and returns the path.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // WriteFile's perm is masked by umask
		t.Fatal(err)
	}
	return p
}

// writeManifest writes content as dir/m.yaml and returns its path.
func writeManifest(t *testing.T, dir, content string) string {
	t.Helper()
	return writeFile(t, dir, "m.yaml", content, 0o644)
}

// hostPATH pins PATH so that programs named by the tests resolve the same
// way on every machine of this kind (/bin is a symlink to usr/bin on Debian 12).
func hostPATH(t *testing.T) {
	t.Helper()
	t.Setenv("PATH", "/usr/bin:/bin")
	for _, p := range []string{"/usr/bin/ls", "/usr/bin/bash", "/bin/sh"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("host lacks %s: %v", p, err)
		}
	}
}

// errLines splits a joined error into its lines.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// wantErr is one expected problem: a line of the error that starts with
// Pos ("FILE:LINE:COL") followed by ": " and contains Phrase.
type wantErr struct {
	Pos    string
	Phrase string
}

// checkErrs reports every wanted problem missing from err, and fails if err
// has a different number of lines than wanted (so nothing unexpected hides
// among them).
func checkErrs(t *testing.T, call string, err error, want ...wantErr) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil error, want %d problems: %+v", call, len(want), want)
		return
	}
	got := errLines(err)
	for _, w := range want {
		found := false
		for _, l := range got {
			if strings.HasPrefix(l, w.Pos+": ") && strings.Contains(l, w.Phrase) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s = error\n\t%s\nwant a line %q with %q", call, strings.Join(got, "\n\t"), w.Pos+": ", w.Phrase)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s = %d problems\n\t%s\nwant %d", call, len(got), strings.Join(got, "\n\t"), len(want))
	}
}

// stripPos returns a copy of m without positions (Pos fields and Fields
// maps), for comparing what a manifest says rather than where it says it.
func stripPos(m *Manifest) *Manifest {
	c := *m
	v := reflect.ValueOf(&c).Elem()
	clearPos(v)
	return &c
}

func clearPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearPos(v.Elem())
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(s, v)
		v.Set(s)
		for i := 0; i < s.Len(); i++ {
			clearPos(s.Index(i))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f, sf := v.Field(i), v.Type().Field(i)
			switch {
			case !sf.IsExported():
			case sf.Type == posType:
				f.Set(reflect.Zero(posType))
			case sf.Name == "Fields":
				f.Set(reflect.Zero(sf.Type))
			default:
				clearPos(f)
			}
		}
	}
}

// diffManifest reports each top-level field of got that differs from want.
func diffManifest(t *testing.T, call string, got, want *Manifest) {
	t.Helper()
	g, w := reflect.ValueOf(stripPos(got)).Elem(), reflect.ValueOf(stripPos(want)).Elem()
	for i := 0; i < g.NumField(); i++ {
		if name := g.Type().Field(i).Name; !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s: %s = %s, want %s", call, name, dump(g.Field(i)), dump(w.Field(i)))
		}
	}
}

// dump prints a value with pointers followed, so that *int and *string
// fields show their values.
func dump(v reflect.Value) string {
	var b strings.Builder
	dumpTo(&b, v)
	return b.String()
}

func dumpTo(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		dumpTo(b, v.Elem())
	case reflect.Slice:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			dumpTo(b, v.Index(i))
		}
		b.WriteString("]")
	case reflect.Struct:
		if v.Type() == posType {
			b.WriteString(v.Interface().(Pos).String())
			return
		}
		b.WriteString("{")
		first := true
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() || !v.Type().Field(i).IsExported() {
				continue
			}
			if !first {
				b.WriteString(" ")
			}
			first = false
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpTo(b, v.Field(i))
		}
		b.WriteString("}")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

func intp(i int) *int       { return &i }
func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }
