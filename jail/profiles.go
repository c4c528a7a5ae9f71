package jail

import (
	"fmt"
	"os"

	"github.com/jailer-dev/jailer/manifest"
)

// hostsFile maps localhost, so `getent hosts localhost` works in the jail.
const hostsFile = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// profile is what one runtime profile adds: generated files and host paths
// copied (a directory recursively).
type profile struct {
	content map[string]string
	copy    []string
}

// profiles is the table of runtime profiles; manifest.Profiles describes
// each for users and for validation.
var profiles = map[string]profile{
	"hosts":  {content: map[string]string{"/etc/hosts": hostsFile, "/etc/nsswitch.conf": nsswitch}},
	"certs":  {copy: []string{"/etc/ssl/certs/ca-certificates.crt"}},
	"locale": {copy: []string{"/usr/lib/locale/C.utf8"}},
}

func (p *planner) profiles() {
	for _, pr := range p.m.Profiles {
		def := profiles[pr.Name]
		why := fmt.Sprintf("profile %s (%s)", pr.Name, where(pr.Pos))
		for _, dest := range sortedKeys(def.content) {
			p.es.add(Entry{Dest: dest, Kind: KindFile, Content: []byte(def.content[dest]), Mode: 0o644, Why: why})
		}
		for _, src := range def.copy {
			if _, err := os.Stat(src); err != nil {
				p.errorf("%s: profile %s needs %s on the host: %v", pr.Pos, pr.Name, src, err)
				continue
			}
			p.file(manifest.File{Src: src, Host: src, Dest: src, Pos: pr.Pos}, why)
		}
	}
}
