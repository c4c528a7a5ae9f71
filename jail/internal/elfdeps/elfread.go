package elfdeps

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
	"os"
	"strings"
	"sync"
)

// ID is what the loader matches a library against the program loading
// it: a candidate of another class, byte order or machine is skipped.
type ID struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
}

// String describes id as "64-bit X86_64", for messages.
func (id ID) String() string {
	bits := "32-bit"
	if id.Class == elf.ELFCLASS64 {
		bits = "64-bit"
	}
	s := bits + " " + strings.TrimPrefix(id.Machine.String(), "EM_")
	if id.Data == elf.ELFDATA2MSB {
		s += " big-endian"
	}
	return s
}

// HasMagic reports whether r starts with the ELF magic number.
func HasMagic(r io.ReaderAt) bool {
	var m [4]byte
	_, err := r.ReadAt(m[:], 0)
	return err == nil && string(m[:]) == elf.ELFMAG
}

// ReadID reads the identity of the ELF file at r; ok is false when r is
// not an ELF file the loader would consider.
func ReadID(r io.ReaderAt) (id ID, ok bool) {
	var h [20]byte
	if _, err := r.ReadAt(h[:], 0); err != nil || string(h[:4]) != elf.ELFMAG {
		return ID{}, false
	}
	id = ID{Class: elf.Class(h[elf.EI_CLASS]), Data: elf.Data(h[elf.EI_DATA])}
	switch {
	case id.Class != elf.ELFCLASS32 && id.Class != elf.ELFCLASS64:
		return ID{}, false
	case id.Data == elf.ELFDATA2LSB:
		id.Machine = elf.Machine(binary.LittleEndian.Uint16(h[18:]))
	case id.Data == elf.ELFDATA2MSB:
		id.Machine = elf.Machine(binary.BigEndian.Uint16(h[18:]))
	default:
		return ID{}, false
	}
	return id, true
}

// Dynamic is what the loader needs to start an ELF file.
type Dynamic struct {
	ID ID
	// loadable is false for files the loader never maps (relocatable
	// objects, core dumps, separate debug info), which need no checking.
	Loadable bool
	// interp is the PT_INTERP path, "" when there is none.
	Interp string
	// needed are the DT_NEEDED names, in order.
	Needed []string
	// soname is DT_SONAME, "" when there is none: the loader takes an
	// object it has loaded as the library of that name too.
	Soname string
	// searchTag is "RUNPATH" or "RPATH", whichever search says applies.
	SearchTag string
	// search is DT_RUNPATH, or DT_RPATH when there is no RUNPATH, split on
	// ':'; nil when there is neither. The loader ignores DT_RPATH beside a
	// DT_RUNPATH, even when it searches the RPATHs of a chain of loaders.
	Search []string
	// nodeflib is DF_1_NODEFLIB: the default dirs are not searched for
	// the libraries this file needs.
	NoDefLib bool
}

// RunPath returns the DT_RUNPATH entries, nil when there is no RUNPATH.
func (d *Dynamic) RunPath() []string {
	if d == nil || d.SearchTag != "RUNPATH" {
		return nil
	}
	return d.Search
}

// RPath returns the DT_RPATH entries the loader uses: nil when there is no
// RPATH or when there is a RUNPATH.
func (d *Dynamic) RPath() []string {
	if d == nil || d.SearchTag != "RPATH" {
		return nil
	}
	return d.Search
}

// Limits on what a malformed file can make readELFDeps allocate.
const (
	maxInterpLen  = 4096
	maxDynamicLen = 1 << 20
	maxStrtabLen  = 16 << 20
)

// ReadDynamic reads the interpreter and dynamic section of the ELF at r from
// its program headers, as the loader does (section headers may be stripped).
// A malformed file gives an error, never a panic.
func ReadDynamic(r io.ReaderAt) (d *Dynamic, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("malformed ELF: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	d = &Dynamic{ID: ID{f.Class, f.Data, f.Machine}}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return d, nil
	}
	if s := f.Section(".dynamic"); s != nil && s.Type == elf.SHT_NOBITS {
		return d, nil // separate debug info: the segments are not in the file
	}
	d.Loadable = true
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
			d.Interp = string(b)
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if dyn == nil {
		return d, nil
	}
	return d, readDynamic(f, r, dyn, d)
}

// readDynamic fills d's needed, soname, search and nodeflib fields from the
// PT_DYNAMIC segment.
func readDynamic(f *elf.File, r io.ReaderAt, dyn *elf.Prog, d *Dynamic) error {
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
	runpath, rpath, soname := int64(-1), int64(-1), int64(-1)
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
		case elf.DT_SONAME:
			soname = int64(val)
		case elf.DT_FLAGS_1:
			d.NoDefLib = val&uint64(elf.DF_1_NODEFLIB) != 0
		}
	}
	if len(needed) == 0 && runpath < 0 && rpath < 0 && soname < 0 {
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
		d.Needed = append(d.Needed, s)
	}
	off := runpath
	d.SearchTag = "RUNPATH"
	if off < 0 {
		d.SearchTag, off = "RPATH", rpath
	}
	if off >= 0 {
		s, err := str(uint64(off))
		if err != nil {
			return err
		}
		d.Search = strings.Split(s, ":")
	}
	if soname >= 0 {
		if d.Soname, err = str(uint64(soname)); err != nil {
			return err
		}
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

// ExpandOrigin replaces $ORIGIN and ${ORIGIN} in a RUNPATH or RPATH entry
// with origin, the jail-side directory of the file that names it. Like the
// loader, it takes $ORIGIN only when a '/' or the end follows it.
func ExpandOrigin(dir, origin string) string {
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

// DefaultLibDirs returns the directories the loader searches last for an
// ELF of the given identity.
func DefaultLibDirs(id ID) []string {
	dirs := []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64"}
	arch := multiarch[id.Machine]
	switch {
	case id.Machine == elf.EM_X86_64 && id.Class == elf.ELFCLASS64:
		arch = []string{"x86_64-linux-gnu"}
	case id.Machine == elf.EM_X86_64:
		arch = []string{"x86_64-linux-gnux32"}
	case id.Machine == elf.EM_PPC64 && id.Data == elf.ELFDATA2LSB:
		arch = []string{"powerpc64le-linux-gnu"}
	case id.Machine == elf.EM_PPC64:
		arch = []string{"powerpc64-linux-gnu"}
	}
	for _, a := range arch {
		dirs = append(dirs, "/lib/"+a, "/usr/lib/"+a)
	}
	return dirs
}

// IsLoadable reads the first bytes of the file at name and reports
// whether it is an ELF executable or shared object for the machine jailer
// runs on. Relocatable objects, core dumps and other machines' files are
// left alone: the loader would never map them here.
func IsLoadable(name string) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false, nil // shorter than an ELF header
	}
	id, ok := ReadID(bytes.NewReader(h[:]))
	if !ok || id != Native() {
		return false, nil
	}
	var order binary.ByteOrder = binary.LittleEndian
	if id.Data == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	t := elf.Type(order.Uint16(h[16:]))
	return t == elf.ET_EXEC || t == elf.ET_DYN, nil
}

// Native is the ELF identity of jailer's own executable: the class and
// machine of the programs this host runs.
var Native = sync.OnceValue(func() ID {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return ID{}
	}
	defer f.Close()
	id, _ := ReadID(f)
	return id
})
