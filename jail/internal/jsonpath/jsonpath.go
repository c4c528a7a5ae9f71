// Package jsonpath holds a file path in a JSON string without loss. A
// path on Linux is any bytes but NUL, a JSON string only UTF-8: a file
// named in Latin-1 ("caf\xe9") would come back as "caf\uFFFD", a name
// that is nowhere. A path that is not UTF-8 is held as Prefix and its
// bytes in base64: no path holds NUL, so no real one starts so. Others
// are as they are. The lock (package lockfile) and the request to the
// rootless save helper (package enter) hold their paths so.
package jsonpath

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Prefix starts a path held in base64.
const Prefix = "\x00base64:"

// Encode is p as a JSON string holds it.
func Encode(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	return Prefix + base64.StdEncoding.EncodeToString([]byte(p))
}

// Decode is the path that Encode held as s.
func Decode(s string) string {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return s
	}
	return string(b)
}
