package main

import (
	"github.com/urfave/cli/v2"
)

// exportDefaultFormat is export.Tar, spelled out: this file is also in the
// lean jailer, which leaves package export out (export_lean.go).
const exportDefaultFormat = "tar"

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a jail as a reproducible tar archive or a container image (OCI or docker archive), or push the image to a registry",
		ArgsUsage: "JAIL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "file to write (- for stdout); a tar named .tar.gz or .tgz is gzip-compressed"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: exportDefaultFormat, Usage: "tar, oci (OCI image archive) or docker (docker-archive)"},
			&cli.StringFlag{Name: "tag", Aliases: []string{"t"}, Usage: "image name for oci and docker (default jailer/NAME:latest)"},
			&cli.StringFlag{Name: "push", Usage: "write the image to a registry, REGISTRY/NAME:TAG, instead of a file (credentials from docker login or podman login)"},
			&cli.BoolFlag{Name: "insecure", Usage: "with --push: allow plain HTTP, and TLS without verification (a registry on localhost)"},
			newJSONFlag(), newQuietFlag(),
		},
		Action: exportAction,
	}
}
