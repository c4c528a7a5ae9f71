// Command jailer builds chroot jails from YAML manifests and runs programs
// inside them. See README.md for the commands and the manifest format.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jailer-dev/jailer/jail/doctor"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/timeline"
)

func main() {
	timeline.Mark("package init")
	// A jail's init: hand over before anything else runs.
	if enter.IsInit() {
		os.Exit(enter.RunInit())
	}
	// `jailer doctor`'s probe, in the namespaces it tries.
	if doctor.IsProbe() {
		os.Exit(doctor.RunProbe())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
