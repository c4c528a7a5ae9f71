package build

// Files of a build with --link store: each is linked from the content
// store (package store), which gets it first when it lacks it. Files the
// store does not take are copied: those written from the manifest (a few
// bytes each, dated by the build), those a build by root gives another
// owner (who could make the store file writable: store files belong to
// the builder), and all of them when the store is on another filesystem
// than the jail.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path"

	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"
	"github.com/jailer-dev/jailer/jail/store"

	"golang.org/x/sys/unix"
)

// openStore opens the store of a build with --link store, and finds out
// whether its files can be linked into the staging tree (open as root):
// when they cannot, the build copies them, with one warning.
func openStore(ctx context.Context, root *os.Root, opts Options, sum *Summary) (st *store.Store, linkable bool, err error) {
	st, err = store.Open(ctx, opts.Store)
	if err != nil {
		return nil, false, err
	}
	dir, err := root.Open(".")
	if err != nil {
		st.Close()
		return nil, false, err
	}
	defer dir.Close()
	err = st.CanLink(int(dir.Fd()))
	switch {
	case err == nil:
		return st, true, nil
	case errors.Is(err, unix.EXDEV):
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("the store %s is on another filesystem than the jail: its files were copied, not linked (use a store on the jail's filesystem: --store DIR or %s)", opts.Store, store.Env))
		return st, false, nil
	}
	st.Close()
	return nil, false, err
}

// storeOwner is the owner that the store file of e would have, and whether
// the store takes e: a build by root stores only root's files; one
// without root owns every file it makes.
func storeOwner(e plan.Entry) (uid, gid int, ok bool) {
	if lockfile.BuildsRootless() {
		return os.Geteuid(), os.Getegid(), true
	}
	return e.UID, e.GID, e.UID == 0
}

// storeFile writes the file entry e into the staging tree as a link of
// its store file, adding that file to the store when it lacks it or has
// it damaged (with --force, hashed). It returns false, having copied the
// file, when the store does not take e or the link cannot be made. When
// the host cache knows the source's sum and the store has the file, the
// source is not even opened: a stat and a link make the file.
func (j *copyJob) storeFile(ctx context.Context, e plan.Entry, le *lockfile.Entry, buf []byte, report func(int64)) (stored bool, err error) {
	uid, gid, ok := storeOwner(e)
	if e.Source == "" || !ok || !j.linkable {
		_, err := writeFile(ctx, j.root, e, le, false, buf, j.cache, report)
		return false, err
	}
	rel := relPath(e.Dest)
	dir, err := j.dir(path.Dir(rel))
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	st, sum, err := j.linkStored(ctx, e, le, store.Key{Mode: e.Mode, UID: uid, GID: gid}, dir, path.Base(rel), buf, report)
	if errors.Is(err, unix.EMLINK) || errors.Is(err, unix.EXDEV) {
		// As many links as the filesystem allows, or a store reached
		// through another mount: this one file is copied.
		_, err := writeFile(ctx, j.root, e, le, false, buf, j.cache, report)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	le.Size, le.SHA256 = le.SourceStat.Size, sum
	// The store file's stat as linked, without the ctime, which every
	// jail that links the file changes.
	le.TreeStat = lockfile.Stat{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano()}
	return true, nil
}

// linkStored links the store file of e's source (k holds its mode and
// owner) at name in dir, recording the source's stat and the store
// file's name in le, and returns the store file's stat and the sum of its
// content. It adds the file first when the store lacks it or has it
// damaged, copying the source; when the host cache does not know the
// source's sum, it is learnt by that copy (into the store, which may turn
// out to have the file already).
func (j *copyJob) linkStored(ctx context.Context, e plan.Entry, le *lockfile.Entry, k store.Key, dir int, name string, buf []byte, report func(int64)) (unix.Stat_t, string, error) {
	fi, err := os.Stat(e.Source)
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		return unix.Stat_t{}, "", err
	}
	le.SourceStat = lockfile.StatOf(fi)
	k.Mtime = le.SourceStat.Mtime
	var known, damaged bool
	if k.SHA256, known = j.cache.SHA(e.Source, le.SourceStat); known {
		le.Store = k.Name()
		st, err := j.store.Link(k, fi.Size(), dir, name, j.opts.Force)
		if err == nil {
			if report != nil {
				report(fi.Size())
			}
			return st, k.SHA256, nil
		}
		if !errors.Is(err, store.ErrMissing) && !errors.Is(err, store.ErrDamaged) {
			return st, "", err
		}
		damaged = errors.Is(err, store.ErrDamaged)
	}
	src, err := os.Open(e.Source)
	if err != nil {
		return unix.Stat_t{}, "", err
	}
	defer src.Close()
	if fi, err = src.Stat(); err != nil {
		return unix.Stat_t{}, "", err
	}
	if lockfile.StatOf(fi) != le.SourceStat { // changed since: start afresh
		le.SourceStat, known = lockfile.StatOf(fi), false
		k.Mtime = le.SourceStat.Mtime
	}
	t, err := j.store.Create()
	if err != nil {
		return unix.Stat_t{}, "", err
	}
	var h hash.Hash
	if !known {
		h = sha256.New() // else the kernel copies the data alone
	}
	if err := copyContent(ctx, t.File, src, fi, h, buf, report); err != nil {
		t.Discard()
		return unix.Stat_t{}, "", err
	}
	if !known {
		k.SHA256 = hex.EncodeToString(h.Sum(nil))
		j.cache.PutSHA(e.Source, le.SourceStat, k.SHA256)
		le.Store = k.Name()
		st, err := j.store.Link(k, fi.Size(), dir, name, j.opts.Force)
		if err == nil || !errors.Is(err, store.ErrMissing) && !errors.Is(err, store.ErrDamaged) {
			t.Discard()
			return st, k.SHA256, err
		}
		damaged = errors.Is(err, store.ErrDamaged)
	}
	if err := t.Commit(k, damaged); err != nil {
		return unix.Stat_t{}, "", err
	}
	j.storeAdded.Add(1)
	st, err := j.store.Link(k, fi.Size(), dir, name, false)
	return st, k.SHA256, err
}

// dir returns a descriptor of the staging tree's directory rel, opened
// once per build (the tree's directories are all made before its files).
func (j *copyJob) dir(rel string) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if f, ok := j.dirs[rel]; ok {
		return int(f.Fd()), nil
	}
	f, err := j.root.Open(rel)
	if err != nil {
		return -1, err
	}
	if j.dirs == nil {
		j.dirs = map[string]*os.File{}
	}
	j.dirs[rel] = f
	return int(f.Fd()), nil
}
