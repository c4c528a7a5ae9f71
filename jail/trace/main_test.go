//go:build linux

package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
)

// TestMain: with JAILER_TEST_TRACE=MANIFEST the test binary is `jailer
// trace --write MANIFEST -- CMD...` (the command follows "--"), printing
// the rounds as JSON, for the tests that trace as another user.
func TestMain(m *testing.M) {
	if file := os.Getenv("JAILER_TEST_TRACE"); file != "" && !enter.IsInit() {
		os.Exit(testTraceMain(file))
	}
	jailtest.Main(m)
}

func testTraceMain(file string) int {
	var argv []string
	for i, a := range os.Args {
		if a == "--" {
			argv = os.Args[i+1:]
		}
	}
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	rounds, err := Trace(context.Background(), file, Options{Command: argv, Write: true, Stdio: enter.Stdio{In: null, Out: null, Err: null}})
	json.NewEncoder(os.Stdout).Encode(rounds)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
