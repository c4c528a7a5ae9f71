package manifest

import (
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	tests := []struct {
		in      string
		want    Publish
		wantErr string // a part of the error; "" for none
	}{
		{in: "8080:80", want: Publish{"127.0.0.1", 8080, 80, "tcp"}},
		{in: "8080:80/tcp", want: Publish{"127.0.0.1", 8080, 80, "tcp"}},
		{in: "5353:53/udp", want: Publish{"127.0.0.1", 5353, 53, "udp"}},
		{in: "0.0.0.0:8080:80", want: Publish{"0.0.0.0", 8080, 80, "tcp"}},
		{in: "192.168.1.2:1:65535/udp", want: Publish{"192.168.1.2", 1, 65535, "udp"}},
		{in: "8080", wantErr: `"8080": use [IP:]HOSTPORT:JAILPORT[/tcp|/udp]`},
		{in: "", wantErr: `"": use`},
		{in: "a:b:c:d", wantErr: `"a:b:c:d": use`},
		{in: "8080:80/sctp", wantErr: `protocol "sctp" is not tcp or udp`},
		{in: "8080:80/", wantErr: `protocol "" is not tcp or udp`},
		{in: "0:80", wantErr: `port "0" is not a number from 1 to 65535`},
		{in: "8080:65536", wantErr: `port "65536" is not a number from 1 to 65535`},
		{in: "8080:-1", wantErr: `port "-1"`},
		{in: "localhost:8080:80", wantErr: `"localhost" is not an IPv4 address`},
		{in: "::1:8080:80", wantErr: `"::1:8080:80": use`},
		{in: "[::1]:8080:80", wantErr: `"[::1]:8080:80": use`},
		{in: "::1:8080:80/udp", wantErr: `use`},
		{in: "fe80::1:80:80", wantErr: `use`},
		{in: "1.2.3:80:80", wantErr: `"1.2.3" is not an IPv4 address`},
	}
	for _, tt := range tests {
		got, err := ParsePublish(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParsePublish(%q) = %v", tt.in, err)
		case tt.wantErr == "" && got != tt.want:
			t.Errorf("ParsePublish(%q) = %+v, want %+v", tt.in, got, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParsePublish(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
		}
	}
	if s := (Publish{"127.0.0.1", 8080, 80, "udp"}).String(); s != "127.0.0.1:8080:80/udp" {
		t.Errorf("String() = %q", s)
	}
}
