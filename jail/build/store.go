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
// it damaged (with verify, hashed). It returns false, having copied the
// file, when the store does not take e or the link cannot be made.
func (j *copyJob) storeFile(ctx context.Context, e plan.Entry, le *lockfile.Entry, buf []byte, report func(int64)) (stored bool, err error) {
	uid, gid, ok := storeOwner(e)
	if e.Source == "" || !ok || !j.linkable {
		_, err := writeFile(ctx, j.root, e, le, false, buf, j.cache, report)
		return false, err
	}
	rel := relPath(e.Dest)
	src, err := os.Open(e.Source)
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", e.Source, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", e.Source, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("copy %s: not a regular file", e.Source)
	}
	le.SourceStat = lockfile.StatOf(fi)
	dir, err := j.root.Open(path.Dir(rel))
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	defer dir.Close()
	k := store.Key{Mode: e.Mode, UID: uid, GID: gid, Mtime: le.SourceStat.Mtime}
	var known bool
	k.SHA256, known = j.cache.SHA(e.Source, le.SourceStat)
	k.SHA256, err = j.linkStored(ctx, k, known, src, fi, int(dir.Fd()), path.Base(rel), buf, report)
	if errors.Is(err, unix.EMLINK) || errors.Is(err, unix.EXDEV) {
		// As many links as the filesystem allows, or a store reached
		// through another mount: this one file is copied.
		_, err := writeFile(ctx, j.root, e, le, false, buf, j.cache, report)
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", e.Source, e.Dest, err)
	}
	tfi, err := j.root.Lstat(rel)
	if err != nil {
		return false, err
	}
	le.Size, le.SHA256, le.Store = fi.Size(), k.SHA256, k.Name()
	// No ctime: every jail that links the file changes it.
	le.TreeStat = lockfile.StatOf(tfi)
	return true, nil
}

// linkStored links the store file of k at name in dir, adding it from
// src first when the store lacks it or has it damaged, and returns the
// sum of its content; known says whether k has it, else it is learnt by
// copying src into the store (the host cache was cold), which may turn
// out to have the file already.
func (j *copyJob) linkStored(ctx context.Context, k store.Key, known bool, src *os.File, fi os.FileInfo, dir int, name string, buf []byte, report func(int64)) (string, error) {
	var t *store.Temp
	if !known {
		var err error
		if t, err = j.store.Create(); err != nil {
			return "", err
		}
		h := sha256.New()
		if err := copyContent(ctx, t.File, src, fi, h, buf, report); err != nil {
			t.Discard()
			return "", err
		}
		k.SHA256 = hex.EncodeToString(h.Sum(nil))
		j.cache.PutSHA(src.Name(), lockfile.StatOf(fi), k.SHA256)
	}
	err := j.store.Link(k, fi.Size(), dir, name, j.opts.Force)
	missing, damaged := errors.Is(err, store.ErrMissing), errors.Is(err, store.ErrDamaged)
	if !missing && !damaged {
		if t != nil {
			t.Discard()
		} else if err == nil && report != nil {
			report(fi.Size())
		}
		return k.SHA256, err
	}
	if t == nil {
		if t, err = j.store.Create(); err != nil {
			return "", err
		}
		// With the sum known, the kernel copies the data alone.
		if err := copyContent(ctx, t.File, src, fi, nil, buf, report); err != nil {
			t.Discard()
			return "", err
		}
	}
	if err := t.Commit(k, damaged); err != nil {
		return "", err
	}
	return k.SHA256, j.store.Link(k, fi.Size(), dir, name, false)
}
