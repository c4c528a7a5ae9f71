//go:build linux

package trace

// Turning what a trace found into manifest items.

import (
	"debug/elf"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/jailfs"
	"github.com/jailer-dev/jailer/jail/internal/privdirs"
)

// collapse replaces two or more missing files of a directory by the
// directory, when the jail lacks it, it is small and it holds no private
// directory.
func collapse(cands []*candidate, root string, j jailStat, private []privdirs.Dir) []*candidate {
	byDir := map[string][]*candidate{}
	for _, c := range cands {
		if c.fi.Mode().IsRegular() && !isProgram(c.Path, c.fi, c.Exec) {
			byDir[path.Dir(c.Path)] = append(byDir[path.Dir(c.Path)], c)
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		files := byDir[dir]
		if len(files) < 2 || strings.Count(dir, "/") < 2 || within(root, dir) || j.exists(dir) || privdirs.Holds(private, dir) {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		if _, _, whole := treeSize(dir, collapseMaxEntries, collapseMaxBytes); !whole {
			continue
		}
		var names []string
		for _, c := range files {
			c.gone = true
			names = append(names, path.Base(c.Path))
		}
		why := "looked for " + strings.Join(names, ", ")
		if files[0].Program != "" {
			why += " (" + files[0].Program + ")"
		}
		cands = append(cands, &candidate{Lookup: Lookup{Path: dir}, fi: fi, why: why})
	}
	return slices.DeleteFunc(cands, func(c *candidate) bool { return c.gone })
}

// treeSize counts the entries and bytes of a host directory tree, and
// says whether it is within the limits; it stops counting past them, so
// that a look at /usr costs no walk of /usr.
func treeSize(dir string, maxEntries int, maxBytes int64) (n int, size int64, within bool) {
	within = true
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		n++
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		if n > maxEntries || size > maxBytes {
			within = false
			return fs.SkipAll
		}
		return nil
	})
	return n, size, within
}

// isProgram says whether a host file is a program to install with its
// libraries: it was executed, or it is an executable ELF program (not a
// shared library) or a #! script.
func isProgram(p string, fi fs.FileInfo, executed bool) bool {
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	if executed {
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	if string(head[:2]) == "#!" {
		return true
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return false
	}
	switch ef.Type {
	case elf.ET_EXEC:
		return true
	case elf.ET_DYN:
		return !isLibName(path.Base(p)) && slices.ContainsFunc(ef.Progs, func(pr *elf.Prog) bool { return pr.Type == elf.PT_INTERP })
	}
	return false
}

// jailStat answers questions about paths in a jail tree through jailfs,
// resolving symlinks as the jail would, never outside it. Its root is nil
// when the tree cannot be opened: then nothing is in it.
type jailStat struct{ r *jailfs.Root }

// openJailStat opens the jail tree at root.
func openJailStat(root string) jailStat {
	r, err := jailfs.OpenRoot(root)
	if err != nil {
		return jailStat{}
	}
	return jailStat{r}
}

func (j jailStat) close() {
	if j.r != nil {
		j.r.Close()
	}
}

func (j jailStat) exists(p string) bool {
	if j.r == nil {
		return false
	}
	_, err := j.r.Stat(p, jailfs.FollowAll)
	return err == nil
}

// linkTarget follows p while it is a symlink in the jail, and returns the
// path it ends at (p itself when it is no symlink).
func (j jailStat) linkTarget(p string) string {
	if j.r == nil {
		return p
	}
	for range jailfs.MaxLinks {
		target, err := j.r.Readlink(p)
		if err != nil {
			return p // not a symlink
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return p
}
