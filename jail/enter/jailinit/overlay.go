//go:build linux

package jailinit

// A fresh root for every run, made by the init in its mount namespace
// before anything else is mounted: the built tree is the read-only lower
// layer of an overlay whose upper and work directories live on a tmpfs
// of the run's own. Whatever the command writes, deletes, chmods or
// chowns lands on that tmpfs and is gone when the mount namespace dies
// with the init; the tree on disk is never written, so concurrent runs
// of one jail never see each other's files, and a jail needs no targets
// made in it for mounts (they are made in the upper layer).
//
// The tmpfs is mounted over the tree's own path, and the overlay over
// the tmpfs: both only in the init's mount namespace, where nobody else
// looks. The layers are named to overlayfs as /proc/self/fd/N of
// descriptors opened beforehand, so the tree stays reachable once the
// tmpfs covers its path, and a path with a comma or colon in it cannot
// be read as another option. The overlay keeps private references to its
// layers, so nothing of them needs to stay mounted after pivot_root.
//
// With KeepChanges the init sends the parent a descriptor of the upper
// directory (SCM_RIGHTS on ChangesFd) before the command starts: the
// descriptor keeps the tmpfs alive after the init and its namespace are
// gone, so the parent can save what changed even when it killed the
// jail on a timeout (package enter's changes.go).

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// overlayOptions are fixed so that the upper layer is a plain record of
// what changed: no redirects made or followed (a renamed directory is
// copied up whole), no metacopy (a chowned file is copied up with its
// data), no index.
const overlayOptions = "redirect_dir=nofollow,metacopy=off,index=off"

// overlayRoot mounts the run's fresh root over cfg.Root (see above).
func overlayRoot(cfg *Config) error {
	lower, err := unix.Open(cfg.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: cfg.Root, Err: err}
	}
	defer unix.Close(lower)
	var st unix.Stat_t
	if err := unix.Fstat(lower, &st); err != nil {
		return &os.PathError{Op: "stat", Path: cfg.Root, Err: err}
	}
	data := fmt.Sprintf("mode=0700,size=%d", cfg.TmpSize)
	if err := unix.Mount("tmpfs", cfg.Root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return &os.PathError{Op: "mount the run's tmpfs on", Path: cfg.Root, Err: err}
	}
	tmp, err := unix.Open(cfg.Root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open the run's tmpfs", Path: cfg.Root, Err: err}
	}
	defer unix.Close(tmp)
	for _, d := range []string{"upper", "work"} {
		if err := unix.Mkdirat(tmp, d, 0o700); err != nil {
			return &os.PathError{Op: "mkdir on the run's tmpfs", Path: d, Err: err}
		}
	}
	upper, err := unix.Openat(tmp, "upper", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open the run's upper layer", Path: cfg.Root, Err: err}
	}
	defer unix.Close(upper)
	// The overlay's root shows its upper directory's owner and mode:
	// make them the tree's. Without root the parent says who that is
	// inside; an id the namespace does not map (a tree built by root)
	// is left to root inside, the caller.
	uid, gid := int(st.Uid), int(st.Gid)
	if len(cfg.RootOwner) == 2 {
		uid, gid = cfg.RootOwner[0], cfg.RootOwner[1]
	}
	if err := unix.Fchown(upper, uid, gid); err != nil {
		return &os.PathError{Op: "chown the run's upper layer", Path: cfg.Root, Err: err}
	}
	if err := unix.Fchmod(upper, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "chmod the run's upper layer", Path: cfg.Root, Err: err}
	}
	work, err := unix.Openat(tmp, "work", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open the run's work directory", Path: cfg.Root, Err: err}
	}
	defer unix.Close(work)
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,%s", fdPath(lower), fdPath(upper), fdPath(work), overlayOptions)
	if cfg.UserNS {
		// trusted.* xattrs are for the host's root only.
		opts += ",userxattr"
	}
	if err := unix.Mount("overlay", cfg.Root, "overlay", 0, opts); err != nil {
		return overlayError(cfg.Root, lower, cfg.UserNS, err)
	}
	if cfg.KeepChanges {
		// The run's changes go to the parent before they can be made.
		err := unix.Sendmsg(ChangesFd, []byte("upper"), unix.UnixRights(upper), nil, 0)
		unix.Close(ChangesFd)
		if err != nil {
			return fmt.Errorf("hand the run's changes to jailer: %w", err)
		}
	}
	return nil
}

// overlayError explains why the overlay could not be mounted on the tree
// at dir (descriptor lower), and what to do.
func overlayError(dir string, lower int, userns bool, err error) error {
	var fs unix.Statfs_t
	if unix.Fstatfs(lower, &fs) == nil && fs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return fmt.Errorf("mount a fresh root over %s: %w: the jail is on overlayfs itself (a container's filesystem?), and the kernel refuses to stack another overlay on it (build the jail on another filesystem, such as a volume, or run in the tree with --persist)", dir, err)
	}
	if userns && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)) {
		return fmt.Errorf("mount a fresh root over %s: overlay: %w: this kernel does not mount overlayfs in a user namespace (Linux 5.11 or later does; see jailer doctor), or the tree's filesystem does not carry an overlay there (run in the tree with --persist)", dir, err)
	}
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("mount a fresh root over %s: %w: this kernel has no overlayfs (modprobe overlay, or run in the tree with --persist)", dir, err)
	}
	return fmt.Errorf("mount a fresh root over %s: overlay: %w (run in the tree with --persist)", dir, err)
}
