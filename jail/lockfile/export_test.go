package lockfile

import "testing"

// SetHostInputs puts paths in the place of /etc/ld.so.cache, for the rest
// of the test: a test cannot rewrite the host's loader cache.
func SetHostInputs(t testing.TB, paths ...string) {
	old := hostInputs
	hostInputs = paths
	t.Cleanup(func() { hostInputs = old })
}
