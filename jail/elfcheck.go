package jail

// The ELF half of `jailer check`: does every program and library in a jail
// find its interpreter and its DT_NEEDED libraries inside the jail, searching
// as the glibc loader would once chrooted there? Nothing in the jail is
// executed; the ELF headers and the dynamic segment are read directly, and
// every path is resolved through jailRoot, never against the host.

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// elfID is what the loader matches a library against the program loading
// it: a candidate of another class, byte order or machine is skipped.
type elfID struct {
	class   elf.Class
	data    elf.Data
	machine elf.Machine
}

// String describes id as "64-bit X86_64", for messages.
func (id elfID) String() string {
	bits := "32-bit"
	if id.class == elf.ELFCLASS64 {
		bits = "64-bit"
	}
	s := bits + " " + strings.TrimPrefix(id.machine.String(), "EM_")
	if id.data == elf.ELFDATA2MSB {
		s += " big-endian"
	}
	return s
}

// hasELFMagic reports whether r starts with the ELF magic number.
func hasELFMagic(r io.ReaderAt) bool {
	var m [4]byte
	_, err := r.ReadAt(m[:], 0)
	return err == nil && string(m[:]) == elf.ELFMAG
}

// readELFID reads the identity of the ELF file at r; ok is false when r is
// not an ELF file the loader would consider.
func readELFID(r io.ReaderAt) (id elfID, ok bool) {
	var h [20]byte
	if _, err := r.ReadAt(h[:], 0); err != nil || string(h[:4]) != elf.ELFMAG {
		return elfID{}, false
	}
	id = elfID{class: elf.Class(h[elf.EI_CLASS]), data: elf.Data(h[elf.EI_DATA])}
	switch {
	case id.class != elf.ELFCLASS32 && id.class != elf.ELFCLASS64:
		return elfID{}, false
	case id.data == elf.ELFDATA2LSB:
		id.machine = elf.Machine(binary.LittleEndian.Uint16(h[18:]))
	case id.data == elf.ELFDATA2MSB:
		id.machine = elf.Machine(binary.BigEndian.Uint16(h[18:]))
	default:
		return elfID{}, false
	}
	return id, true
}

// elfDeps is what the loader needs to start an ELF file.
type elfDeps struct {
	id elfID
	// loadable is false for files the loader never maps (relocatable
	// objects, core dumps, separate debug info), which need no checking.
	loadable bool
	// interp is the PT_INTERP path, "" when there is none.
	interp string
	// needed are the DT_NEEDED names, in order.
	needed []string
	// searchTag is "RUNPATH" or "RPATH", whichever search says applies.
	searchTag string
	// search is DT_RUNPATH, or DT_RPATH when there is no RUNPATH, split on ':'.
	search []string
}

// Limits on what a malformed file can make readELFDeps allocate.
const (
	maxInterpLen  = 4096
	maxDynamicLen = 1 << 20
	maxStrtabLen  = 16 << 20
)

// readELFDeps reads the interpreter and dynamic section of the ELF at r from
// its program headers, as the loader does (section headers may be stripped).
// A malformed file gives an error, never a panic.
func readELFDeps(r io.ReaderAt) (d *elfDeps, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("malformed ELF: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	d = &elfDeps{id: elfID{f.Class, f.Data, f.Machine}}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return d, nil
	}
	if s := f.Section(".dynamic"); s != nil && s.Type == elf.SHT_NOBITS {
		return d, nil // separate debug info: the segments are not in the file
	}
	d.loadable = true
	var dyn *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			b, err := readAtMost(p.Open(), maxInterpLen)
			if err != nil {
				return nil, fmt.Errorf("read PT_INTERP: %w", err)
			}
			if i := bytes.IndexByte(b, 0); i >= 0 {
				b = b[:i]
			}
			d.interp = string(b)
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if dyn == nil {
		return d, nil
	}
	return d, readDynamic(f, r, dyn, d)
}

// readDynamic fills d's needed and search fields from the PT_DYNAMIC segment.
func readDynamic(f *elf.File, r io.ReaderAt, dyn *elf.Prog, d *elfDeps) error {
	b, err := readAtMost(dyn.Open(), maxDynamicLen)
	if err != nil {
		return fmt.Errorf("read PT_DYNAMIC: %w", err)
	}
	size := 16
	if f.Class == elf.ELFCLASS32 {
		size = 8
	}
	var needed []uint64
	var strtab, strsz uint64
	runpath, rpath := int64(-1), int64(-1)
dynamic:
	for ; len(b) >= size; b = b[size:] {
		var tag, val uint64
		if size == 16 {
			tag, val = f.ByteOrder.Uint64(b), f.ByteOrder.Uint64(b[8:])
		} else {
			tag, val = uint64(f.ByteOrder.Uint32(b)), uint64(f.ByteOrder.Uint32(b[4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			break dynamic
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_RUNPATH:
			runpath = int64(val)
		case elf.DT_RPATH:
			rpath = int64(val)
		}
	}
	if len(needed) == 0 && runpath < 0 && rpath < 0 {
		return nil
	}
	strs, err := readStrtab(f, r, strtab, strsz)
	if err != nil {
		return err
	}
	str := func(off uint64) (string, error) {
		if off >= uint64(len(strs)) {
			return "", fmt.Errorf("dynamic string offset %#x outside DT_STRTAB", off)
		}
		s, _, _ := bytes.Cut(strs[off:], []byte{0})
		return string(s), nil
	}
	for _, off := range needed {
		s, err := str(off)
		if err != nil {
			return err
		}
		d.needed = append(d.needed, s)
	}
	off := runpath
	d.searchTag = "RUNPATH"
	if off < 0 {
		d.searchTag, off = "RPATH", rpath
	}
	if off >= 0 {
		s, err := str(uint64(off))
		if err != nil {
			return err
		}
		d.search = strings.Split(s, ":")
	}
	return nil
}

// readStrtab reads the dynamic string table at virtual address addr, finding
// its place in the file through the PT_LOAD segment that maps it.
func readStrtab(f *elf.File, r io.ReaderAt, addr, size uint64) ([]byte, error) {
	if addr == 0 || size == 0 {
		return nil, errors.New("dynamic section has no DT_STRTAB")
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr-p.Vaddr >= p.Filesz {
			continue
		}
		size = min(size, p.Filesz-(addr-p.Vaddr), maxStrtabLen)
		b := make([]byte, size)
		if _, err := r.ReadAt(b, int64(p.Off+addr-p.Vaddr)); err != nil {
			return nil, fmt.Errorf("read DT_STRTAB: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("DT_STRTAB %#x is in no PT_LOAD segment", addr)
}

// readAtMost reads r to its end, refusing more than n bytes.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err == nil && int64(len(b)) > n {
		err = fmt.Errorf("segment larger than %d bytes", n)
	}
	return b, err
}

// expandOrigin replaces $ORIGIN and ${ORIGIN} in a RUNPATH or RPATH entry
// with origin, the jail-side directory of the file that names it. Like the
// loader, it takes $ORIGIN only when a '/' or the end follows it.
func expandOrigin(dir, origin string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(dir, '$')
		if i < 0 {
			b.WriteString(dir)
			return b.String()
		}
		b.WriteString(dir[:i])
		rest := dir[i:]
		switch {
		case strings.HasPrefix(rest, "${ORIGIN}"):
			b.WriteString(origin)
			dir = rest[len("${ORIGIN}"):]
		case strings.HasPrefix(rest, "$ORIGIN") && (len(rest) == len("$ORIGIN") || rest[len("$ORIGIN")] == '/'):
			b.WriteString(origin)
			dir = rest[len("$ORIGIN"):]
		default:
			b.WriteByte('$')
			dir = rest[1:]
		}
	}
}

// multiarch names the Debian multiarch directories of each machine.
var multiarch = map[elf.Machine][]string{
	elf.EM_386:       {"i386-linux-gnu"},
	elf.EM_AARCH64:   {"aarch64-linux-gnu"},
	elf.EM_ARM:       {"arm-linux-gnueabihf", "arm-linux-gnueabi"},
	elf.EM_RISCV:     {"riscv64-linux-gnu"},
	elf.EM_S390:      {"s390x-linux-gnu"},
	elf.EM_LOONGARCH: {"loongarch64-linux-gnu"},
	elf.EM_SPARCV9:   {"sparc64-linux-gnu"},
	elf.EM_PPC:       {"powerpc-linux-gnu"},
}

// defaultLibDirs returns the directories the loader searches last for an
// ELF of the given identity.
func defaultLibDirs(id elfID) []string {
	dirs := []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64"}
	arch := multiarch[id.machine]
	switch {
	case id.machine == elf.EM_X86_64 && id.class == elf.ELFCLASS64:
		arch = []string{"x86_64-linux-gnu"}
	case id.machine == elf.EM_X86_64:
		arch = []string{"x86_64-linux-gnux32"}
	case id.machine == elf.EM_PPC64 && id.data == elf.ELFDATA2LSB:
		arch = []string{"powerpc64le-linux-gnu"}
	case id.machine == elf.EM_PPC64:
		arch = []string{"powerpc64-linux-gnu"}
	}
	for _, a := range arch {
		dirs = append(dirs, "/lib/"+a, "/usr/lib/"+a)
	}
	return dirs
}

// checkELF reports the problems of the ELF file at the jail path p, open as f.
func (c *checker) checkELF(p string, f io.ReaderAt) {
	d, err := readELFDeps(f)
	if err != nil {
		c.add(p, "unresolved", fmt.Sprintf("corrupt ELF file, its interpreter and libraries cannot be checked: %v (rebuild, or remove it)", err))
		return
	}
	if !d.loadable {
		return
	}
	if d.interp != "" {
		switch id, ok := c.candidate(d.interp); {
		case !ok:
			c.add(p, "interpreter", fmt.Sprintf("interpreter %s not found in the jail (rebuild, or add it to the manifest)", d.interp))
		case id != d.id:
			c.add(p, "interpreter", fmt.Sprintf("interpreter %s is a %s ELF, not %s (rebuild)", d.interp, id, d.id))
		}
	}
	for _, name := range d.needed {
		if msg := c.findLib(p, d, name); msg != "" {
			c.add(p, "unresolved", msg)
		}
	}
}

// findLib looks for the library name needed by the ELF at the jail path p as
// the loader would, and returns "" when it is found or else what is wrong.
func (c *checker) findLib(p string, d *elfDeps, name string) string {
	var dirs []string
	if strings.Contains(name, "/") {
		dirs = []string{""} // a path, not searched for
	} else {
		for _, dir := range d.search {
			if dir = expandOrigin(dir, path.Dir(p)); path.IsAbs(dir) {
				dirs = append(dirs, dir) // relative entries are relative to an unknown cwd
			}
		}
		dirs = append(dirs, defaultLibDirs(d.id)...)
	}
	other := ""
	for _, dir := range dirs {
		cand := path.Join("/", dir, name)
		id, ok := c.candidate(cand)
		if ok && id == d.id {
			return ""
		}
		if ok && other == "" {
			other = fmt.Sprintf("%s is a %s ELF, not %s", cand, id, d.id)
		}
	}
	where := ""
	if len(d.search) > 0 {
		where = fmt.Sprintf("searched %s %s and the default dirs; ", d.searchTag, strings.Join(d.search, ":"))
	}
	if other != "" {
		return fmt.Sprintf("%s needed but not found in the jail: %s (%srebuild, or add the right one to the manifest)", name, other, where)
	}
	return fmt.Sprintf("%s needed but not found in the jail (%srebuild, or add it to the manifest)", name, where)
}

// candidate returns the identity of the ELF file at the jail path p,
// following symlinks inside the jail; ok is false when there is none.
func (c *checker) candidate(p string) (elfID, bool) {
	c.mu.Lock()
	res, done := c.candidates[p]
	c.mu.Unlock()
	if done {
		return res.id, res.ok
	}
	if f, err := c.root.openFile(p, true); err == nil {
		res.id, res.ok = readELFID(f)
		f.Close()
	}
	c.mu.Lock()
	c.candidates[p] = res
	c.mu.Unlock()
	return res.id, res.ok
}

// candidateResult is a cached answer of candidate.
type candidateResult struct {
	id elfID
	ok bool
}
