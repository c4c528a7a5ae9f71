package manifest

import (
	"testing"
)

// TestAllProblemsAtOnce: a field the decoder refuses does not hide the
// problems validation finds (layout, devices, profiles, paths): a user
// fixes a manifest in one pass.
func TestAllProblemsAtOnce(t *testing.T) {
	dir := t.TempDir()
	m := writeManifest(t, dir, lines(
		"version: 1",
		"layout: flatt",
		"binarys: [bash]",
		"devices: [null, floppy]",
		"profiles: [locales]",
		"users:",
		"  - { name: tester, uid: abc }",
		"  - { name: alice, uid: 1001 }",
		"dirs:",
		"  - { path: /srv, owner: \"alice:alice\" }",
		"  - ../etc",
	))
	_, err := Load(m)
	checkErrs(t, "Load", err,
		wantErr{m + ":2:9", `unknown layout "flatt"`},
		wantErr{m + ":3:1", `unknown field "binarys"`},
		wantErr{m + ":4:17", `unknown device "floppy"`},
		wantErr{m + ":5:12", `unknown profile "locales"`},
		wantErr{m + ":7:26", `uid must be a whole number`},
		wantErr{m + ":11:5", `dirs path: "../etc" is relative`},
	)
}
