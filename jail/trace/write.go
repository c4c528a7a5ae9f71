//go:build linux

package trace

// Printing suggestions and adding them to a manifest, keeping its text.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jailer-dev/jailer/manifest"
)

// WriteSuggestions prints suggestions as manifest lines, one list per
// field, then the notes as YAML comments, one line each.
func WriteSuggestions(w io.Writer, sugs []Suggestion, notes []Note) error {
	var b strings.Builder
	field := ""
	for _, s := range sugs {
		if s.Field != field {
			field = s.Field
			fmt.Fprintf(&b, "%s:\n", field)
		}
		fmt.Fprintf(&b, "  - %s  # %s\n", s.Item(), s.Why)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "# %s: %s\n", n.Subject, n.Text)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AppendSuggestions adds suggestions to the manifest at file: each to the
// end of its top-level list (binaries, packages, profiles, files, dirs),
// which is created at the end of the file when missing; each addition
// carries a "# jailer trace:" comment (after a flow list, a line of its
// own). The file is edited as text, so its
// comments, blank lines and layout stay as they were; the result must
// load, else the file is left unchanged.
func AppendSuggestions(file string, sugs []Suggestion) error {
	old, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	text := old
	for _, field := range []string{"binaries", "packages", "profiles", "files", "dirs"} {
		var items []Suggestion
		for _, s := range sugs {
			if s.Field == field {
				items = append(items, s)
			}
		}
		if len(items) == 0 {
			continue
		}
		if text, err = appendToList(text, field, items); err != nil {
			return fmt.Errorf("add to %s of %s: %w", field, file, err)
		}
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(file, text, fi.Mode().Perm()); err != nil {
		return err
	}
	if _, err := manifest.Load(file); err != nil {
		writeFileAtomic(file, old, fi.Mode().Perm())
		return fmt.Errorf("%s would not load with the additions (left unchanged): %w", file, err)
	}
	return nil
}

func writeFileAtomic(file string, data []byte, perm fs.FileMode) error {
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".jailer-trace-"+rand.Text())
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// appendToList adds items to the top-level YAML list key in text. yaml.v3
// finds where things are; the text is changed only where they go.
func appendToList(text []byte, key string, items []Suggestion) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode || doc.Content[0].Style&yaml.FlowStyle != 0 {
		return nil, errors.New("the manifest is not a block mapping")
	}
	top := doc.Content[0]
	lines := strings.SplitAfter(string(text), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	block := func(indent string) []string {
		var out []string
		for _, s := range items {
			out = append(out, indent+"- "+s.Item()+"  # jailer trace: "+s.Why+"\n")
		}
		return out
	}
	insert := func(after int, add []string) []byte {
		if after >= 0 && !strings.HasSuffix(lines[after], "\n") {
			lines[after] += "\n"
		}
		out := append(append(slices.Clone(lines[:after+1]), add...), lines[after+1:]...)
		return []byte(strings.Join(out, ""))
	}
	var k, v *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == key {
			k, v = top.Content[i], top.Content[i+1]
		}
	}
	switch {
	case k == nil:
		return insert(len(lines)-1, append([]string{key + ":\n"}, block("  ")...)), nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Line == k.Line && strings.TrimSpace(lines[k.Line-1][k.Column-1:]) == key+":":
		return insert(k.Line-1, block(strings.Repeat(" ", k.Column-1)+"  ")), nil
	case v.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%s: is not a list", key)
	case v.Style&yaml.FlowStyle != 0:
		return appendToFlowList(lines, k, v, items)
	}
	first := lines[v.Content[0].Line-1]
	indent := first[:len(first)-len(strings.TrimLeft(first, " "))]
	if !strings.HasPrefix(first[len(indent):], "-") {
		return nil, fmt.Errorf("%s: cannot tell the list's indentation", key)
	}
	// The list ends at its last line that is neither blank nor a comment,
	// before the first line indented no deeper than its dashes that is not
	// one of its items.
	end := v.Content[len(v.Content)-1].Line - 1
	for i := end + 1; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		ind := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		if ind < len(indent) || ind == len(indent) && !strings.HasPrefix(t, "-") {
			break
		}
		end = i
	}
	return insert(end, block(indent)), nil
}

// appendToFlowList adds items before the closing bracket of [a, b], and
// their comments as lines of their own after the line the list ends on,
// at the key's indentation (a comment cannot go inside a one-line list).
func appendToFlowList(lines []string, k, v *yaml.Node, items []Suggestion) ([]byte, error) {
	text := strings.Join(lines, "")
	off := 0
	for i := 0; i < v.Line-1; i++ {
		off += len(lines[i])
	}
	off += len(string([]rune(lines[v.Line-1])[:v.Column-1])) // Column counts runes
	// Scan to the closing bracket, past quotes and comments, remembering
	// where the last item ended: the additions go right after it.
	depth, quote, last := 0, byte(0), off
	for i := off; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (text[i-1] == ' ' || text[i-1] == '\t' || text[i-1] == '\n'):
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				var add, comments []string
				indent := strings.Repeat(" ", k.Column-1)
				for _, s := range items {
					add = append(add, s.Item())
					comments = append(comments, indent+"# jailer trace: "+s.Item()+": "+s.Why+"\n")
				}
				sep := ", "
				switch text[last-1] {
				case '[':
					sep = ""
				case ',':
					sep = " "
				}
				eol := strings.IndexByte(text[i:], '\n')
				rest, after := text[i:], ""
				if eol >= 0 {
					rest, after = text[i:i+eol+1], text[i+eol+1:]
				} else {
					rest += "\n"
				}
				return []byte(text[:last] + sep + strings.Join(add, ", ") + text[last:i] + rest + strings.Join(comments, "") + after), nil
			}
		}
		last = i + 1
	}
	return nil, errors.New("unterminated flow list")
}
