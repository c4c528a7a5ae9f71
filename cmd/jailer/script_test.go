package main

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/jailer-dev/jailer/jail/doctor"
	"github.com/jailer-dev/jailer/jail/enter"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary double as the jailer command inside
// testscript scripts.
func TestMain(m *testing.M) {
	// `jailer enter` re-executes this binary as the jail's init.
	if enter.IsInit() {
		os.Exit(enter.RunInit())
	}
	if doctor.IsProbe() {
		os.Exit(doctor.RunProbe())
	}
	if os.Getenv("JAILER_TEST_MAIN") == "1" {
		main() // this test binary as the real jailer, signals and all
	}
	testscript.Main(m, map[string]func(){
		"jailer": func() { os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI end-to-end tests in testdata/script/*.txtar.
// Conditions: [root] (scripts that need root skip without it, but fail
// under CI=true; false under -short, which leaves root tests out),
// [exec:NAME] for host programs.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", os.Getenv("PATH"))
			env.Setenv("CI", os.Getenv("CI"))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				if testing.Short() {
					return false, nil
				}
				if os.Geteuid() != 0 && os.Getenv("CI") == "true" {
					t.Fatal("CI=true but not root: root-only scripts must run in CI")
				}
				return os.Geteuid() == 0, nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// chroot DIR CMD...: run a command in a built jail with chroot(8).
			"chroot": func(ts *testscript.TestScript, neg bool, args []string) {
				cmd := exec.Command("chroot", append([]string{ts.MkAbs(args[0])}, args[1:]...)...)
				cmd.Env = []string{"PATH=/bin", "LANG=C"}
				out, err := cmd.CombinedOutput()
				ts.Stdout().Write(out)
				if (err != nil) != neg {
					ts.Fatalf("chroot %v: %v\n%s", args, err, out)
				}
			},
		},
	})
}
