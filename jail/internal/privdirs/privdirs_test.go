package privdirs

import (
	"slices"
	"testing"
)

// TestParse checks which directories count as private.
func TestParse(t *testing.T) {
	passwd := `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
svc:x:999:999::/home/svc:/bin/sh
alice:x:1000:1000:Alice:/home/alice/:/bin/bash
odd:x:1001:1001::/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
broken line
`
	tests := []struct {
		name, defs string
		env        map[string]string
		want       []string
	}{
		{"defaults", "", nil, []string{"/home/alice", "/home/svc", "/root"}},
		{"login.defs lowers UID_MIN", "UID_MIN 30\nUID_MAX 60000\n", nil, []string{"/home/alice", "/home/svc", "/var/www", "/root"}},
		{"the caller's home and cache", "", map[string]string{"HOME": "/srv/me", "XDG_CACHE_HOME": "/var/cache/me"},
			[]string{"/srv/me/.cache", "/var/cache/me", "/home/alice", "/home/svc", "/srv/me", "/root"}},
		{"HOME=/ is no private directory", "", map[string]string{"HOME": "/"}, []string{"/home/alice", "/home/svc", "/.cache", "/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range parse(passwd, tt.defs, func(k string) string { return tt.env[k] }) {
				got = append(got, d.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("parse = %q, want %q", got, tt.want)
			}
		})
	}
}
