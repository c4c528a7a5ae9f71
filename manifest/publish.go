package manifest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Publish is a port forwarded from the host into a jail with the
// user-mode network (enter.publish, --publish).
type Publish struct {
	HostIP   string `json:"host_ip"`   // the host address listened on; 127.0.0.1 unless given
	HostPort int    `json:"host_port"` // 1 to 65535
	JailPort int    `json:"jail_port"` // 1 to 65535
	Proto    string `json:"proto"`     // tcp or udp
}

// DefaultPublishIP is where a published port listens when the value names
// no address: the host's loopback, so that a port published for a test
// is not open to the network (Docker's default, 0.0.0.0, is; say so to
// have it).
const DefaultPublishIP = "127.0.0.1"

// String is p as ParsePublish reads it, with every part written.
func (p Publish) String() string {
	return fmt.Sprintf("%s:%d:%d/%s", p.HostIP, p.HostPort, p.JailPort, p.Proto)
}

// ParsePublish reads [IP:]HOSTPORT:JAILPORT[/tcp|/udp], such as 8080:80,
// 0.0.0.0:5353:53/udp; IP is an IPv4 address (the user-mode network has
// no IPv6), 127.0.0.1 when left out; the protocol is tcp when left out.
func ParsePublish(s string) (Publish, error) {
	usage := fmt.Sprintf("%q: use [IP:]HOSTPORT:JAILPORT[/tcp|/udp], such as 8080:80 or 127.0.0.1:5353:53/udp", s)
	p := Publish{HostIP: DefaultPublishIP, Proto: "tcp"}
	rest, proto, ok := strings.Cut(s, "/")
	if ok {
		if proto != "tcp" && proto != "udp" {
			return p, fmt.Errorf("%s (protocol %q is not tcp or udp)", usage, proto)
		}
		p.Proto = proto
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
	case 3:
		ip, err := netip.ParseAddr(parts[0])
		if err != nil || !ip.Is4() {
			return p, fmt.Errorf("%s (%q is not an IPv4 address)", usage, parts[0])
		}
		p.HostIP = ip.String()
		parts = parts[1:]
	default:
		return p, fmt.Errorf("%s", usage)
	}
	for i, dst := range []*int{&p.HostPort, &p.JailPort} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("%s (port %q is not a number from 1 to 65535)", usage, parts[i])
		}
		*dst = n
	}
	return p, nil
}
