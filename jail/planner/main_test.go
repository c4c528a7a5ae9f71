package planner

import (
	"testing"

	"github.com/jailer-dev/jailer/jail/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }
