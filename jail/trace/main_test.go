//go:build linux

package trace

import (
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/jailtest"
)

func TestMain(m *testing.M) { jailtest.Main(m) }
