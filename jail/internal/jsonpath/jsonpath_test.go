package jsonpath

import (
	"encoding/json"
	"testing"
)

// TestRoundTrip: every path comes back from Encode, JSON and Decode as
// the bytes it was; a UTF-8 path is held as it is.
func TestRoundTrip(t *testing.T) {
	for _, p := range []string{"", "/", "/usr/bin/python3", "/srv/café", "/srv/caf\xe9", "\xff\xfe", "/a/\x80/b", "/x/" + Prefix} {
		data, err := json.Marshal(Encode(p))
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if got := Decode(s); got != p {
			t.Errorf("%q came back as %q (JSON %s)", p, got, data)
		}
		if valid := p != "/srv/caf\xe9" && p != "\xff\xfe" && p != "/a/\x80/b"; valid && Encode(p) != p {
			t.Errorf("Encode(%q) = %q, want it as it is", p, Encode(p))
		}
	}
	if got := Decode(Prefix + "not base64!"); got != Prefix+"not base64!" {
		t.Errorf("Decode of a bad encoding = %q, want it as it is", got)
	}
}
