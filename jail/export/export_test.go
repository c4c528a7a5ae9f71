package export

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/jailtest"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
	"github.com/jailer-dev/jailer/jail/plan"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// exportJail builds a small jail without binaries (so without root), then
// plants what an export must handle: a symlink to a secret host file, a
// symlink to a host directory, setuid and setgid modes, a hardlink and
// names that sort differently component by component. It returns the jail
// directory and the secret.
func exportJail(t *testing.T) (dir, secret string) {
	t.Helper()
	tmp := t.TempDir()
	secret = "host secret " + t.Name()
	secretDir := filepath.Join(tmp, "host")
	if err := os.MkdirAll(secretDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secretDir, "shadow"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	m := testutil.WriteManifest(t, tmp, "m.yaml", `version: 1
name: Export Test
files:
  - { dest: /etc/motd, content: "hello\n" }
  - { dest: /a/b, content: "b\n" }
  - { dest: /a-b, content: "a-b\n" }
dirs:
  - { path: /tmp, mode: "1777" }
enter:
  command: [/bin/sh, -c, 'echo hi']
  user: "1000:1000"
  workdir: /home/tester
  env: { ZED: last, GREETING: hello }
`)
	dir = filepath.Join(tmp, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: dir})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(secretDir, "shadow"), filepath.Join(dir, "etc/shadow")))
	must(os.Symlink(secretDir, filepath.Join(dir, "hostdir")))
	must(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "bin/suid"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(dir, "bin/suid"), 0o4755))
	must(os.Link(filepath.Join(dir, "bin/suid"), filepath.Join(dir, "bin/suid-link")))
	must(os.Mkdir(filepath.Join(dir, "shared"), 0o755))
	must(unix.Chmod(filepath.Join(dir, "shared"), 0o2775))
	return dir, secret
}

// readTar returns the headers of a tar stream and the contents of its
// regular files, by name.
func readTar(t *testing.T, r io.Reader) ([]*tar.Header, map[string]string) {
	t.Helper()
	tr := tar.NewReader(r)
	var hdrs []*tar.Header
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, files
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg {
			files[h.Name] = string(b)
		}
	}
}

func TestExportTar(t *testing.T) {
	dir, secret := exportJail(t)
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(dir, "etc/motd"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	sum, err := Write(context.Background(), dir, &buf, Options{})
	if err != nil {
		t.Fatalf("Export = %v", err)
	}
	if bytes.Contains(buf.Bytes(), []byte(secret)) {
		t.Errorf("the archive holds the content of a host file a symlink in the jail points to")
	}
	hdrs, files := readTar(t, bytes.NewReader(buf.Bytes()))
	var names []string
	byName := map[string]*tar.Header{}
	for _, h := range hdrs {
		names = append(names, h.Name)
		byName[h.Name] = h
	}
	// Sorted component by component: "a/" and its contents before "a-b".
	sorted := slices.SortedFunc(slices.Values(names), func(a, b string) int {
		a, b = "/"+strings.TrimSuffix(a, "/"), "/"+strings.TrimSuffix(b, "/")
		if plan.PathLess(a, b) {
			return -1
		}
		return 1
	})
	if !slices.Equal(names, sorted) {
		t.Errorf("Export entries are not sorted by path:\n%q", names)
	}
	for _, want := range [][]string{{"a/", "a/b", "a-b", "bin/", "bin/suid", "bin/suid-link", "dev/", "etc/"}, {"etc/motd", "etc/shadow", "hostdir"}, {"shared/", "tmp/"}} {
		i := slices.Index(names, want[0])
		if i < 0 || i+len(want) > len(names) || !slices.Equal(names[i:i+len(want)], want) {
			t.Errorf("Export entries =\n%q\nwant the run %q", names, want)
		}
	}
	if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "hostdir/") || n == "" || strings.HasPrefix(n, "/") }) {
		t.Errorf("Export entries = %q: went through a symlink, or named the root", names)
	}
	if sum.Entries != len(hdrs) || sum.Format != Tar {
		t.Errorf("summary = %+v, want %d entries, format tar", sum, len(hdrs))
	}
	uid, gid := os.Geteuid(), os.Getegid()
	for _, h := range hdrs {
		if !h.ModTime.Equal(time.Unix(0, 0)) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: mtime %v atime %v ctime %v, want the epoch and no atime, ctime", h.Name, h.ModTime, h.AccessTime, h.ChangeTime)
		}
		if h.Uname != "" || h.Gname != "" || len(h.PAXRecords) > 0 || len(h.Xattrs) > 0 { //nolint:staticcheck // Xattrs must be empty too
			t.Errorf("%s: uname %q gname %q pax %v: want numeric owners only, no PAX records", h.Name, h.Uname, h.Gname, h.PAXRecords)
		}
		if h.Format != tar.FormatUSTAR {
			t.Errorf("%s: format %v, want USTAR", h.Name, h.Format)
		}
		if h.Name != "etc/motd" && (h.Uid != uid || h.Gid != gid) && h.Name != "home/" {
			t.Errorf("%s: owner %d:%d, want %d:%d (the tree's)", h.Name, h.Uid, h.Gid, uid, gid)
		}
	}
	if m := byName["etc/motd"]; os.Geteuid() == 0 && (m.Uid != 1234 || m.Gid != 5678) {
		t.Errorf("etc/motd: owner %d:%d, want 1234:5678", m.Uid, m.Gid)
	}
	checks := []struct {
		name     string
		typ      byte
		mode     int64
		linkname string
	}{
		{"etc/shadow", tar.TypeSymlink, 0o777, byName["etc/shadow"].Linkname},
		{"hostdir", tar.TypeSymlink, 0o777, byName["hostdir"].Linkname},
		{"bin/suid", tar.TypeReg, 0o4755, ""},
		{"bin/suid-link", tar.TypeLink, 0o4755, "bin/suid"},
		{"shared/", tar.TypeDir, 0o2775, ""},
		{"tmp/", tar.TypeDir, 0o1777, ""},
		{"etc/motd", tar.TypeReg, 0o644, ""},
	}
	for _, c := range checks {
		h := byName[c.name]
		if h == nil {
			continue // reported above
		}
		if h.Typeflag != c.typ || h.Mode != c.mode || h.Linkname != c.linkname {
			t.Errorf("%s: type %q mode %04o link %q, want type %q mode %04o link %q", c.name, h.Typeflag, h.Mode, h.Linkname, c.typ, c.mode, c.linkname)
		}
	}
	if !strings.HasSuffix(byName["etc/shadow"].Linkname, "/host/shadow") || !strings.HasSuffix(byName["hostdir"].Linkname, "/host") {
		t.Errorf("symlink targets = %q, %q: want the planted targets", byName["etc/shadow"].Linkname, byName["hostdir"].Linkname)
	}
	if files["etc/motd"] != "hello\n" || files["a-b"] != "a-b\n" || files["bin/suid"] != "#!/bin/sh\n" {
		t.Errorf("contents = %q", files)
	}
	if sum.Bytes != int64(len("hello\n")+len("b\n")+len("a-b\n")+len("#!/bin/sh\n")+len(files["etc/group"])+len(files["etc/passwd"])) {
		t.Errorf("summary bytes = %d", sum.Bytes)
	}
}

// TestExportReproducible: two exports of one jail are the same bytes in
// every format, even when the tree's mtimes and atimes changed in between.
func TestExportReproducible(t *testing.T) {
	dir, _ := exportJail(t)
	out := t.TempDir()
	for _, tt := range []struct{ file, format string }{
		{"j.tar", Tar}, {"j.tar.gz", Tar}, {"j.tgz", Tar},
		{"j.oci.tar", OCI}, {"j.docker.tar", Docker},
	} {
		var got [2][]byte
		for i := range got {
			p := filepath.Join(out, fmt.Sprint(i), tt.file)
			os.MkdirAll(filepath.Dir(p), 0o755)
			sum, err := ToFile(context.Background(), dir, p, Options{Format: tt.format})
			if err != nil {
				t.Fatalf("ToFile(%s) = %v", tt.file, err)
			}
			if sum.Output != p {
				t.Errorf("summary output = %q, want %q", sum.Output, p)
			}
			if got[i], err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Duration(i+1) * time.Hour)
			os.Chtimes(filepath.Join(dir, "etc/motd"), later, later)
			os.Chtimes(filepath.Join(dir, "etc"), later, later)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%s: two exports differ (%d and %d bytes)", tt.file, len(got[0]), len(got[1]))
		}
		if strings.HasSuffix(tt.file, "gz") {
			zr, err := gzip.NewReader(bytes.NewReader(got[0]))
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
				t.Errorf("%s: gzip header name %q mtime %v comment %q, want none", tt.file, zr.Name, zr.ModTime, zr.Comment)
			}
			readTar(t, zr)
		} else if hdrs, _ := readTar(t, bytes.NewReader(got[0])); len(hdrs) == 0 {
			t.Errorf("%s: empty archive", tt.file)
		}
		if left, _ := filepath.Glob(filepath.Join(out, "0", ".*")); len(left) > 0 {
			t.Errorf("%s: temporary files left behind: %q", tt.file, left)
		}
	}
}

func TestExportSourceDateEpoch(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"1700000000", 1700000000, false},
		{"-1", 0, true},
		{"1.5", 0, true},
		{"yesterday", 0, true},
		{"99999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := SourceDateEpoch(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("SourceDateEpoch(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestExportEpoch: every entry and the image's creation time take Epoch.
func TestExportEpoch(t *testing.T) {
	dir, _ := exportJail(t)
	const epoch = 1700000000
	var buf bytes.Buffer
	if _, err := Write(context.Background(), dir, &buf, Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := readTar(t, &buf)
	for _, h := range hdrs {
		if h.ModTime.Unix() != epoch {
			t.Errorf("%s: mtime %d, want %d", h.Name, h.ModTime.Unix(), epoch)
		}
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	if _, err := ToFile(context.Background(), dir, p, Options{Format: Docker, Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Created.Unix() != epoch || len(cfg.History) != 1 || cfg.History[0].Created.Unix() != epoch {
		t.Errorf("image created %v, history %+v: want %d", cfg.Created, cfg.History, epoch)
	}
}

// layerNames returns the entry names of an image's only layer.
func layerNames(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("image layers = %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdrs, _ := readTar(t, rc)
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
	}
	return names
}

// TestExportImage reads the exported images back with go-containerregistry:
// one layer, the config from enter:, named by the tag, no device nodes.
func TestExportImage(t *testing.T) {
	dir, _ := exportJail(t)
	// A FIFO stands in for a device node (mknod of a device needs root).
	if err := unix.Mkfifo(filepath.Join(dir, "dev/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantConfig := v1.Config{
		Cmd:        []string{"/bin/sh", "-c", "echo hi"},
		Env:        []string{"GREETING=hello", "PATH=/bin:/usr/bin:/sbin:/usr/sbin", "ZED=last"},
		User:       "1000:1000",
		WorkingDir: "/home/tester",
	}
	check := func(what string, img v1.Image, sum *Summary) {
		t.Helper()
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Config; !slices.Equal(got.Cmd, wantConfig.Cmd) || !slices.Equal(got.Env, wantConfig.Env) || got.User != wantConfig.User || got.WorkingDir != wantConfig.WorkingDir {
			t.Errorf("%s: config = %+v, want %+v", what, got, wantConfig)
		}
		if cfg.OS != "linux" || cfg.Architecture == "" || cfg.Created.Unix() != 0 {
			t.Errorf("%s: os %q arch %q created %v", what, cfg.OS, cfg.Architecture, cfg.Created)
		}
		names := layerNames(t, img)
		if slices.Contains(names, "dev/fifo") || !slices.Contains(names, "dev/") || !slices.Contains(names, "etc/motd") {
			t.Errorf("%s: layer entries %q: want dev/ without dev/fifo", what, names)
		}
		if len(sum.Omitted) != 1 || !strings.HasPrefix(sum.Omitted[0], "/dev/fifo: ") {
			t.Errorf("%s: omitted = %q, want /dev/fifo", what, sum.Omitted)
		}
		id, _ := img.ConfigName()
		if sum.ImageID != id.String() {
			t.Errorf("%s: summary image id %s, want %s", what, sum.ImageID, id)
		}
	}

	out := t.TempDir()
	docker := filepath.Join(out, "docker.tar")
	sum, err := ToFile(context.Background(), dir, docker, Options{Format: Docker})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tag != "jailer/export-test:latest" {
		t.Errorf("default tag = %q, want jailer/export-test:latest", sum.Tag)
	}
	tag, _ := name.NewTag("jailer/export-test:latest")
	img, err := tarball.ImageFromPath(docker, &tag)
	if err != nil {
		t.Fatalf("read the docker-archive with tag %s: %v", tag, err)
	}
	check("docker", img, sum)

	oci := filepath.Join(out, "oci.tar")
	sum, err = ToFile(context.Background(), dir, oci, Options{Format: OCI, Tag: "registry.example:5000/team/app:v1"})
	if err != nil {
		t.Fatal(err)
	}
	layoutDir := filepath.Join(out, "layout")
	untar(t, oci, layoutDir)
	idx, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index = %+v, %v; want one manifest", im, err)
	}
	if got := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != "registry.example:5000/team/app:v1" {
		t.Errorf("ref.name = %q", got)
	}
	img, err = idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != ociTypes.manifest {
		t.Errorf("oci manifest media type = %s", mt)
	}
	check("oci", img, sum)
}

// untar extracts the regular files and directories of a tar file into dir.
func untar(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportDefaultTag(t *testing.T) {
	tests := []struct{ in, want string }{
		{"py-tests", "jailer/py-tests:latest"},
		{"Export Test", "jailer/export-test:latest"},
		{"a__b..c", "jailer/a-b-c:latest"},
		{"--", "jailer/jail:latest"},
		{"", "jailer/jail:latest"},
	}
	for _, tt := range tests {
		got := DefaultTag(tt.in)
		if got != tt.want {
			t.Errorf("DefaultTag(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if err := CheckTag(got); err != nil {
			t.Errorf("CheckTag(%q) = %v", got, err)
		}
	}
	for _, bad := range []string{"UPPER/case:1", "a:b:c", "x:"} {
		if CheckTag(bad) == nil {
			t.Errorf("CheckTag(%q) = nil, want an error", bad)
		}
	}
}

func TestExportErrors(t *testing.T) {
	dir, _ := exportJail(t)
	notJail := t.TempDir()
	ctx := context.Background()
	if _, err := Write(ctx, notJail, io.Discard, Options{}); !errors.Is(err, lockfile.ErrNotAJail) {
		t.Errorf("Export(not a jail) = %v, want ErrNotAJail", err)
	}
	if _, err := Write(ctx, dir, io.Discard, Options{Format: "zip"}); err == nil || !strings.Contains(err.Error(), `unknown export format "zip"`) {
		t.Errorf("Export(format zip) = %v", err)
	}
	if _, err := Write(ctx, dir, io.Discard, Options{Format: OCI, Tag: "Bad Tag"}); err == nil || !strings.Contains(err.Error(), `image name "Bad Tag"`) {
		t.Errorf("Export(bad tag) = %v", err)
	}
	if _, err := ToFile(ctx, dir, filepath.Join(dir, "tmp/x.tar"), Options{}); err == nil || !strings.Contains(err.Error(), "inside the jail") {
		t.Errorf("ToFile(into the jail) = %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(filepath.Join(dir, "tmp"), link)
	if _, err := ToFile(ctx, dir, filepath.Join(link, "x.tar"), Options{}); err == nil || !strings.Contains(err.Error(), "inside the jail") {
		t.Errorf("ToFile(through a symlink into the jail) = %v", err)
	}
	if _, err := ToFile(ctx, dir, filepath.Join(t.TempDir(), "x.tar.gz"), Options{Format: Docker}); err == nil || !strings.Contains(err.Error(), "gzip is for tar exports only") {
		t.Errorf("ToFile(docker, .tar.gz) = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	out := filepath.Join(t.TempDir(), "x.tar")
	if _, err := ToFile(cancelled, dir, out, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ToFile(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(out); err == nil {
		t.Errorf("a failed export left %s", out)
	}
}

// TestExportDevices: devices go into a tar as device entries, and are left
// out of images.
func TestExportDevices(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := exportJail(t)
	if err := unix.Mknod(filepath.Join(dir, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(filepath.Join(dir, "dev/null"), 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Write(context.Background(), dir, &buf, Options{}); err != nil {
		t.Fatal(err)
	}
	hdrs, _ := readTar(t, &buf)
	i := slices.IndexFunc(hdrs, func(h *tar.Header) bool { return h.Name == "dev/null" })
	if i < 0 || hdrs[i].Typeflag != tar.TypeChar || hdrs[i].Devmajor != 1 || hdrs[i].Devminor != 3 || hdrs[i].Mode != 0o666 {
		t.Errorf("dev/null entry = %+v, want a char device 1,3 mode 0666", hdrs[min(max(i, 0), len(hdrs)-1)])
	}
	sum, err := Write(context.Background(), dir, io.Discard, Options{Format: OCI})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(sum.Omitted, func(s string) bool { return strings.HasPrefix(s, "/dev/null: ") }) {
		t.Errorf("oci export omitted %q, want /dev/null", sum.Omitted)
	}
}

// TestExportMountedProc: what is mounted on /proc is not exported, and
// /proc is written as the directory the build made.
func TestExportMountedProc(t *testing.T) {
	testutil.RequireRoot(t)
	dir, _ := exportJail(t)
	proc := filepath.Join(dir, "proc")
	var before bytes.Buffer
	if _, err := Write(context.Background(), dir, &before, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", proc, "tmpfs", 0, "size=1M,mode=0555"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(proc, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(proc, "status"), []byte("mounted"), 0o644); err != nil {
		t.Fatal(err)
	}
	var after bytes.Buffer
	if _, err := Write(context.Background(), dir, &after, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		hdrs, _ := readTar(t, &after)
		var names []string
		for _, h := range hdrs {
			names = append(names, fmt.Sprintf("%s %04o", h.Name, h.Mode))
		}
		t.Errorf("export with a tmpfs on /proc differs from the one without:\n%q", names)
	}
}

// podman runs podman with the options that work on these machines: runc
// (crun fails on the hybrid cgroup layout) and ulimits below the hard
// limits (podman's default nofile is above them, and runc fails).
func podman(t *testing.T, args ...string) (string, error) {
	t.Helper()
	runc := testutil.RequireTool(t, "runc")
	var full []string
	if args[0] == "run" {
		full = append(full, "--runtime", runc, "run", "--rm", "--network", "none",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000")
		args = args[1:]
	}
	out, err := exec.Command("podman", append(full, args...)...).CombinedOutput()
	return string(out), err
}

// TestExportPodman loads both image formats into podman and runs them: a
// command given on the command line, and the image's default command,
// which must see the enter: env, user and workdir.
func TestExportPodman(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "podman")
	tmp := t.TempDir()
	m := testutil.WriteManifest(t, tmp, "m.yaml", `version: 1
name: podman-test
binaries: [/bin/sh, /bin/echo, /bin/cat, /bin/id]
users: [{name: tester, uid: 1000}]
files:
  - { dest: /etc/motd, content: "hello from the jail\n" }
devices: [null]
enter:
  command: [/bin/sh, -c, 'echo "default $GREETING $PWD $(id -un)"']
  user: tester
  workdir: /home/tester
  env: { GREETING: hello, PATH: /bin }
`)
	dir := filepath.Join(tmp, "jail")
	jailtest.MustBuild(t, m, build.Options{Output: dir})
	for _, format := range []string{Docker, OCI} {
		t.Run(format, func(t *testing.T) {
			tag := fmt.Sprintf("localhost/jailer-test/%s:%d", format, os.Getpid())
			file := filepath.Join(tmp, format+".tar")
			if _, err := ToFile(context.Background(), dir, file, Options{Format: format, Tag: tag}); err != nil {
				t.Fatal(err)
			}
			out, err := podman(t, "load", "-i", file)
			if err != nil {
				t.Fatalf("podman load -i %s: %v\n%s", file, err, out)
			}
			t.Cleanup(func() {
				if out, err := podman(t, "rmi", "-f", tag); err != nil {
					t.Errorf("podman rmi %s: %v\n%s", tag, err, out)
				}
			})
			if !strings.Contains(out, "Loaded image: "+tag) && !strings.Contains(out, "Loaded image(s): "+tag) {
				t.Errorf("podman load said %q, want the image named %s", out, tag)
			}
			out, err = podman(t, "run", tag, "/bin/sh", "-c", "echo $GREETING; cat /etc/motd")
			if err != nil || out != "hello\nhello from the jail\n" {
				t.Errorf("podman run %s /bin/sh -c ... = %q, %v; want the greeting and the motd", tag, out, err)
			}
			out, err = podman(t, "run", tag)
			if want := "default hello /home/tester tester\n"; err != nil || out != want {
				t.Errorf("podman run %s (default command) = %q, %v; want %q", tag, out, err, want)
			}
		})
	}
}

// TestExportRootlessSameAsRoot builds one manifest as root and, for real,
// as the unprivileged CI user (whose tree has no devices and is all the
// user's), and exports both: the archives must be the same bytes, with the
// declared owners, the devices and the setuid program asked for, and so
// the images the same ID. A setuid bit the user set in the tree is not
// exported.
func TestExportRootlessSameAsRoot(t *testing.T) {
	u := testutil.RequireUser(t, testutil.CIUser)
	dir := testutil.PublicDir(t, &u)
	suid := filepath.Join(dir, "suid")
	data, err := os.ReadFile("/bin/true")
	if err == nil {
		err = os.WriteFile(suid, data, 0o755)
	}
	if err == nil {
		err = unix.Chmod(suid, 0o4755)
	}
	if err != nil {
		t.Fatal(err)
	}
	m := testutil.WriteManifest(t, dir, "m.yaml", `version: 1
binaries: [/bin/true, { src: ./suid, dest: /bin/suid, allow_setuid: true }]
devices: [null, zero, tty]
dirs:
  - { path: /data, owner: "tester:tester", mode: "0750" }
  - { path: /tmp, mode: "1777" }
files: [{ dest: /data/note, content: "hi\n", mode: "0640" }]
symlinks: [{ path: /note, target: /data/note }]
users: [{ name: tester, uid: 1000 }]
`)
	byRoot, rootless := filepath.Join(dir, "root.jail"), filepath.Join(dir, "user.jail")
	jailtest.MustBuild(t, m, build.Options{Output: byRoot})
	jailtest.BuildAs(t, u, m, rootless)
	if l, err := lockfile.Read(rootless); err != nil || l.Rootless == nil {
		t.Fatalf("the lock of the jail %s built = %+v, %v; want one of a build without root", u.Name, l, err)
	}

	var a, b bytes.Buffer
	if _, err := Write(context.Background(), byRoot, &a, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), rootless, &b, Options{}); err != nil {
		t.Fatal(err)
	}
	ha, _ := readTar(t, bytes.NewReader(a.Bytes()))
	hb, _ := readTar(t, bytes.NewReader(b.Bytes()))
	for i := range max(len(ha), len(hb)) {
		if i >= len(ha) || i >= len(hb) || tarEntry(ha[i]) != tarEntry(hb[i]) {
			t.Fatalf("entry %d: built by root %s, without root %s", i, tarEntryAt(ha, i), tarEntryAt(hb, i))
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the archives have the same entries but differ in bytes")
	}
	for _, want := range []string{"dev/null c 0666 0:0 1,3", "dev/tty c 0666 0:0 5,0", "data/ d 0750 1000:1000 0,0", "data/note - 0640 0:0 0,0", "bin/suid - 4755 0:0 0,0"} {
		if !slices.ContainsFunc(ha, func(h *tar.Header) bool { return tarEntry(h) == want }) {
			t.Errorf("the archive has no entry %q", want)
		}
	}

	// The builder may set setuid bits on any file of the tree, which an
	// archive that gives the file to root would make setuid root: those the
	// build did not set are not kept.
	if err := unix.Chmod(filepath.Join(rootless, "data/note"), 0o6755); err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if _, err := Write(context.Background(), rootless, &c, Options{}); err != nil {
		t.Fatal(err)
	}
	hc, _ := readTar(t, &c)
	if i := slices.IndexFunc(hc, func(h *tar.Header) bool { return h.Name == "data/note" }); i < 0 || tarEntry(hc[i]) != "data/note - 0755 0:0 0,0" {
		t.Errorf("after chmod 6755 in the tree, the archive has %s; want data/note - 0755 0:0 0,0", tarEntryAt(hc, i))
	}
	unix.Chmod(filepath.Join(rootless, "data/note"), 0o640)

	ida, err := Write(context.Background(), byRoot, io.Discard, Options{Format: Docker})
	if err != nil {
		t.Fatal(err)
	}
	idb, err := Write(context.Background(), rootless, io.Discard, Options{Format: Docker})
	if err != nil {
		t.Fatal(err)
	}
	if ida.ImageID != idb.ImageID || !slices.Equal(ida.Omitted, idb.Omitted) {
		t.Errorf("images: built by root %s (left out %q), without root %s (left out %q); want the same", ida.ImageID, ida.Omitted, idb.ImageID, idb.Omitted)
	}
}

// tarEntry is what an archive says of an entry, but its content:
// "NAME TYPE MODE UID:GID MAJOR,MINOR" (TYPE c, d, l, - or h), and the
// target of a link.
func tarEntry(h *tar.Header) string {
	typ := map[byte]string{tar.TypeChar: "c", tar.TypeDir: "d", tar.TypeSymlink: "l", tar.TypeReg: "-", tar.TypeLink: "h"}[h.Typeflag]
	s := fmt.Sprintf("%s %s %04o %d:%d %d,%d", h.Name, typ, h.Mode, h.Uid, h.Gid, h.Devmajor, h.Devminor)
	if h.Linkname != "" {
		s += " -> " + h.Linkname
	}
	return s
}

func tarEntryAt(hdrs []*tar.Header, i int) string {
	if i < 0 || i >= len(hdrs) {
		return "(none)"
	}
	return tarEntry(hdrs[i])
}
