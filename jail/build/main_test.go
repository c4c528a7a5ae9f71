package build

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/manifest"
)

// TestMain: with JAILER_TEST_BUILD=MANIFEST[:OUTPUT] the test binary is a
// builder process, so that builds can be killed and raced like real
// `jailer build` processes (JAILER_TEST_FORCE=1 adds --force), and run as
// another user; it prints the summary on stdout and the warnings on
// stderr.
func TestMain(m *testing.M) {
	if spec := os.Getenv("JAILER_TEST_BUILD"); spec != "" {
		path, out, _ := strings.Cut(spec, ":")
		man, err := manifest.Load(path)
		var sum *Summary
		if err == nil {
			sum, err = Build(context.Background(), man, Options{Output: out, Force: os.Getenv("JAILER_TEST_FORCE") != ""})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, w := range sum.Warnings {
			fmt.Fprintln(os.Stderr, "warning: "+w)
		}
		fmt.Println(sum)
		os.Exit(0)
	}
	testutil.Main(m)
}

// mustBuild builds a manifest and fails the test on error.
func mustBuild(t testing.TB, path string, opts Options) *Summary {
	t.Helper()
	s, err := Build(context.Background(), testutil.LoadManifest(t, path), opts)
	if err != nil {
		t.Fatalf("Build(%s) = %v", path, err)
	}
	return s
}
