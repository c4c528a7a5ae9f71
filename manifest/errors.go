package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a manifest, at a position.
type Error struct {
	Pos Pos
	Msg string
	// Err is the cause, when the problem came from one (a host file
	// missing, say), so that errors.Is sees through the position.
	Err error
}

// Error is the problem as FILE:LINE:COL: message.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// yamlLine is how yaml.v3 words a syntax error. Regexps in this package
// are compiled on first use, not at program start: the jail's init runs
// this binary too and should not pay for them.
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner), whose line it reports 0-based: one less than the real line.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError turns a yaml.v3 parse error into FILE:LINE:COL form. yaml.v3
// reports only the line; the column given is that line's first non-blank.
func syntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	line, col := 1, 1
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblems[msg] {
			line++
		}
		lines := strings.Split(string(data), "\n")
		if line >= 1 && line <= len(lines) {
			col = len(lines[line-1]) - len(strings.TrimLeft(lines[line-1], " \t")) + 1
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: "YAML syntax: " + msg + " (fix the YAML syntax)"}
}

// kindName says what a node is, for messages that name what was written.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!int", "!!float", "!!bool":
			return n.Value
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}
