package schemagen

import (
	"bytes"
	"encoding/json"
	"slices"
)

// obj is a JSON object that keeps its keys in the order they were added,
// so that the schema lists properties in the order the types declare them.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) with(k string, v any) obj { return append(o, kv{k, v}) }

// writeJSON writes v indented by two spaces per level, without the HTML
// escaping of encoding/json ("->" stays readable in descriptions).
func writeJSON(b *bytes.Buffer, v any, indent string) error {
	switch v := v.(type) {
	case obj:
		if len(v) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			writeJSON(b, e.k, "")
			b.WriteString(": ")
			if err := writeJSON(b, e.v, indent+"  "); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if !slices.ContainsFunc(v, func(e any) bool { _, ok := e.(obj); return ok }) {
			b.WriteString("[")
			for i, e := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				if err := writeJSON(b, e, indent); err != nil {
					return err
				}
			}
			b.WriteString("]")
			return nil
		}
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			if err := writeJSON(b, e, indent+"  "); err != nil {
				return err
			}
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	return nil
}
