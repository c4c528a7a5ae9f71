// Package human formats numbers for people: sizes in B, KiB, MiB, GiB.
package human

import (
	"fmt"
)

// Bytes formats n bytes as B, KiB, MiB or GiB with one decimal.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
