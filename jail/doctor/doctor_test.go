package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"

	"golang.org/x/sys/unix"
)

// TestMain: the test binary is also the probe (probe.go runs it again).
func TestMain(m *testing.M) {
	if IsProbe() {
		os.Exit(RunProbe())
	}
	testutil.Main(m)
}

// fakeHost is a Host whose files are written under a temporary directory:
// files maps a name relative to it to content ("" content makes a
// directory of a name ending in "/"). The probe answers p; MapIDs records
// its call and returns mapErr.
type fakeHost struct {
	files  map[string]string
	uid    int
	probe  Probe
	mapErr error
}

func (f fakeHost) host(t *testing.T) (Host, *[]string) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range f.files {
		p := filepath.Join(dir, name)
		text = strings.ReplaceAll(text, "DIR", dir)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755 // programs, looked for as executables
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	h := Host{
		UID: f.uid, GID: f.uid, User: "alice",
		ProcSys: filepath.Join(dir, "proc/sys"), SubUID: filepath.Join(dir, "etc/subuid"), SubGID: filepath.Join(dir, "etc/subgid"),
		Status: filepath.Join(dir, "proc/self/status"), Cgroup: filepath.Join(dir, "proc/self/cgroup"), Mountinfo: filepath.Join(dir, "proc/self/mountinfo"),
		Path: filepath.Join(dir, "bin"), Tun: filepath.Join(dir, "dev/net/tun"),
		Probe: func(bool) Probe { return f.probe },
		MapIDs: func(u, g string, uids, gids []Range) error {
			calls = append(calls, fmt.Sprintf("%s %s %v %v", filepath.Base(u), filepath.Base(g), uids, gids))
			return f.mapErr
		},
	}
	if f.uid == 0 {
		h.User = "root"
	}
	return h, &calls
}

// goodHost is a host where everything works for alice (uid 1001).
func goodHost() map[string]string {
	return map[string]string{
		"proc/sys/user/max_user_namespaces":                     "15000\n",
		"proc/sys/kernel/unprivileged_userns_clone":             "1\n",
		"proc/sys/kernel/apparmor_restrict_unprivileged_userns": "0\n",
		"etc/subuid":          "bob:100000:65536\nalice:200000:65536\n",
		"etc/subgid":          "alice:200000:65536\n",
		"bin/newuidmap":       "#!/bin/false\n",
		"bin/newgidmap":       "#!/bin/false\n",
		"bin/slirp4netns":     "#!/bin/false\n",
		"dev/net/tun":         "",
		"proc/self/status":    "Name:\tjailer\nSeccomp:\t0\nSeccomp_filters:\t0\n",
		"proc/self/cgroup":    "0::/user.slice/user-1001.slice/user@1001.service/app.slice\n",
		"proc/self/mountinfo": "30 23 0:26 / DIR/cg rw,nosuid - cgroup2 cgroup2 rw\n",
		"cg/user.slice/user-1001.slice/user@1001.service/app.slice/cgroup.controllers":     "cpu memory pids\n",
		"cg/user.slice/user-1001.slice/user@1001.service/app.slice/cgroup.procs":           "",
		"cg/user.slice/user-1001.slice/user@1001.service/app.slice/cgroup.subtree_control": "",
	}
}

// with returns files with changes: a name mapped to "-" is removed.
func with(files map[string]string, changes map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for k, v := range changes {
		if v == "-" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// TestRun makes the checks against fake /proc/sys, /etc/subuid, helpers,
// cgroups and status files, with the probes' answers given, and looks at
// the line of each check named in want, whether a run of jailer enter
// would work (OK), and which helpers MapIDs was asked to run.
func TestRun(t *testing.T) {
	cgDir := "cg/user.slice/user-1001.slice/user@1001.service/app.slice"
	tests := []struct {
		name  string
		host  fakeHost
		setup func(t *testing.T, dir string) // after the files are written
		ok    bool
		want  []string // "STATUS NAME DETAIL-PREFIX"; STATUS "-": no such line
		calls []string // MapIDs's calls; nil: not looked at
	}{
		{
			name: "everything works", host: fakeHost{files: goodHost(), uid: 1001}, setup: delegate(cgDir, 1001), ok: true,
			want: []string{
				"ok user.max_user_namespaces 15000: user namespaces allowed",
				"ok kernel.unprivileged_userns_clone 1: unprivileged user namespaces allowed",
				"ok kernel.apparmor_restrict_unprivileged_userns 0: AppArmor leaves user namespaces alone",
				"ok userns created one",
				"ok overlay mounted a fresh root",
				"ok devices bound the host's /dev/null",
				"ok subuid alice: 200000-265535 (65536 ids)",
				"ok subgid alice: 200000-265535 (65536 ids)",
				"ok newuidmap DIR/bin/newuidmap: setuid root",
				"ok subid-map mapped you and your ranges",
				"ok cgroup-v2 DIR/" + cgDir + " is yours, with memory, pids and cpu",
				"ok seccomp filters available",
				"ok net none, host and user (DIR/bin/slirp4netns, DIR/dev/net/tun)",
			},
			calls: []string{"newuidmap newgidmap [{200000 65536}] [{200000 65536}]"},
		},
		{
			name: "no user namespaces", host: fakeHost{files: with(goodHost(), map[string]string{"proc/sys/user/max_user_namespaces": "0\n"}), uid: 1001,
				probe: Probe{Namespaces: "operation not permitted", UserNS: "operation not permitted"}},
			setup: delegate(cgDir, 1001),
			want: []string{
				"fail user.max_user_namespaces 0: no user namespace may be created (sysctl -w user.max_user_namespaces=15000",
				"fail userns cannot create a user namespace: operation not permitted",
				"warn subid-map not tried: no user namespace",
			},
			calls: []string{},
		},
		{
			name: "debian's sysctl forbids them", host: fakeHost{files: with(goodHost(), map[string]string{"proc/sys/kernel/unprivileged_userns_clone": "0\n"}), uid: 1001,
				probe: Probe{Namespaces: "operation not permitted", UserNS: "operation not permitted"}},
			want: []string{"fail kernel.unprivileged_userns_clone 0: only root may create user namespaces (sysctl -w kernel.unprivileged_userns_clone=1"},
		},
		{
			name: "ubuntu's apparmor restricts them", host: fakeHost{files: with(goodHost(), map[string]string{"proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1\n"}), uid: 1001,
				probe: Probe{Namespaces: "mount: permission denied"}},
			want: []string{
				"fail kernel.apparmor_restrict_unprivileged_userns 1: AppArmor takes every capability",
				"ok userns created one",
				"fail namespaces cannot create the mount, PID, UTS, network and IPC namespaces in it: mount: permission denied",
			},
		},
		{
			name: "sysctls of other kernels absent", host: fakeHost{files: with(goodHost(), map[string]string{
				"proc/sys/kernel/unprivileged_userns_clone": "-", "proc/sys/kernel/apparmor_restrict_unprivileged_userns": "-"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want: []string{"ok user.max_user_namespaces 15000", "- kernel.unprivileged_userns_clone", "- kernel.apparmor_restrict_unprivileged_userns"},
		},
		{
			name: "root needs no user namespace", host: fakeHost{files: with(goodHost(), map[string]string{
				"proc/sys/user/max_user_namespaces": "0\n",
				"proc/self/mountinfo":               "30 23 0:26 / DIR/cg rw - cgroup2 cgroup2 rw\n31 23 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n32 23 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
				"cg/cgroup.controllers":             "cpu io\n",
			}), uid: 0},
			ok: true,
			want: []string{
				"warn user.max_user_namespaces 0: no user namespace may be created",
				"- userns", "- subuid", "- cgroup-v2",
				"ok namespaces created the mount, PID, UTS, network and IPC namespaces",
				"ok mknod made /dev/null",
				"ok cgroups memory (v1), pids (v1), cpu (v2): limits work",
			},
		},
		{
			name: "root without mknod or cgroups", host: fakeHost{files: with(goodHost(), map[string]string{"proc/self/mountinfo": "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"}), uid: 0,
				probe: Probe{Mknod: "mknod: operation not permitted"}},
			want: []string{
				"fail mknod cannot make /dev/null on a tmpfs: mknod: operation not permitted (CAP_MKNOD",
				"warn cgroups no memory, pids or cpu controller",
			},
		},
		{
			name: "no overlay, no proc", host: fakeHost{files: goodHost(), uid: 1001, probe: Probe{Overlay: "mount overlay: invalid argument", Proc: "mount proc: operation not permitted"}},
			setup: delegate(cgDir, 1001),
			want: []string{
				"fail overlay cannot: mount overlay: invalid argument (a kernel with overlayfs",
				"fail proc cannot: mount proc: operation not permitted",
				"ok devpts mounted a private /dev/pts",
			},
		},
		{
			name: "no subordinate ids", host: fakeHost{files: with(goodHost(), map[string]string{"etc/subuid": "bob:100000:65536\n", "etc/subgid": "-"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want: []string{
				"warn subuid no range for alice in DIR/etc/subuid: a run maps you alone, and declared users' files are yours inside (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice, as root)",
				"warn subgid no range for alice in DIR/etc/subgid",
				"warn subid-map not tried: it needs ranges in both files and both helpers",
			},
			calls: []string{},
		},
		{
			name: "ranges by uid, two of them", host: fakeHost{files: with(goodHost(), map[string]string{"etc/subuid": "1001:100000:1000\n1001:300000:65536\n", "etc/subgid": "alice:100000:1000\nalice:100000:1000\n"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want:  []string{"ok subuid alice: 100000-100999, 300000-365535 (66536 ids)", "ok subgid alice: 100000-100999 (1000 ids)"},
			calls: []string{"newuidmap newgidmap [{100000 1000} {300000 65536}] [{100000 1000}]"},
		},
		{
			name: "helpers missing or not setuid", host: fakeHost{files: with(goodHost(), map[string]string{"bin/newuidmap": "-"}), uid: 1001},
			setup: func(t *testing.T, dir string) {
				delegate(cgDir, 1001)(t, dir)
				os.Chmod(filepath.Join(dir, "bin/newgidmap"), 0o755)
			},
			ok: true,
			want: []string{
				"warn newuidmap not installed (apt-get install uidmap",
				"warn newgidmap DIR/bin/newgidmap: neither setuid root nor with file capabilities",
				"warn subid-map not tried",
			},
			calls: []string{},
		},
		{
			name: "mapping fails", host: fakeHost{files: goodHost(), uid: 1001, mapErr: errors.New("newuidmap: write to uid_map failed: Operation not permitted")},
			setup: delegate(cgDir, 1001), ok: true,
			want:  []string{"warn subid-map mapping your ranges into a user namespace failed: newuidmap: write to uid_map failed"},
			calls: []string{"newuidmap newgidmap [{200000 65536}] [{200000 65536}]"},
		},
		{
			name: "cgroup not delegated", host: fakeHost{files: goodHost(), uid: 1001}, ok: true,
			want: []string{"warn cgroup-v2 your cgroup DIR/" + cgDir + " is not delegated to you: --memory, --pids and --cpus are refused without root"},
		},
		{
			name: "delegated without pids", host: fakeHost{files: with(goodHost(), map[string]string{cgDir + "/cgroup.controllers": "cpu memory\n"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want: []string{"warn cgroup-v2 DIR/" + cgDir + " is yours, without the pids controllers"},
		},
		{
			name: "no cgroup2 at all", host: fakeHost{files: with(goodHost(), map[string]string{"proc/self/mountinfo": "31 23 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"}), uid: 1001}, ok: true,
			want: []string{"warn cgroup-v2 no cgroup2 filesystem is mounted"},
		},
		{
			name: "seccomp filters on this process already", host: fakeHost{files: with(goodHost(), map[string]string{"proc/self/status": "Seccomp:\t2\nSeccomp_filters:\t3\n"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want: []string{"ok seccomp filters available (this process runs under 3 already"},
		},
		{
			name: "no slirp4netns", host: fakeHost{files: with(goodHost(), map[string]string{"bin/slirp4netns": "-"}), uid: 1001},
			setup: delegate(cgDir, 1001), ok: true,
			want: []string{"warn net none and host; not user: slirp4netns is not installed (apt install slirp4netns, as root)"},
		},
		{
			name: "no /dev/net/tun", host: fakeHost{files: with(goodHost(), map[string]string{"dev/net/tun": "-"}), uid: 0}, ok: true,
			want: []string{"warn net none and host; not user: DIR/dev/net/tun is missing (modprobe tun, as root)"},
		},
		{
			name: "no seccomp", host: fakeHost{files: with(goodHost(), map[string]string{"proc/self/status": "Name:\tjailer\n"}), uid: 1001},
			setup: delegate(cgDir, 1001),
			want:  []string{"fail seccomp this kernel has no seccomp (a kernel built with CONFIG_SECCOMP_FILTER)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, calls := tt.host.host(t)
			dir := filepath.Dir(filepath.Dir(h.SubUID))
			setuid(t, dir)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			r := Run(h)
			var text bytes.Buffer
			r.Text(&text)
			lines := map[string]string{}
			for _, c := range r.Checks {
				line := c.Detail
				if c.Fix != "" && c.Status != OK {
					line += " (" + c.Fix + ")"
				}
				lines[c.Name] = string(c.Status) + " " + c.Name + " " + line
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				status, rest, _ := strings.Cut(w, " ")
				name, _, _ := strings.Cut(rest, " ")
				got, ok := lines[name]
				switch {
				case status == "-" && ok:
					t.Errorf("check %s: %q; want no such line", name, got)
				case status != "-" && !strings.HasPrefix(got, w):
					t.Errorf("check %s: %q; want it to start %q", name, got, w)
				}
			}
			if r.OK != tt.ok {
				t.Errorf("OK = %v, want %v:\n%s", r.OK, tt.ok, text.String())
			}
			if tt.calls != nil && !slices.Equal(*calls, tt.calls) {
				t.Errorf("MapIDs calls = %q, want %q", *calls, tt.calls)
			}
			if n := strings.Count(text.String(), "\n"); n != len(r.Checks) {
				t.Errorf("Text() has %d lines for %d checks:\n%s", n, len(r.Checks), text.String())
			}
		})
	}
}

// delegate makes the fake cgroup directory rel (and its files) uid's, as
// systemd delegates a subtree.
func delegate(rel string, uid int) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if os.Geteuid() != 0 { // chown: root's, but quick (no -short skip)
			if os.Getenv("CI") == "true" {
				t.Fatal("needs root to chown, and CI=true")
			}
			t.Skip("needs root to chown")
		}
		for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control"} {
			if err := os.Chown(filepath.Join(dir, rel, f), uid, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// setuid makes the fake helpers setuid (they are root's: the tests run as
// root, or they are not setuid root, as a user could make them).
func setuid(t *testing.T, dir string) {
	for _, name := range []string{"newuidmap", "newgidmap"} {
		p := filepath.Join(dir, "bin", name)
		if _, err := os.Stat(p); err == nil {
			if err := unix.Chmod(p, 0o4755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestThisHost runs doctor on this host, for real, as root: on the CI
// machine kind (Debian 12, kernel 6.x, hybrid cgroups) every check that
// enter needs passes, and the probes create the namespaces and mount what
// enter mounts.
func TestThisHost(t *testing.T) {
	testutil.RequireRoot(t)
	r := Run(ThisHost())
	var text bytes.Buffer
	r.Text(&text)
	if !r.OK || !r.Root {
		t.Errorf("doctor as root: OK %v, Root %v; want both:\n%s", r.OK, r.Root, text.String())
	}
	for _, name := range []string{"namespaces", "tmpfs", "overlay", "proc", "devpts", "mknod", "seccomp"} {
		if !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Name == name && c.Status == OK }) {
			t.Errorf("doctor as root: no ok %s line:\n%s", name, text.String())
		}
	}
}

// TestProbeUserNS runs the real probe with a user namespace (as root,
// whose namespace may make one too): every step enter takes without root
// works, mknod excepted, which a user namespace refuses.
func TestProbeUserNS(t *testing.T) {
	testutil.RequireRoot(t)
	p := probe(true)
	if p.Mknod == "" {
		t.Errorf("probe in a user namespace made a device node: %+v", p)
	}
	p.Mknod = ""
	if p != (Probe{}) {
		t.Errorf("probe in a user namespace = %+v, want every step but mknod to work", p)
	}
}
