//go:build linux

package jailinit

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fill sets every exported field of v, recursively, to a value of its own
// (strings and numbers that differ field by field, true, two elements a
// list), so that a field an encoding leaves out shows as a difference.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d,:=\t\n", *n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n) * 1000003 % (1 << 30))
		if *n%3 == 0 {
			v.SetInt(-v.Int()) // -1 is an id the namespace does not map
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: no value for a " + v.Type().String() + ": teach the test (and check Encode)")
	}
}

// TestConfigRoundTrip: every field of a Config comes back from Encode
// and Decode as it went in (a field added to Config and left out of the
// encoding fails here).
func TestConfigRoundTrip(t *testing.T) {
	var want Config
	n := 0
	fill(reflect.ValueOf(&want).Elem(), &n)
	for _, b := range []bool{false, true} { // each bool on its own, both ways
		for i := range reflect.TypeOf(want).NumField() {
			c := want
			f := reflect.ValueOf(&c).Elem().Field(i)
			if f.Kind() != reflect.Bool || !reflect.TypeOf(c).Field(i).IsExported() {
				continue
			}
			f.SetBool(b)
			got, err := Decode(c.Encode())
			if err != nil || !reflect.DeepEqual(*got, c) {
				t.Errorf("Decode(Encode(%s = %v)) = %+v, %v;\nwant %+v", reflect.TypeOf(c).Field(i).Name, b, got, err, c)
			}
		}
	}
	min := Config{Argv: []string{"/bin/true"}} // everything else zero or nil
	if got, err := Decode(min.Encode()); err != nil || !reflect.DeepEqual(*got, min) {
		t.Errorf("Decode(Encode(%+v)) = %+v, %v", min, got, err)
	}
}

// TestConfigDecodeRefuses: a config cut short, with bytes after its end,
// of another encoding, or without a command is an error, never a panic
// or a config with fields left at zero.
func TestConfigDecodeRefuses(t *testing.T) {
	var full Config
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	data := full.Encode()
	for i := range len(data) {
		if _, err := Decode(data[:i]); err == nil {
			t.Fatalf("Decode(the first %d of %d bytes) = nil error", i, len(data))
		}
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"trailing bytes", append(full.Encode(), 0), "malformed"},
		{"JSON", []byte(`{"root":"/j","argv":["/bin/true"]}`), "another build"},
		{"another version", append([]byte(configMagic[:len(configMagic)-1]+"\x02"), data[len(configMagic):]...), "another build"},
		{"no command", (&Config{Root: "/j"}).Encode(), "without a command"},
		{"a bool that is 2", func() []byte {
			// The byte of one bool: where two configs that differ
			// only in it differ.
			off, on := Config{Argv: []string{"x"}}, Config{Argv: []string{"x"}, NoSetgroups: true}
			d, e := off.Encode(), on.Encode()
			for i := range d {
				if d[i] != e[i] {
					d[i] = 2
					return d
				}
			}
			t.Fatal("NoSetgroups changes no byte of the encoding")
			return nil
		}(), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Decode(tt.data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode = %+v, %v; want an error saying %q", c, err, tt.want)
			}
		})
	}
}

// FuzzConfigDecode: whatever the bytes, Decode returns a config or an
// error, never panics, and a config it returns survives Encode and
// Decode unchanged.
func FuzzConfigDecode(f *testing.F) {
	var full Config
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	f.Add(full.Encode())
	f.Add((&Config{Argv: []string{"/bin/sh"}}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		if again, err := Decode(c.Encode()); err != nil || !reflect.DeepEqual(again, c) {
			t.Errorf("Decode(Encode(Decode(%q))) = %+v, %v; want %+v", data, again, err, c)
		}
	})
}
