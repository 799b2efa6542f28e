// Command archbench serves, loads and compares server architectures on one
// uppercase-echo protocol. See README.md; everything lives in importable
// packages, this file only wires the process to internal/cli.
package main

import (
	"context"
	"fmt"
	"os"

	"archbench/internal/cli"
)

func main() {
	if err := cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archbench:", err)
		os.Exit(cli.ExitCode(err))
	}
}
