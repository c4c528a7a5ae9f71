// Package elfdeps is jailer's ELF knowledge: reading an ELF file's identity
// and dynamic section as the loader does (without running it), asking the
// host's own dynamic loader which libraries a program loads (u-root's ldd,
// which runs `ld.so --list`, after refusing any interpreter that is not a
// root-owned system loader), and the host cache that keeps those answers
// and files' sha256 keyed by path and stat, so a build of programs seen
// before runs no loader and hashes nothing.
package elfdeps

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/jailer-dev/jailer/jail/lockfile"

	"github.com/u-root/u-root/pkg/ldd"
)

// Deps is what one host ELF file needs at run time.
type Deps struct {
	// Interp is the PT_INTERP path, "" for static programs and libraries.
	Interp string `json:"interp,omitempty"`
	// Libs are the host paths of every library loaded, transitively, as the
	// dynamic loader found them (following RUNPATH, RPATH and $ORIGIN), sorted.
	Libs []string `json:"libs,omitempty"`
	// Missing are the sonames the loader could not find, sorted.
	Missing []string `json:"missing,omitempty"`
	// Static is set for ELF files that load nothing.
	Static bool `json:"static,omitempty"`
}

// Resolver finds the libraries of host ELF files. It asks the system's
// dynamic loader (through u-root's ldd, which runs `ld.so --list`), because
// only the loader knows its own search rules; results are cached per file.
type Resolver struct {
	mu      sync.Mutex
	results map[string]*resolveResult
	Cache   *HostCache
}

type resolveResult struct {
	once sync.Once
	deps *Deps
	err  error
}

// NewResolver returns a Resolver backed by jailer's cache of host files.
func NewResolver() *Resolver {
	return &Resolver{results: map[string]*resolveResult{}, Cache: OpenHostCache()}
}

// Save writes what the Resolver learned to the cache.
func (r *Resolver) Save() { r.Cache.save() }

// systemLoader matches the dynamic loaders of glibc and musl in the
// directories distributions install them to. jailer runs the loader named
// by a binary, so a binary naming any other program as its interpreter
// (./evil with PT_INTERP /tmp/x) is refused rather than executed. It is
// compiled on first use: the jail's init runs this binary too.
var systemLoader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^/(usr/)?lib(64|32|x32)?(/[a-z0-9_]+-linux-gnu[a-z0-9_]*)?/ld-(linux|musl)[A-Za-z0-9_.-]*\.so\.[0-9]+$`)
})

// CheckLoader returns an error unless interp is a system dynamic loader:
// a well-known path, owned by root and writable by nobody else.
func CheckLoader(interp string) error {
	if !systemLoader().MatchString(interp) {
		return fmt.Errorf("interpreter %s is not a system dynamic loader (jailer only runs ld-linux or ld-musl from /lib or /usr/lib)", interp)
	}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return fmt.Errorf("interpreter %s: %w", interp, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("interpreter %s: %w", interp, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || fi.Mode().Perm()&0o022 != 0 || !fi.Mode().IsRegular() {
		return fmt.Errorf("interpreter %s (%s) is not a root-owned file that only root can write", interp, real)
	}
	return nil
}

// Resolve returns the dependencies of each host ELF file in paths, keyed by
// path, resolving up to one file per CPU at once. Files that are not ELF
// are left out of the result. A file that needs a missing library is not
// an error: its ELFDeps.Missing says which.
func (r *Resolver) Resolve(paths []string) (map[string]*Deps, error) {
	out, failed := r.ResolveEach(paths)
	errs := make([]error, 0, len(failed))
	for _, err := range failed {
		errs = append(errs, err)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return out, errors.Join(errs...)
}

// ResolveEach is Resolve with the error of each file that could not be
// resolved kept apart, keyed by path, so that a caller can tell a listed
// program that must resolve from a file that merely looks like one.
func (r *Resolver) ResolveEach(paths []string) (map[string]*Deps, map[string]error) {
	out := make(map[string]*Deps, len(paths))
	failed := map[string]error{}
	var mu sync.Mutex
	sem := make(chan struct{}, max(2, runtime.NumCPU()*2))
	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := r.one(p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[p] = err
			} else if d != nil {
				out[p] = d
			}
		}()
	}
	wg.Wait()
	return out, failed
}

func (r *Resolver) one(path string) (*Deps, error) {
	r.mu.Lock()
	res, ok := r.results[path]
	if !ok {
		res = &resolveResult{}
		r.results[path] = res
	}
	r.mu.Unlock()
	res.once.Do(func() {
		fi, err := os.Stat(path)
		if err != nil {
			res.err = err
			return
		}
		st := lockfile.StatOf(fi)
		if d, ok := r.Cache.Deps(path, st); ok {
			res.deps = d
			return
		}
		res.deps, res.err = resolveFile(path)
		if res.err == nil && res.deps != nil && len(res.deps.Missing) == 0 {
			r.Cache.putDeps(path, st, res.deps)
		}
	})
	return res.deps, res.err
}

// elfInfo reads what jailer needs from an ELF header: its interpreter and
// whether it loads anything at all. ok is false for files that are not ELF.
func elfInfo(path string) (interp string, needsLoader, ok bool, err error) {
	r, err := os.Open(path)
	if err != nil {
		return "", false, false, err
	}
	defer r.Close()
	f, err := elf.NewFile(r)
	if err != nil {
		return "", false, false, nil // not ELF, or too damaged to be loaded
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, min(p.Filesz, 4096))
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", false, true, fmt.Errorf("read interpreter of %s: %w", path, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	needed, _ := f.DynString(elf.DT_NEEDED)
	return interp, interp != "" || len(needed) > 0, true, nil
}

func resolveFile(path string) (*Deps, error) {
	interp, needsLoader, isELF, err := elfInfo(path)
	if err != nil || !isELF {
		return nil, err
	}
	if !needsLoader {
		return &Deps{Static: true}, nil
	}
	if interp != "" {
		if err := CheckLoader(interp); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	libs, err := ldd.List(path)
	if err != nil {
		missing, derr := missingLibs(interp, path)
		if derr != nil || len(missing) == 0 {
			return nil, fmt.Errorf("resolve libraries of %s: %w", path, err)
		}
		return &Deps{Interp: interp, Missing: missing}, nil
	}
	d := &Deps{Interp: interp}
	for _, l := range libs {
		if l != interp {
			d.Libs = append(d.Libs, l)
		}
	}
	sort.Strings(d.Libs)
	return d, nil
}

// missingLibs asks the loader, in trace mode, which sonames of path it cannot
// find. `ld.so --list` stops at the first; LD_TRACE_LOADED_OBJECTS lists all.
func missingLibs(interp, path string) ([]string, error) {
	if interp == "" {
		var err error
		if interp, err = ldd.LdSo(true); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(interp, path)
	cmd.Env = []string{"LD_TRACE_LOADED_OBJECTS=1"}
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return nil, err
	}
	var missing []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), " => "); ok && strings.TrimSpace(rest) == "not found" {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing, nil
}
