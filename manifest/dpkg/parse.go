package dpkg

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// parseRelations reads a dpkg relationship field such as
// "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any": groups
// separated by commas, alternatives by "|". Versions are dropped.
func parseRelations(s string) [][]Dep {
	var groups [][]Dep
	for _, g := range strings.Split(s, ",") {
		var alts []Dep
		for _, a := range strings.Split(g, "|") {
			if i := strings.IndexAny(a, "(<["); i >= 0 {
				a = a[:i]
			}
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			name, arch, _ := strings.Cut(a, ":")
			alts = append(alts, Dep{Name: name, Arch: arch})
		}
		if len(alts) > 0 {
			groups = append(groups, alts)
		}
	}
	return groups
}

// parseStatus reads dpkg's status file: one stanza per package instance,
// separated by blank lines; continuation lines (starting with a space)
// belong to multi-line fields jailer does not need.
func parseStatus(r io.Reader) ([]*Package, error) {
	var out []*Package
	var cur *Package
	var pre, deps string
	flush := func() {
		if cur != nil && cur.Name != "" {
			cur.Depends = append(parseRelations(pre), parseRelations(deps)...)
			out = append(out, cur)
		}
		cur, pre, deps = nil, "", ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if cur == nil {
			cur = &Package{}
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Package":
			cur.Name = v
		case "Architecture":
			cur.Arch = v
		case "Multi-Arch":
			cur.MultiArch = v
		case "Status":
			if f := strings.Fields(v); len(f) > 0 {
				cur.State = f[len(f)-1]
			}
		case "Pre-Depends":
			pre = v
		case "Depends":
			deps = v
		case "Provides":
			for _, g := range parseRelations(v) {
				for _, a := range g {
					cur.Provides = append(cur.Provides, a.Name)
				}
			}
		}
	}
	flush()
	return out, sc.Err()
}

// parseList reads a dpkg file list (info/NAME.list): one absolute path per
// line, directories included; "/." stands for the root and is dropped.
func parseList(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p := sc.Text()
		if p == "" || p == "/." || !strings.HasPrefix(p, "/") {
			continue
		}
		out = append(out, filepath.Clean(p))
	}
	return out, sc.Err()
}

// parseConffiles reads info/NAME.conffiles: a path per line, possibly
// after flags such as remove-on-upgrade.
func parseConffiles(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "/"); i >= 0 {
			out = append(out, filepath.Clean(line[i:]))
		}
	}
	return out, sc.Err()
}

// diversion moves a package's file elsewhere: dpkg installs any package's
// From as To, except the diverting package's own (By; ":" diverts all).
type diversion struct{ To, By string }

// parseDiversions reads dpkg's diversions file: three lines per
// diversion (the path, where it is diverted to, the diverting package).
func parseDiversions(r io.Reader) (map[string]diversion, error) {
	out := map[string]diversion{}
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("%d lines, not triplets", len(lines))
	}
	for i := 0; i < len(lines); i += 3 {
		out[lines[i]] = diversion{To: lines[i+1], By: lines[i+2]}
	}
	return out, nil
}
