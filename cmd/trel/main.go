// Command trel is the trusted-release platform: server, admin tool, client
// and offline verifier in one binary. All the work happens in internal/cli.
package main

import (
	"os"

	"trel/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
