package enter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/internal/testutil"
	"github.com/jailer-dev/jailer/jail/lockfile"
)

// TestEnterStoredJail: a jail whose files are links of store files
// (--link store) runs in a fresh root, where a run that rewrites, chmods
// or removes them changes its own copies, never the store's, which other
// jails share; writing into the tree itself (--persist, or a plain
// chroot) is refused.
func TestEnterStoredJail(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho stored\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := testutil.WriteManifest(t, dir, "m.yaml", "version: 1\nbinaries: [/bin/bash, /bin/sh, /bin/rm, /bin/chmod]\nfiles: [{src: ./tool.sh, dest: /bin/tool.sh}]\n")
	sdir := filepath.Join(dir, "store")
	mustBuild(t, m, build.Options{Link: lockfile.LinkStore, Store: sdir})
	jail := filepath.Join(dir, "jail")
	lock, err := lockfile.Read(jail)
	if err != nil {
		t.Fatal(err)
	}
	var obj string
	for _, e := range lock.Entries {
		if e.Dest == "/bin/tool.sh" {
			obj = filepath.Join(sdir, e.Store)
		}
	}
	if obj == "" || statT(t, obj).Ino != statT(t, filepath.Join(jail, "bin/tool.sh")).Ino {
		t.Fatalf("the jail's tool.sh is not its store file %q: the test proves nothing", obj)
	}
	code, out, err := runIn(t, jail, nil, "/bin/bash", "-c", "chmod 755 /bin/tool.sh && echo evil > /bin/tool.sh && /bin/tool.sh; rm /bin/bash && echo removed")
	if code != 0 || err != nil || !strings.Contains(out, "removed") {
		t.Errorf("changing a stored jail's fresh root: exit %d, %v, %q", code, err, out)
	}
	if data, _ := os.ReadFile(obj); string(data) != "#!/bin/sh\necho stored\n" {
		t.Errorf("the store file was written through the jail: %q", data)
	}
	if st := statT(t, obj); st.Mode&0o7777 != 0o555 || st.Nlink != 2 {
		t.Errorf("the store file: mode %04o, %d links; want 0555 and 2 (store, jail)", st.Mode&0o7777, st.Nlink)
	}
	for name, edit := range map[string]func(*Options){
		"--persist":       func(o *Options) { o.Persist = true },
		"--no-namespaces": func(o *Options) { o.NoNamespaces = true },
	} {
		code, _, err := runIn(t, jail, edit, "/bin/rm", "/bin/tool.sh")
		if code != ExitSetupFailed || err == nil || !strings.Contains(err.Error(), "built with --link store: its files are shared") {
			t.Errorf("%s on a stored jail: exit %d, %v; want it refused", name, code, err)
		}
	}
	if _, err := os.Stat(filepath.Join(jail, "bin/tool.sh")); err != nil {
		t.Errorf("the tree lost /bin/tool.sh: %v", err)
	}
}
