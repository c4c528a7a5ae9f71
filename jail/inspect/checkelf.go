package inspect

// The ELF half of `jailer check`: does every program and library in a jail
// find its interpreter and its DT_NEEDED libraries inside the jail, searching
// as the glibc loader would once chrooted there? Nothing in the jail is
// executed; the ELF headers and the dynamic segment are read directly, and
// every path is resolved through jailfs, never against the host.

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/jailfs"
)

// candidate returns what the jail path p is as a library: whether it is an
// ELF file, of which identity, which file, and its dependencies. Symlinks
// are followed inside the jail, and ".." after one goes where the kernel
// takes a chrooted loader.
func (c *checker) candidate(p string) candidateResult {
	c.mu.Lock()
	res, done := c.candidates[p]
	c.mu.Unlock()
	if done {
		return res
	}
	if f, err := c.root.OpenFile(p, jailfs.FollowAll); err == nil {
		if res.id, res.ok = elfdeps.ReadID(f); res.ok {
			if res.file, err = fileIDOf(f); err == nil {
				res.deps, _ = c.parse(f, res.file)
			} else {
				res.ok = false
			}
		}
		f.Close()
	}
	c.mu.Lock()
	c.candidates[p] = res
	c.mu.Unlock()
	return res
}

// candidateResult is a cached answer of candidate.
type candidateResult struct {
	id   elfdeps.ID
	ok   bool             // p is an ELF file the loader would consider
	file fileID           // which file p is
	deps *elfdeps.Dynamic // nil when it cannot be parsed
}

// fileID identifies a file by device and inode, as the loader does to
// notice that it has already loaded a library found under another name.
type fileID struct{ dev, ino uint64 }

// fileIDOf returns which file f is.
func fileIDOf(f *os.File) (fileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("stat %s: no inode number", f.Name())
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// parse returns the dependencies of f, which is the file id, or why it is a
// corrupt ELF file. Each file is parsed once per check: the walk parses every
// regular ELF file in the tree, so that a library loaded by many programs
// costs one parse.
func (c *checker) parse(f io.ReaderAt, id fileID) (*elfdeps.Dynamic, error) {
	c.mu.Lock()
	res, done := c.parsed[id]
	c.mu.Unlock()
	if !done {
		res.deps, res.err = elfdeps.ReadDynamic(f)
		c.mu.Lock()
		c.parsed[id] = res
		c.mu.Unlock()
	}
	return res.deps, res.err
}

// parseResult is a cached answer of parse.
type parseResult struct {
	deps *elfdeps.Dynamic
	err  error
}
