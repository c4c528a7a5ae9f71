package inspect

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/elfdeps"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

func graphOf(t *testing.T, manifestPath string) *Graph {
	t.Helper()
	g, err := newGraph(testutil.LoadManifest(t, manifestPath), elfdeps.NewResolver())
	if err != nil {
		t.Fatalf("NewGraph: %v", err)
	}
	return g
}

func graphNode(g *Graph, id string) (GraphNode, bool) {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return GraphNode{}, false
}

func TestGraphEdgesAreDTNeeded(t *testing.T) {
	dir := t.TempDir()
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nname: g\nbinaries: [/bin/ls, /bin/bash, {src: /bin/ls, dest: /bin/dir}]\n")
	g := graphOf(t, m)

	ls, _ := filepath.EvalSymlinks("/bin/ls")
	if n, ok := graphNode(g, ls); !ok || n.Kind != NodeBinary || n.Label != "/bin/dir, /bin/ls" {
		t.Errorf("node %s = %+v, %v; want a binary labelled with both its jail paths", ls, n, ok)
	}
	interp := ""
	for _, e := range g.Edges {
		if e.From == ls && e.Kind == EdgeInterpreter {
			interp = e.To
		}
	}
	if n, ok := graphNode(g, interp); !ok || n.Kind != NodeInterpreter || !strings.HasPrefix(n.Label, "ld-linux") {
		t.Errorf("interpreter of ls = %q (%+v); want an ld-linux node", interp, n)
	}

	// Every "needs" edge is a DT_NEEDED entry of its source, and every
	// DT_NEEDED entry of every node is an edge: direct, never transitive.
	needs := map[string][]string{}
	for _, e := range g.Edges {
		if e.Kind == EdgeNeeds {
			needs[e.From] = append(needs[e.From], path.Base(e.To))
		}
	}
	for _, n := range g.Nodes {
		if n.Kind == NodeMissing {
			continue
		}
		f, err := elf.Open(n.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := f.ImportedLibraries()
		f.Close()
		got := needs[n.ID]
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: edges to %v, DT_NEEDED %v", n.ID, got, want)
		}
	}
	if !slices.Contains(needs[ls], "libselinux.so.1") || slices.Contains(needs[ls], "libpcre2-8.so.0") {
		t.Errorf("ls needs %v; want libselinux.so.1 but not libpcre2-8.so.0 (which libselinux needs)", needs[ls])
	}

	// Sorted, so the output is the same every time.
	if !slices.IsSortedFunc(g.Nodes, func(a, b GraphNode) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("nodes are not sorted by ID")
	}
	var first, second bytes.Buffer
	g.DOT(&first)
	graphOf(t, m).DOT(&second)
	if first.String() != second.String() {
		t.Errorf("two graphs of one manifest differ:\n%s\n---\n%s", first.String(), second.String())
	}
	dot := first.String()
	for _, want := range []string{
		"digraph \"g\" {\n",
		"\t\"" + ls + "\" [label=\"/bin/dir, /bin/ls\", shape=box, style=bold, tooltip=\"" + ls + "\"];\n",
		"\t\"" + ls + "\" -> \"" + interp + "\" [style=dashed];\n",
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT =\n%s\nwant it to contain %q", dot, want)
		}
	}
}

func TestGraphScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hello")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [{src: ./hello, dest: /usr/bin/hello}]\n")
	g := graphOf(t, m)
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	if n, ok := graphNode(g, script); !ok || n.Kind != NodeScript || n.Label != "/usr/bin/hello" {
		t.Errorf("script node = %+v, %v; want a script labelled /usr/bin/hello", n, ok)
	}
	if n, ok := graphNode(g, sh); !ok || n.Kind != NodeBinary || n.Label != "/bin/sh" {
		t.Errorf("interpreter node = %+v, %v; want a binary labelled /bin/sh", n, ok)
	}
	if !slices.Contains(g.Edges, GraphEdge{From: script, To: sh, Kind: EdgeShebang}) {
		t.Errorf("edges %v lack %s -> %s (#!)", g.Edges, script, sh)
	}
}

func TestGraphMissingLibrary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "foo.c"), []byte("int foo(void) { return 1; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("int foo(void);\nint main(void) { return foo(); }\n"), 0o644)
	testutil.Gcc(t, "-shared", "-fPIC", "-o", filepath.Join(dir, "libfoo.so"), filepath.Join(dir, "foo.c"))
	testutil.Gcc(t, "-o", filepath.Join(dir, "prog"), filepath.Join(dir, "main.c"), "-L"+dir, "-lfoo")
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [./prog]\n")
	g := graphOf(t, m)
	if n, ok := graphNode(g, "missing:libfoo.so"); !ok || n.Kind != NodeMissing {
		t.Errorf("nodes %v lack missing:libfoo.so", g.Nodes)
	}
	if !slices.Contains(g.Edges, GraphEdge{From: filepath.Join(dir, "prog"), To: "missing:libfoo.so", Kind: EdgeNeeds}) {
		t.Errorf("edges %v lack prog -> missing:libfoo.so", g.Edges)
	}
	var dot bytes.Buffer
	g.DOT(&dot)
	if !strings.Contains(dot.String(), `"missing:libfoo.so" [label="libfoo.so (not found)", shape=ellipse, style=dashed, color=red, fontcolor=red];`) {
		t.Errorf("DOT =\n%s\nwant the missing library in red", dot.String())
	}
}

func TestGraphStatic(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.c"), []byte("int main(void) { return 0; }\n"), 0o644)
	testutil.Gcc(t, "-static", "-o", filepath.Join(dir, "prog"), filepath.Join(dir, "main.c"))
	g := graphOf(t, testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [./prog]\n"))
	if len(g.Nodes) != 1 || len(g.Edges) != 0 || g.Nodes[0].Label != "/bin/prog" {
		t.Errorf("graph of a static program = %+v, want one node and no edges", g)
	}
}

func TestDotID(t *testing.T) {
	for in, want := range map[string]string{
		"/lib/libc.so.6": `"/lib/libc.so.6"`, `a"b`: `"a\"b"`, `a\b`: `"a\\b"`, "a\nb": `"a\nb"`,
	} {
		if got := dotID(in); got != want {
			t.Errorf("dotID(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestGraphSVG renders a graph with Graphviz (apt-get install graphviz;
// .ci/run installs it, and with CI=true a missing dot fails the test).
func TestGraphSVG(t *testing.T) {
	testutil.RequireTool(t, "dot")
	dir := t.TempDir()
	g := graphOf(t, testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/bash]\n"))
	var svg bytes.Buffer
	if err := g.SVG(context.Background(), &svg); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg.Bytes())
	for _, n := range g.Nodes {
		if !slices.Contains(texts, n.Label) {
			t.Errorf("SVG does not name node %s (%s); its texts are %q", n.Label, n.ID, texts)
		}
	}
	if len(g.Nodes) < 4 {
		t.Errorf("graph of bash has %d nodes, want bash, its libraries and the loader", len(g.Nodes))
	}
}

// svgTexts returns what the <text> elements of an SVG document say.
func svgTexts(t *testing.T, svg []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = false // the DOCTYPE names an external DTD
	var texts []string
	inText, sawSVG := false, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG: %v\n%.300s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
			sawSVG = sawSVG || tok.Name.Local == "svg"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		}
	}
	if !sawSVG {
		t.Fatalf("no <svg> element in\n%.300s", svg)
	}
	return texts
}

func TestGraphSVGWithoutDot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	g := &Graph{Name: "x"}
	if err := g.SVG(context.Background(), &bytes.Buffer{}); !errors.Is(err, ErrNoDot) {
		t.Errorf("SVG without dot in PATH = %v, want ErrNoDot", err)
	}
}
