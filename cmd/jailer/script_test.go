package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// [exec:NAME] for host programs, [user:NAME] for the test users .ci/run
// makes (false without root or the user, a failure under CI=true).
//
// Commands: chroot DIR CMD... runs a command in a built jail with
// chroot(8); userdir USER DIR makes a directory of USER's; asuser USER
// CMD... runs a command as USER (jailer is this test binary as the real
// jailer), in the script's current directory, with the environment of a
// login of USER's, and with a last argument & in the background until the
// script ends; waitfile FILE waits until FILE exists (a running jail's
// sign, through --output). $WORK and its parent are opened to all (0711), so that
// the test users reach what a script gives them.
func TestScripts(t *testing.T) {
	var bin string // the jailer the test users run
	if os.Geteuid() == 0 && !testing.Short() {
		bin = publicJailer(t)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", os.Getenv("PATH"))
			env.Setenv("CI", os.Getenv("CI"))
			// A store of the script's own (--link store, jailer gc).
			env.Setenv("JAILER_STORE", filepath.Join(env.WorkDir, ".store"))
			if os.Geteuid() == 0 {
				for _, d := range []string{filepath.Dir(env.WorkDir), env.WorkDir} {
					if err := os.Chmod(d, 0o711); err != nil {
						return err
					}
				}
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch {
			case cond == "root":
				if testing.Short() {
					return false, nil
				}
				if os.Geteuid() != 0 && os.Getenv("CI") == "true" {
					t.Fatal("CI=true but not root: root-only scripts must run in CI")
				}
				return os.Geteuid() == 0, nil
			case strings.HasPrefix(cond, "user:"):
				if testing.Short() {
					return false, nil
				}
				if _, err := lookupTestUser(strings.TrimPrefix(cond, "user:")); err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatalf("[%s]: %v, and CI=true", cond, err)
					}
					return false, nil
				}
				return true, nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"chroot": func(ts *testscript.TestScript, neg bool, args []string) {
				cmd := exec.Command("chroot", append([]string{ts.MkAbs(args[0])}, args[1:]...)...)
				cmd.Env = []string{"PATH=/bin", "LANG=C"}
				out, err := cmd.CombinedOutput()
				ts.Stdout().Write(out)
				if (err != nil) != neg {
					ts.Fatalf("chroot %v: %v\n%s", args, err, out)
				}
			},
			"userdir": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: userdir USER DIR")
				}
				u, err := lookupTestUser(args[0])
				ts.Check(err)
				dir := ts.MkAbs(args[1])
				ts.Check(os.Mkdir(dir, 0o755))
				ts.Check(os.Chown(dir, u.uid, u.gid))
			},
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: waitfile FILE")
				}
				for {
					if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			},
			"asuser": func(ts *testscript.TestScript, neg bool, args []string) {
				bg := len(args) > 0 && args[len(args)-1] == "&"
				if bg {
					args = args[:len(args)-1]
				}
				if len(args) < 2 {
					ts.Fatalf("usage: asuser USER [VAR=VALUE...] CMD [ARGS...] [&]")
				}
				u, err := lookupTestUser(args[0])
				ts.Check(err)
				var env []string
				for len(args) > 2 && strings.Contains(args[1], "=") {
					env, args = append(env, args[1]), append(args[:1], args[2:]...)
				}
				var cmd *exec.Cmd
				if args[1] == "jailer" {
					cmd = u.jailer(bin, ts.MkAbs("."), args[2:]...)
				} else {
					cmd = u.command(args[1], args[2:]...)
					cmd.Dir = ts.MkAbs(".")
				}
				cmd.Env = append(cmd.Env, env...)
				if bg {
					// In the background, its output unseen, until the
					// script ends it (jailer stop) or ends.
					ts.Check(cmd.Start())
					ts.Defer(func() {
						cmd.Process.Kill()
						cmd.Wait()
					})
					return
				}
				cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
				if err := cmd.Run(); (err != nil) != neg {
					ts.Fatalf("asuser %v: %v", args, err)
				}
			},
		},
	})
}
