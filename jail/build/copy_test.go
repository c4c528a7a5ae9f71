package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

// fileSHA256 reads the whole of a file with read(2), holes as zeros.
func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lockEntry returns the lock's entry for dest.
func lockEntry(t *testing.T, out, dest string) lockfile.Entry {
	t.Helper()
	lock, err := lockfile.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lock.Entries {
		if e.Dest == dest {
			return e
		}
	}
	t.Fatalf("the lock of %s has no %s", out, dest)
	return lockfile.Entry{}
}

// TestBuildKeepsHoles builds a sparse file (256 MiB, a few data regions, a
// hole at the end) into jails: with the cache cold the build hashes while
// it copies, with it warm the kernel copies the data alone, and with
// --link hardlink it only hashes. Each time the jail's file reads as the
// host's, has its size and no more blocks than its data needs, and the
// lock's sha256 is that of the whole content.
func TestBuildKeepsHoles(t *testing.T) {
	testutil.SkipShort(t, "builds a jail with a 256 MiB sparse file")
	dir := t.TempDir()
	t.Setenv("JAILER_CACHE_DIR", filepath.Join(dir, "cache"))
	const size = 256 << 20
	src := filepath.Join(dir, "sparse.img")
	want, dataBytes := writeSparse(t, src, size)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nfiles: [{src: ./sparse.img, dest: /sparse.img}]\n")
	tests := []struct {
		name, out, link string
		sumCached       bool
	}{
		{"first build hashes", "cold", lockfile.LinkCopy, false},
		{"rebuild with the sum cached", "warm", lockfile.LinkCopy, true},
		{"hardlink hashes", "linked", lockfile.LinkHardlink, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.link == lockfile.LinkHardlink {
				testutil.RequireRoot(t)             // only a file owned as in the jail (by root) is linked
				t.Setenv("JAILER_CACHE_DIR", "off") // the sum must be computed
			}
			_, cached := elfdeps.OpenHostCache().SHA(src, mustStat(t, src))
			if cached != tt.sumCached {
				t.Fatalf("before the build, the cache knows the sum: %v; want %v", cached, tt.sumCached)
			}
			out := filepath.Join(dir, tt.out)
			s := mustBuild(t, m, Options{Output: out, Link: tt.link})
			if tt.link == lockfile.LinkHardlink && s.Linked != 1 {
				t.Fatalf("Linked = %d, want the file hardlinked", s.Linked)
			}
			if e := lockEntry(t, out, "/sparse.img"); e.SHA256 != want || e.Size != size {
				t.Errorf("lock entry: sha256 %s, size %d; want %s (the whole content, holes as zeros), %d", e.SHA256, e.Size, want, size)
			}
			copied := filepath.Join(out, "sparse.img")
			fi, err := os.Stat(copied)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != size {
				t.Errorf("size of the copy = %d, want %d", fi.Size(), size)
			}
			if tt.link == lockfile.LinkHardlink {
				if inode(t, copied) != inode(t, src) {
					t.Error("the file was not hardlinked")
				}
				return // the same inode: content and blocks are the host's
			}
			// Slack for rounding each region to blocks, and extent blocks.
			if blocks := fi.Sys().(*syscall.Stat_t).Blocks * 512; blocks > dataBytes+1<<20 {
				t.Errorf("the copy has %d bytes allocated for %d of data in %d: its holes were filled", blocks, dataBytes, size)
			}
			if got := fileSHA256(t, copied); got != want {
				t.Errorf("sha256 of the copy = %s, want %s", got, want)
			}
		})
	}
}

// writeSparse writes a file of size bytes at p with a few regions of data,
// some not block-aligned, and holes between, and returns the sha256 of its
// whole content (holes read as zeros) and the bytes of data.
func writeSparse(t *testing.T, p string, size int64) (sum string, dataBytes int64) {
	t.Helper()
	regions := []struct {
		off int64
		len int
	}{
		{0, 4096},
		{50<<20 + 5000, 70000},       // not block-aligned
		{100 << 20, 2*copyChunk + 5}, // several chunks in one extent
		{200 << 20, 1 << 20},
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	var at int64
	for i, r := range regions {
		data := bytes.Repeat([]byte{byte(i + 1), 0xa5, 0}, r.len/3+1)[:r.len]
		if _, err := f.WriteAt(data, r.off); err != nil {
			t.Fatal(err)
		}
		h.Write(make([]byte, r.off-at))
		h.Write(data)
		at = r.off + int64(r.len)
		dataBytes += int64(r.len)
	}
	h.Write(make([]byte, size-at))
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), dataBytes
}

// jailSnapshot is everything about a jail that a failed build must not
// change: its directory's identity, its lock, and every entry's mode and
// content.
func jailSnapshot(t *testing.T, out string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	id, err := lockfile.TreeIDOf(out)
	if err != nil {
		t.Fatal(err)
	}
	snap["(tree)"] = fmt.Sprint(id)
	lock, err := os.ReadFile(lockfile.Path(out))
	if err != nil {
		t.Fatal(err)
	}
	snap["(lock)"] = string(lock)
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			v += " " + fileSHA256(t, p)
		}
		snap[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestBuildInterruptedDuringCopy cancels a build from its progress report
// after the first chunk of a large file, on each way a file is taken in:
// copied and hashed, copied by the kernel with the sum cached, hashed for
// a hardlink, and a hole hashed. The build must stop before the end of the
// file, fail with an error wrapping context.Canceled, leave the previous
// jail as it was and remove its staging tree.
func TestBuildInterruptedDuringCopy(t *testing.T) {
	const size = 4*copyChunk + 123
	data := bytes.Repeat([]byte("jailer "), size/7+1)[:size]
	tests := []struct {
		name   string
		link   string
		warm   bool // build it once elsewhere first, so the sum is cached
		sparse bool
	}{
		{name: "copy and hash", link: lockfile.LinkCopy},
		{name: "copy with the sum cached", link: lockfile.LinkCopy, warm: true},
		{name: "hash for a hardlink", link: lockfile.LinkHardlink},
		{name: "hash a hole", link: lockfile.LinkCopy, sparse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("JAILER_CACHE_DIR", filepath.Join(dir, "cache"))
			big := filepath.Join(dir, "big")
			os.WriteFile(big, []byte("the previous content\n"), 0o644)
			m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\ndirs: [/tmp]\nfiles: [{src: ./big, dest: /data/big}]\n")
			out := filepath.Join(dir, "jail")
			mustBuild(t, m, Options{Output: out})
			before := jailSnapshot(t, out)

			if tt.sparse {
				os.Truncate(big, 0)
				os.Truncate(big, size)
			} else {
				os.WriteFile(big, data, 0o644)
			}
			if tt.warm {
				mustBuild(t, m, Options{Output: filepath.Join(dir, "warm")})
				if _, ok := elfdeps.OpenHostCache().SHA(big, mustStat(t, big)); !ok {
					t.Fatal("the cache has no sum of the file after a build")
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var reports []int64
			opts := Options{Output: out, Link: tt.link, Progress: func(done, total int64) {
				reports = append(reports, done)
				if done >= copyChunk {
					cancel() // after the first chunk
				}
			}}
			_, err := Build(ctx, testutil.LoadManifest(t, m), opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Build cancelled during a copy = %v, want an error wrapping context.Canceled", err)
			}
			if len(reports) == 0 || reports[len(reports)-1] >= size {
				t.Errorf("progress reports %v: the copy went on to the end of the %d bytes after the cancel", reports, size)
			}
			if after := jailSnapshot(t, out); !maps.Equal(before, after) {
				t.Errorf("the interrupted build changed the previous jail:\nbefore %v\nafter  %v", before, after)
			}
			if left := leftovers(out); len(left) > 0 {
				t.Errorf("the interrupted build left %v", left)
			}
		})
	}
}
