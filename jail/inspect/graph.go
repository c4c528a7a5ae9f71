package inspect

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/planner"

	"github.com/jailer-dev/jailer/manifest"
)

// NodeKind is what a node of a dependency graph is.
type NodeKind string

// The kinds of graph nodes.
const (
	NodeBinary      NodeKind = "binary"      // a program the manifest names (ELF)
	NodeScript      NodeKind = "script"      // a program the manifest names (#! script)
	NodeLibrary     NodeKind = "library"     // a shared library
	NodeInterpreter NodeKind = "interpreter" // an ELF interpreter (the dynamic loader)
	NodeMissing     NodeKind = "missing"     // a library the loader cannot find
)

// The kinds of graph edges.
const (
	EdgeNeeds       = "needs"       // DT_NEEDED
	EdgeInterpreter = "interpreter" // PT_INTERP
	EdgeShebang     = "#!"          // a script's interpreter, or the program its #!/usr/bin/env runs
)

// Graph is what the programs of a manifest load: each program with its ELF
// interpreter and the libraries it names in DT_NEEDED, each library with
// the libraries it names, as the host's dynamic loader finds them. Nodes
// and edges are sorted, so a manifest and a host give the same graph.
type Graph struct {
	// Name is the jail's name.
	Name  string      `json:"name"`
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`
}

// GraphNode is a host file (or a library that was not found).
type GraphNode struct {
	// ID is the host path, or "missing:SONAME".
	ID   string   `json:"id"`
	Kind NodeKind `json:"kind"`
	// Label is the jail path of a program, the file name of a library.
	Label string `json:"label"`
}

// GraphEdge says that From loads (or runs) To.
type GraphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Kind is needs, interpreter or #!.
	Kind string `json:"kind"`
}

// graphBuilder collects nodes and edges without duplicates.
type graphBuilder struct {
	r      *elfdeps.Resolver
	nodes  map[string]*GraphNode
	labels map[string][]string // program ID -> the jail paths it is installed as
	edges  map[GraphEdge]bool
	elfs   map[string]bool // ELF programs to resolve
	needed map[string][]string
	errs   []error
}

// NewGraph works out the dependency graph of the programs of m, which must
// come from manifest.Load. The loader gives, for each program, the whole
// set of libraries it loads; which library needs which is read from each
// file's DT_NEEDED and matched by file name against that set.
func NewGraph(m *manifest.Manifest) (*Graph, error) {
	r := elfdeps.NewResolver()
	defer r.Save()
	return newGraph(m, r)
}

func newGraph(m *manifest.Manifest, r *elfdeps.Resolver) (*Graph, error) {
	b := &graphBuilder{r: r, nodes: map[string]*GraphNode{}, labels: map[string][]string{},
		edges: map[GraphEdge]bool{}, elfs: map[string]bool{}, needed: map[string][]string{}}
	for _, bin := range m.Binaries {
		b.program(bin.Host, bin.Dest, 0)
	}
	b.libraries()
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	g := &Graph{Name: m.Name, Nodes: []GraphNode{}, Edges: []GraphEdge{}}
	for id, n := range b.nodes {
		if l := b.labels[id]; len(l) > 0 {
			sort.Strings(l)
			n.Label = strings.Join(l, ", ")
		}
		g.Nodes = append(g.Nodes, *n)
	}
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	for e := range b.edges {
		g.Edges = append(g.Edges, e)
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		a, c := g.Edges[i], g.Edges[j]
		if a.From != c.From {
			return a.From < c.From
		}
		if a.To != c.To {
			return a.To < c.To
		}
		return a.Kind < c.Kind
	})
	return g, nil
}

func (b *graphBuilder) node(id string, kind NodeKind, label string) {
	if _, ok := b.nodes[id]; !ok {
		b.nodes[id] = &GraphNode{ID: id, Kind: kind, Label: label}
	}
}

func (b *graphBuilder) edge(from, to, kind string) {
	b.edges[GraphEdge{From: from, To: to, Kind: kind}] = true
}

// program adds the program at host, installed as dest, and returns its
// node's ID: its real path. A #! script adds its interpreter too.
func (b *graphBuilder) program(host, dest string, depth int) string {
	if depth > planner.MaxLinks {
		b.errs = append(b.errs, fmt.Errorf("%s: too many levels of #! interpreters", host))
		return ""
	}
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("binary %s: %w", host, err))
		return ""
	}
	if !slices.Contains(b.labels[real], dest) {
		b.labels[real] = append(b.labels[real], dest)
	}
	interp, args, isScript, err := planner.Shebang(real)
	if err != nil {
		b.errs = append(b.errs, fmt.Errorf("binary %s: %w", host, err))
		return ""
	}
	if !isScript {
		b.node(real, NodeBinary, dest)
		b.elfs[real] = true
		return real
	}
	b.node(real, NodeScript, dest)
	if !strings.HasPrefix(interp, "/") {
		b.errs = append(b.errs, fmt.Errorf("binary %s: its #! interpreter %q is not an absolute path", host, interp))
		return real
	}
	if id := b.program(interp, path.Clean(interp), depth+1); id != "" {
		b.edge(real, id, EdgeShebang)
	}
	if path.Base(interp) == "env" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		found, err := exec.LookPath(args[0])
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("binary %s: #!%s %s: %s not found in PATH", host, interp, args[0], args[0]))
			return real
		}
		found, _ = filepath.Abs(found)
		if id := b.program(found, "/bin/"+path.Base(args[0]), depth+1); id != "" {
			b.edge(real, id, EdgeShebang)
		}
	}
	return real
}

// libraries resolves every ELF program and adds what each loads.
func (b *graphBuilder) libraries() {
	hosts := make([]string, 0, len(b.elfs))
	for h := range b.elfs {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	deps, err := b.r.Resolve(hosts)
	if err != nil {
		b.errs = append(b.errs, err)
	}
	for _, h := range hosts {
		d := deps[h]
		if d == nil {
			continue
		}
		// What this program's loader found, by the name a DT_NEEDED entry
		// gives: the loader looks each name up as a file name.
		found := map[string]string{}
		for _, l := range d.Libs {
			found[path.Base(l)] = l
		}
		if d.Interp != "" {
			b.node(d.Interp, NodeInterpreter, path.Base(d.Interp))
			b.edge(h, d.Interp, EdgeInterpreter)
			found[path.Base(d.Interp)] = d.Interp
		}
		missing := map[string]bool{}
		for _, s := range d.Missing {
			missing[s] = true
		}
		b.links(h, found, missing)
		for _, l := range d.Libs {
			b.node(l, NodeLibrary, path.Base(l))
			b.links(l, found, missing)
		}
	}
}

// links adds an edge from file to each library its DT_NEEDED names.
func (b *graphBuilder) links(file string, found map[string]string, missing map[string]bool) {
	needed, ok := b.needed[file]
	if !ok {
		var err error
		if needed, err = readNeeded(file); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %w", file, err))
		}
		b.needed[file] = needed
	}
	for _, n := range needed {
		switch to, ok := found[n]; {
		case ok && to != file:
			b.edge(file, to, EdgeNeeds)
		case !ok && missing[n]:
			b.node("missing:"+n, NodeMissing, n+" (not found)")
			b.edge(file, "missing:"+n, EdgeNeeds)
		case !ok:
			if to := b.bySoname(n, found); to != "" {
				b.edge(file, to, EdgeNeeds)
			}
		}
	}
}

// bySoname finds the library whose DT_SONAME is name, for a DT_NEEDED
// that the loader satisfied with a file of another name (rare).
func (b *graphBuilder) bySoname(name string, found map[string]string) string {
	libs := make([]string, 0, len(found))
	for _, l := range found {
		libs = append(libs, l)
	}
	sort.Strings(libs)
	for _, l := range libs {
		if soname(l) == name {
			return l
		}
	}
	return ""
}

// readNeeded returns the DT_NEEDED names of the ELF file at p, in order.
func readNeeded(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := elfdeps.ReadDynamic(f)
	if err != nil {
		return nil, err
	}
	return d.Needed, nil
}

// soname returns the DT_SONAME of the ELF file at p, or "".
func soname(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	s, _ := f.DynString(elf.DT_SONAME)
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// DOT writes the graph in Graphviz's language: programs as boxes, libraries
// as ellipses, the loader as a diamond, libraries that were not found in
// red; a dashed edge leads to a program's ELF interpreter.
func (g *Graph) DOT(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// The libraries each program of %s loads: jailer graph.\n", g.Name)
	fmt.Fprintf(&b, "digraph %s {\n", dotID(g.Name))
	b.WriteString("\trankdir=LR;\n\tnode [fontname=\"Helvetica\", fontsize=11];\n\tedge [color=\"#555555\"];\n")
	for _, n := range g.Nodes {
		attrs := "label=" + dotID(n.Label)
		switch n.Kind {
		case NodeBinary, NodeScript:
			attrs += `, shape=box, style=bold`
		case NodeLibrary:
			attrs += `, shape=ellipse`
		case NodeInterpreter:
			attrs += `, shape=diamond`
		case NodeMissing:
			attrs += `, shape=ellipse, style=dashed, color=red, fontcolor=red`
		}
		if n.Kind != NodeMissing {
			attrs += ", tooltip=" + dotID(n.ID)
		}
		fmt.Fprintf(&b, "\t%s [%s];\n", dotID(n.ID), attrs)
	}
	for _, e := range g.Edges {
		attrs := ""
		switch e.Kind {
		case EdgeInterpreter:
			attrs = " [style=dashed]"
		case EdgeShebang:
			attrs = ` [label="#!"]`
		}
		fmt.Fprintf(&b, "\t%s -> %s%s;\n", dotID(e.From), dotID(e.To), attrs)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// dotID quotes s as a Graphviz ID.
func dotID(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// ErrNoDot means Graphviz's dot program, which renders SVG, is not installed.
var ErrNoDot = errors.New("rendering SVG needs Graphviz's dot, which is not installed (apt-get install graphviz)")

// SVG renders the graph as SVG with Graphviz's dot.
func (g *Graph) SVG(ctx context.Context, w io.Writer) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return ErrNoDot
	}
	var in, stderr bytes.Buffer
	if err := g.DOT(&in); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, dot, "-Tsvg")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, w, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("dot -Tsvg: %w: %s", err, msg)
		}
		return fmt.Errorf("dot -Tsvg: %w", err)
	}
	return nil
}
