package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"archbench/baselines"
	"archbench/runner"
	"archbench/scenarios"
	"archbench/servers"
)

// externalFlag collects repeatable --external 'NAME=COMMAND' flags.
type externalFlag struct{ list *[]scenarios.External }

func (f externalFlag) String() string {
	if f.list == nil {
		return ""
	}
	var s []string
	for _, x := range *f.list {
		s = append(s, x.Name+"="+x.Command)
	}
	return strings.Join(s, ", ")
}

func (f externalFlag) Set(v string) error {
	x, err := scenarios.ParseExternal(v)
	if err != nil {
		return err
	}
	*f.list = append(*f.list, x)
	return nil
}

const externalHelp = "NAME=COMMAND: also run an external server (repeatable). COMMAND runs with sh -c after " +
	"{addr}, {host}, {port}, {framing} and {network} are replaced (a free port on 127.0.0.1, the scenario's framing, tcp); " +
	"it is ready when it prints 'listening on ADDR' or accepts a connection, must pass the black-box conformance cases " +
	"(archbench conform) before it is timed, and is stopped with SIGTERM to its process group. The shipped baselines " +
	"(c-epoll, py-sequential, py-threads, py-pool, py-poll) are named in a suite file's external: list without a command"

// externalServers joins the suite's external servers and the --external
// flags, checks their names and prepares the shipped baselines (built in
// the cache folder; unavailable with a reason without cc or python3).
func externalServers(suite *scenarios.Suite, flags []scenarios.External) ([]runner.ExternalServer, error) {
	var out []runner.ExternalServer
	seen := map[string]bool{}
	for _, x := range append(slices.Clone(suite.External), flags...) {
		if seen[x.Name] {
			return nil, usagef("run: external server %q given twice", x.Name)
		}
		seen[x.Name] = true
		if _, err := servers.Lookup(x.Name); err == nil {
			return nil, usagef("run: external server %q has the name of a built-in architecture: choose another", x.Name)
		}
		es := runner.ExternalServer{External: x}
		if b, ok := baselines.Lookup(x.Name); ok && x.Command == "" {
			es.Sequential = es.Sequential || b.Sequential
			es.Framings = b.Framings
			cmd, err := b.Command(baselines.CacheDir())
			switch {
			case errors.Is(err, baselines.ErrUnavailable):
				es.Unavailable = err.Error()
			case err != nil:
				return nil, fmt.Errorf("run: %w", err)
			}
			es.Command = cmd
		} else if x.Command == "" {
			return nil, usagef("run: external server %q: no command, and not a shipped baseline (%s)", x.Name, strings.Join(baselineNames(), ", "))
		}
		out = append(out, es)
	}
	return out, nil
}

func baselineNames() []string {
	var n []string
	for _, b := range baselines.All() {
		n = append(n, b.Name)
	}
	return n
}

// suiteArchs is the built-in architectures the suite's scenarios name, in
// the registry's order, when every scenario names its own (nil otherwise).
func suiteArchs(suite *scenarios.Suite) []string {
	named := map[string]bool{}
	for _, sc := range suite.Scenarios {
		if len(sc.Archs) == 0 {
			return nil
		}
		for _, a := range sc.Archs {
			named[a] = true
		}
	}
	var archs []string
	for _, a := range servers.Names() {
		if named[a] {
			archs = append(archs, a)
		}
	}
	return archs
}
