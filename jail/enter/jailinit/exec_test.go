//go:build linux

package jailinit

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExecRequestRoundTrip: every field of an ExecRequest comes back
// from Encode and DecodeExec as it went in.
func TestExecRequestRoundTrip(t *testing.T) {
	var want ExecRequest
	n := 0
	fill(reflect.ValueOf(&want).Elem(), &n)
	want.UID, want.GID = 1000, 1001 // DecodeExec refuses negative ids
	got, err := DecodeExec(want.Encode())
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("DecodeExec(Encode(%+v)) = %+v, %v", want, got, err)
	}
}

// TestDecodeExecRefuses: what is not a whole request of this encoding,
// or asks for nothing to run, is refused.
func TestDecodeExecRefuses(t *testing.T) {
	good := (&ExecRequest{Argv: []string{"sh"}, Env: []string{"A=1"}}).Encode()
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not an exec request"},
		{"a config", (&Config{Argv: []string{"sh"}}).Encode(), "not an exec request"},
		{"cut short", good[:len(good)-2], "malformed"},
		{"trailing bytes", append(slices.Clone(good), 0), "malformed"},
		{"no command", (&ExecRequest{}).Encode(), "without a command"},
		{"an empty command", (&ExecRequest{Argv: []string{""}}).Encode(), "without a command"},
		{"negative ids", (&ExecRequest{Argv: []string{"sh"}, SetUser: true, UID: -1}).Encode(), "negative ids"},
	} {
		if _, err := DecodeExec(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeExec(%s) = %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	for _, c := range []struct {
		env, extra, want []string
	}{
		{[]string{"PATH=/bin", "HOME=/"}, nil, []string{"PATH=/bin", "HOME=/"}},
		{[]string{"PATH=/bin", "HOME=/"}, []string{"X=1"}, []string{"PATH=/bin", "HOME=/", "X=1"}},
		{[]string{"PATH=/bin", "HOME=/"}, []string{"PATH=/usr/bin", "X="}, []string{"HOME=/", "PATH=/usr/bin", "X="}},
	} {
		if got := mergeEnv(c.env, c.extra); !slices.Equal(got, c.want) {
			t.Errorf("mergeEnv(%q, %q) = %q, want %q", c.env, c.extra, got, c.want)
		}
	}
}

// TestCheckStdio: a directory and an O_PATH descriptor of anything are
// ways out of the jail; a file, a pipe and /dev/null are not.
func TestCheckStdio(t *testing.T) {
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	file, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	pathFd, err := unix.Open(file.Name(), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pathFd)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	for _, c := range []struct {
		name string
		fd   int
		want string
	}{
		{"a directory", int(dir.Fd()), StdioDir},
		{"an O_PATH file", pathFd, StdioPath},
		{"a file", int(file.Fd()), ""},
		{"a pipe", int(pw.Fd()), ""},
		{"/dev/null", int(null.Fd()), ""},
	} {
		if got, err := CheckStdio(c.fd); err != nil || got != c.want {
			t.Errorf("CheckStdio(%s) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// FuzzDecodeExec: whatever a connection sends, DecodeExec returns a
// request or an error, never panics, and a request it accepts encodes
// back to itself.
func FuzzDecodeExec(f *testing.F) {
	f.Add((&ExecRequest{Argv: []string{"/bin/sh", "-c", "id"}, Env: []string{"A=1"}, Workdir: "/tmp", SetUser: true, UID: 1000, GID: 1000, Groups: []int{10}, Tty: true}).Encode())
	f.Add((&ExecRequest{Argv: []string{"true"}}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeExec(data)
		if err != nil {
			return
		}
		if again, err := DecodeExec(r.Encode()); err != nil || !reflect.DeepEqual(again, r) {
			t.Errorf("DecodeExec(Encode(DecodeExec(%q))) = %+v, %v; want %+v", data, again, err, r)
		}
	})
}
