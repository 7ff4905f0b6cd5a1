package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/chronos-go/chronos/internal/svc"
	"github.com/chronos-go/chronos/tenancy"
)

const configUsage = `Usage:
  chronos config show [--config PATH]   print the resolved configuration, secrets masked
  chronos config check [--config PATH]  load and validate; print every problem
  chronos config new-key                print a new API key and its sha256 for auth.keys
  chronos config hash-key               read a key on stdin, print its sha256
`

// runConfig is `chronos config`: inspect the configuration and make keys.
func runConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	fs := flag.NewFlagSet("chronos config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: $CHRONOS_CONFIG, then ./chronos.config.json or ./.chronos.json)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	switch args[0] {
	case "show", "check":
		cfg, file, err := svc.LoadConfig(*path)
		if err != nil {
			fmt.Fprintf(stderr, "chronos config %s: %v\n", args[0], err)
			return 1
		}
		if args[0] == "check" {
			fmt.Fprintf(stdout, "%s: valid\n", file)
			return 0
		}
		out, err := cfg.Masked()
		if err != nil {
			fmt.Fprintf(stderr, "chronos config show: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", out)
		return 0
	case "new-key":
		key, sha, err := tenancy.NewKey()
		if err != nil {
			fmt.Fprintf(stderr, "chronos config new-key: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "key:    %s\nsha256: %s\n\nGive the key to the client (Authorization: Bearer <key>); put only the sha256 in auth.keys[].sha256.\n", key, sha)
		return 0
	case "hash-key":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		key := strings.TrimSpace(line)
		if key == "" {
			fmt.Fprintf(stderr, "chronos config hash-key: no key on stdin (%v)\n", err)
			return 2
		}
		fmt.Fprintln(stdout, tenancy.HashKey(key))
		return 0
	default:
		fmt.Fprintf(stderr, "chronos config: unknown command %q\n\n%s", args[0], configUsage)
		return 2
	}
}
