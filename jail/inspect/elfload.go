package inspect

// The loader half of `jailer check`: for each program in the jail (an ELF
// file with PT_INTERP), the libraries glibc's loader would map when the
// program starts in the jail, found as the loader finds them
// (_dl_map_object_deps in elf/dl-deps.c, _dl_map_object in elf/dl-load.c),
// so that check and a real start agree on every library:
//
//   - Objects are mapped breadth first: the program's DT_NEEDED in order,
//     then those of the first library mapped, and so on.
//   - A needed name is first matched against the objects already mapped:
//     the names they were loaded under and their DT_SONAME. The interpreter
//     is mapped from the start, under its PT_INTERP path and its DT_SONAME.
//     A library needed by one library is often found only this way, through
//     the RUNPATH of the program that loaded it first (systemd-analyze).
//   - A name with a '/' is a path ($ORIGIN expanded), not searched for.
//   - Otherwise, unless the object that needs it has a DT_RUNPATH: the
//     DT_RPATH of that object, then of the object that loaded it, and so on
//     up to the program. Then the needing object's own DT_RUNPATH, never
//     another's. Then the default dirs, unless the needing object has
//     DF_1_NODEFLIB. A jail has no ld.so.cache, and LD_LIBRARY_PATH is the
//     caller's, so neither is searched.
//   - $ORIGIN is the directory of the object that carries the path: the
//     program's path in the tree, or the path a library was opened under
//     (symlinks kept, as the loader keeps them; the kernel then resolves
//     ".." after a symlink, inside the jail).
//   - A candidate of another class or machine than the program is skipped.
//   - A file found under a second name (the same inode) is the object
//     already mapped.
//
// The problems are reported against the program whose start would fail,
// naming the library that needed what is missing. Libraries that no
// program maps (plugins that are dlopen'ed, such as Python's extension
// modules) are checked on their own: their DT_NEEDED through their own
// RPATH or RUNPATH and the default dirs.

import (
	"fmt"
	"path"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
)

// treeELF is a loadable ELF file walked in the tree.
type treeELF struct {
	path string
	file fileID
	deps *elfdeps.Dynamic
}

// loadedObject is one object mapped in an emulated start, as glibc's
// struct link_map records it.
type loadedObject struct {
	// path is the path it was opened under; for the program, its path in
	// the tree (what /proc/self/exe shows).
	path string
	// deps is nil for a file that cannot be parsed.
	deps *elfdeps.Dynamic
	// loader is the object whose DT_NEEDED mapped it, nil for the program.
	loader *loadedObject
}

// origin returns what $ORIGIN stands for in the paths o carries: the
// directory of o's path, "/" for a file in the root.
func (o *loadedObject) origin() string {
	i := strings.LastIndexByte(o.path, '/')
	if i <= 0 {
		return "/"
	}
	return o.path[:i]
}

// loadProgram emulates the start of the program at the jail path p, and
// reports against p a missing or wrong interpreter and every library that
// the loader would not find. It records which files the start maps.
func (c *checker) loadProgram(p string, d *elfdeps.Dynamic) {
	prog := &loadedObject{path: p, deps: d}
	// The names and files that match an object already mapped. The
	// program answers only to its DT_SONAME: the kernel mapped it, and the
	// loader knows neither its name nor its inode.
	names := map[string]bool{}
	files := map[fileID]bool{}
	addName := func(name string) {
		if name != "" {
			names[name] = true
		}
	}
	addName(d.Soname)
	var mapped []fileID
	switch in := c.candidate(d.Interp); {
	case !in.ok:
		c.add(p, "interpreter", fmt.Sprintf("interpreter %s not found in the jail (rebuild, or add it to the manifest)", d.Interp))
	case in.id != d.ID:
		c.add(p, "interpreter", fmt.Sprintf("interpreter %s is a %s ELF, not %s (rebuild)", d.Interp, in.id, d.ID))
	default:
		addName(d.Interp)
		if in.deps != nil {
			addName(in.deps.Soname)
		}
		files[in.file] = true
		mapped = append(mapped, in.file)
	}
	queue := []*loadedObject{prog}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		if o.deps == nil {
			continue
		}
		for _, name := range o.deps.Needed {
			if names[name] {
				continue
			}
			s := c.search(prog, o, name, d.ID)
			if s.found == "" {
				c.add(p, "unresolved", c.notFound(&s, prog, o, name, d.ID))
				continue
			}
			addName(name)
			addName(s.found)
			if files[s.res.file] {
				continue
			}
			files[s.res.file] = true
			mapped = append(mapped, s.res.file)
			if s.res.deps != nil {
				addName(s.res.deps.Soname)
			}
			queue = append(queue, &loadedObject{path: s.found, deps: s.res.deps, loader: o})
		}
	}
	c.mu.Lock()
	for _, f := range mapped {
		c.loaded[f] = true
	}
	c.mu.Unlock()
}

// checkAlone reports against p, an ELF file no program maps, every library
// it needs and would not find through its own RUNPATH or RPATH and the
// default dirs: what a program that dlopen's it adds is unknown.
func (c *checker) checkAlone(p string, d *elfdeps.Dynamic) {
	o := &loadedObject{path: p, deps: d}
	for _, name := range d.Needed {
		if s := c.search(o, o, name, d.ID); s.found == "" {
			c.add(p, "unresolved", c.notFound(&s, o, o, name, d.ID))
		}
	}
}

// searchResult is where the loader looked for a library, and what it found.
type searchResult struct {
	found string // the path it is found under, "" when not found
	res   candidateResult
	// places are the search paths tried, for messages: "RPATH /opt/lib of
	// /bin/prog", without "of" for the needing object's own.
	places []string
	// defaults says that the default dirs were searched; isPath that the
	// name is a path, which is not searched for.
	defaults, isPath bool
	// other is a candidate of another class or machine, for messages.
	other string
}

// search looks for the library name that the object o, mapped in the start
// of the program prog, needs, as the loader would (see the top of the file).
// id is the class and machine of the program: the loader's own.
func (c *checker) search(prog, o *loadedObject, name string, id elfdeps.ID) (s searchResult) {
	try := func(p string) bool {
		r := c.candidate(p)
		if r.ok && r.id == id {
			s.found, s.res = p, r
			return true
		}
		if r.ok && s.other == "" {
			s.other = fmt.Sprintf("%s is a %s ELF, not %s", p, r.id, id)
		}
		return false
	}
	if strings.Contains(name, "/") {
		s.isPath = true
		// A relative path is relative to the working directory, the
		// jail's root unless the command changes it.
		try(elfdeps.ExpandOrigin(name, o.origin()))
		return s
	}
	tryDirs := func(tag string, dirs []string, owner *loadedObject) bool {
		place := tag + " " + strings.Join(dirs, ":")
		if owner != o {
			place += " of " + owner.path
		}
		s.places = append(s.places, place)
		for _, dir := range dirs {
			// A relative entry is relative to the working directory,
			// which the tree does not say.
			if dir = elfdeps.ExpandOrigin(dir, owner.origin()); path.IsAbs(dir) && try(joinLibPath(dir, name)) {
				return true
			}
		}
		return false
	}
	if o.deps.RunPath() == nil {
		// The chain of loaders ends at the program, so the loader's
		// extra look at the program's RPATH (for dlopen) adds nothing.
		for l := o; l != nil; l = l.loader {
			if rp := l.deps.RPath(); rp != nil && tryDirs("RPATH", rp, l) {
				return s
			}
		}
	}
	if rp := o.deps.RunPath(); rp != nil && tryDirs("RUNPATH", rp, o) {
		return s
	}
	if !o.deps.NoDefLib {
		s.defaults = true
		for _, dir := range elfdeps.DefaultLibDirs(id) {
			if try(joinLibPath(dir, name)) {
				return s
			}
		}
	}
	return s
}

// joinLibPath joins a search directory and a library name as the loader
// does: without cleaning, so that ".." after a symlink goes where the
// kernel takes it.
func joinLibPath(dir, name string) string {
	return strings.TrimRight(dir, "/") + "/" + name
}

// notFound says that name, needed by o in the start of prog, is not found
// (s says where it was looked for) and, when a RUNPATH up the chain of
// loaders has it, that a RUNPATH serves only its own object.
func (c *checker) notFound(s *searchResult, prog, o *loadedObject, name string, id elfdeps.ID) string {
	what := name + " needed"
	if o != prog {
		what += " by " + o.path
	}
	var where string
	switch {
	case s.isPath:
	case len(s.places) > 0 && s.defaults:
		where = "searched " + strings.Join(s.places, ", ") + " and the default dirs; "
	case len(s.places) > 0:
		where = "searched " + strings.Join(s.places, ", ") + ", not the default dirs (DF_1_NODEFLIB); "
	case !s.defaults:
		where = "searched nothing: no RUNPATH or RPATH, and DF_1_NODEFLIB turns off the default dirs; "
	}
	for l := o.loader; l != nil && !s.isPath; l = l.loader {
		if hint := c.runpathHas(l, name, id); hint != "" {
			where += fmt.Sprintf("%s is in the RUNPATH of %s, which serves only the libraries %s itself needs; ", hint, l.path, l.path)
			break
		}
	}
	if s.other != "" {
		return fmt.Sprintf("%s but not found in the jail: %s (%srebuild, or add the right one to the manifest)", what, s.other, where)
	}
	return fmt.Sprintf("%s but not found in the jail (%srebuild, or add it to the manifest)", what, where)
}

// runpathHas returns where the RUNPATH of l has the library name of the
// given identity, or "".
func (c *checker) runpathHas(l *loadedObject, name string, id elfdeps.ID) string {
	if l.deps == nil {
		return ""
	}
	for _, dir := range l.deps.RunPath() {
		if dir = elfdeps.ExpandOrigin(dir, l.origin()); path.IsAbs(dir) {
			p := joinLibPath(dir, name)
			if r := c.candidate(p); r.ok && r.id == id {
				return p
			}
		}
	}
	return ""
}
