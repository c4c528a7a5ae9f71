package jailfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// answer is what a lookup gives: the inode and type found, or the errno.
type answer struct {
	dev, ino uint64
	typ      uint32
	err      error
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d:%d type %o", a.dev, a.ino, a.typ)
}

func stat(r *Root, p string, f Follow) answer {
	st, err := r.Stat(p, f)
	var errno unix.Errno
	if errors.As(err, &errno) {
		return answer{err: errno}
	}
	if err != nil {
		return answer{err: err}
	}
	return answer{dev: st.Dev, ino: st.Ino, typ: st.Mode & unix.S_IFMT}
}

// TestWalkAgreesWithOpenat2: the fallback walk answers as the kernel's
// openat2 does for every path of up to three components over a tree of
// directories, files and symlinks of every sort (relative, absolute,
// climbing, dangling, looping, through a file), with each Follow.
func TestWalkAgreesWithOpenat2(t *testing.T) {
	if !haveOpenat2() {
		t.Skip("this kernel has no openat2 to compare with")
	}
	l := newLab(t, map[string]string{
		"/rel": "a/b", "/abs": "/a/b/file", "/up": "../../..", "/a/b/back": "../..",
		"/dangling": "nowhere", "/loop": "loop", "/viafile": "/etc/secret/x", "/a/dir": "b/",
		"/a/b/dot": ".", "/chain": "rel/back/abs", "/a/toetc": "/etc",
	})
	plain, walk := l.open(t, false), l.open(t, true)
	names := []string{"a", "b", "..", "file", "rel", "abs", "toetc", "up", "back", "dangling", "loop", "viafile", "dir", "dot", "chain", ".", ""}
	paths := []string{"/"}
	for _, x := range names {
		paths = append(paths, "/"+x)
		for _, y := range names {
			paths = append(paths, "/"+x+"/"+y)
			for _, z := range names[:7] {
				paths = append(paths, "/"+x+"/"+y+"/"+z)
			}
		}
	}
	found := 0
	for _, p := range paths {
		for _, f := range []Follow{FollowAll, FollowParents, FollowNone} {
			want, got := stat(plain, p, f), stat(walk, p, f)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Stat(%q, %d): walk gives %v, openat2 %v", p, f, got, want)
			}
			if want.err == nil {
				found++
			}
		}
	}
	if found == 0 {
		t.Fatal("no path of the tree was found: the comparison says nothing")
	}
}

// TestOpenChild: one component, never a symlink, with and without openat2.
func TestOpenChild(t *testing.T) {
	l := newLab(t, map[string]string{"/link": "/a"})
	dir, err := unix.Open(l.jail, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	cases := []struct {
		name    string
		flags   int
		wantTyp uint32
		wantErr error
	}{
		{"a", unix.O_RDONLY | unix.O_DIRECTORY, unix.S_IFDIR, nil},
		{"a", unix.O_PATH, unix.S_IFDIR, nil},
		{"link", unix.O_RDONLY, 0, unix.ELOOP},
		{"link", unix.O_PATH | unix.O_DIRECTORY, 0, unix.ENOTDIR},
		{"link", unix.O_PATH, unix.S_IFLNK, nil},
		{"missing", unix.O_PATH, 0, unix.ENOENT},
		{"..", unix.O_PATH, 0, unix.EINVAL},
		{".", unix.O_PATH, 0, unix.EINVAL},
		{"a/b", unix.O_PATH, 0, unix.EINVAL},
	}
	for _, use := range []bool{true, false} {
		if use && !haveOpenat2() {
			continue
		}
		for _, c := range cases {
			fd, err := openChild(dir, c.name, c.flags, use)
			var st unix.Stat_t
			if err == nil {
				unix.Fstat(fd, &st)
				unix.Close(fd)
			}
			if err != c.wantErr || (err == nil && st.Mode&unix.S_IFMT != c.wantTyp) {
				t.Errorf("openChild(%q, %#x, openat2 %v) = type %o, %v; want type %o, %v", c.name, c.flags, use, st.Mode&unix.S_IFMT, err, c.wantTyp, c.wantErr)
			}
		}
	}
}

// TestRootMethods: OpenFile refuses what is not a regular file (without
// blocking on a FIFO), ReadFile refuses a file over its limit, Readlink
// follows the links on the way only, Stat follows as asked.
func TestRootMethods(t *testing.T) {
	for _, res := range resolvers {
		t.Run(res.name, func(t *testing.T) {
			l := newLab(t, map[string]string{"/l": "/a", "/a/inner": "b/file"})
			if err := unix.Mkfifo(filepath.Join(l.jail, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := l.open(t, res.walk)
			for _, p := range []string{"/fifo", "/a", "/"} {
				if f, err := r.OpenFile(p, FollowAll); !errors.Is(err, errNotRegular) {
					t.Errorf("OpenFile(%q) = %v, %v; want %v", p, f, err, errNotRegular)
				}
			}
			if f, err := r.OpenFile("/l/inner", FollowNone); !errors.Is(err, unix.ELOOP) {
				t.Errorf("OpenFile(/l/inner, FollowNone) = %v, %v; want ELOOP", f, err)
			}
			if data, err := r.ReadFile("/l/inner", 100); err != nil || string(data) != "jail:/a/b/file" {
				t.Errorf("ReadFile(/l/inner) = %q, %v; want the file", data, err)
			}
			if data, err := r.ReadFile("/etc/secret", 5); err == nil || !strings.Contains(err.Error(), "larger than 5 bytes") {
				t.Errorf("ReadFile(/etc/secret, 5) = %q, %v; want an error: larger than 5 bytes", data, err)
			}
			if target, err := r.Readlink("/l/inner"); err != nil || target != "b/file" {
				t.Errorf("Readlink(/l/inner) = %q, %v; want b/file", target, err)
			}
			if target, err := r.Readlink("/a/b"); err == nil {
				t.Errorf("Readlink(/a/b), a directory, = %q, nil; want an error", target)
			}
			if st, err := r.Stat("/l", FollowParents); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
				t.Errorf("Stat(/l, FollowParents) = %o, %v; want the symlink", st.Mode, err)
			}
			if st, err := r.Stat("/l", FollowAll); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				t.Errorf("Stat(/l, FollowAll) = %o, %v; want the directory", st.Mode, err)
			}
			var pe *os.PathError
			if _, err := r.Stat("/missing", FollowAll); !errors.As(err, &pe) || pe.Path != filepath.Join(l.jail, "missing") {
				t.Errorf("Stat(/missing) = %v; want a *PathError naming %s", err, filepath.Join(l.jail, "missing"))
			}
		})
	}
}

// TestWalkTree: the walk lists symlinks as symlinks without going through
// them, and the fallback lists the same tree.
func TestWalkTree(t *testing.T) {
	l := newLab(t, map[string]string{"/out": "/", "/a/up": "../.."})
	var trees []*Tree
	for _, res := range resolvers {
		tree, err := l.open(t, res.walk).Walk()
		if err != nil {
			t.Fatalf("%s: Walk = %v", res.name, err)
		}
		trees = append(trees, tree)
	}
	tree := trees[0]
	if !reflect.DeepEqual(trees[0], trees[1]) {
		t.Errorf("Walk with openat2 = %+v, with the fallback = %+v", trees[0], trees[1])
	}
	if n := tree.Nodes["/out"]; n.Kind() != "symlink" || n.Target != "/" {
		t.Errorf("Walk: /out = %+v, want the symlink to /", n)
	}
	want := []string{"/a/b/file", "/etc/secret", filepath.Clean(l.secret)}
	if !reflect.DeepEqual(tree.Files, want) {
		t.Errorf("Walk: files = %q, want %q", tree.Files, want)
	}
}
