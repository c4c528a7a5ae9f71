package manifest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// seconds is a timeout given as a bare number of seconds; compiled on
// first use, as the jail's init runs this binary too.
var seconds = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-+]?[0-9]+(\.[0-9]+)?$`) })

// ParseTimeout reads a timeout: a bare number is seconds ("30", "1.5"),
// anything else a Go duration ("10s", "5m", "1h30m"). 0 means no timeout,
// as for timeout(1). A negative or unreadable value is an error that
// quotes it and says what to write.
func ParseTimeout(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	negative := fmt.Errorf("%q is negative (use seconds, such as 30, or a duration, such as 5m; 0 means no timeout)", s)
	if seconds().MatchString(t) {
		f, err := strconv.ParseFloat(t, 64)
		switch {
		case err == nil && f < 0:
			return 0, negative
		case err != nil || f*float64(time.Second) >= float64(math.MaxInt64):
			return 0, fmt.Errorf("%q is longer than a timeout can be (at most about 290 years)", s)
		}
		return time.Duration(math.Ceil(f * float64(time.Second))), nil // never 0 (none) for a tiny positive value
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a timeout (use seconds, such as 30 or 1.5, or a duration, such as 10s or 5m)", s)
	}
	if d < 0 {
		return 0, negative
	}
	return d, nil
}

// ParseSize reads a size such as 512M, 64k, 2G or 1048576 (bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	if n := len(t); n > 0 {
		switch strings.ToUpper(t[n-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 64M, 512K or 2G", s)
	}
	return n * mult, nil
}
