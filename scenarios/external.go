package scenarios

import (
	"fmt"
	"strings"
)

// External is a server archbench does not build: a command the runner
// starts for every run of it, as it starts `archbench serve` for its own
// architectures. In a suite file, under the top-level key external:
//
//	external:
//	  - name: mine
//	    command: ./myserver --port {port}
//	  - name: c-epoll        # a shipped baseline: no command
//
// and on the command line as `archbench run --external 'NAME=COMMAND'`.
type External struct {
	// Name is the row's name in every table (a-z, 0-9, '.', '_', '-'); it
	// must not be a registered architecture's.
	Name string `yaml:"name"`
	// Command is run with sh -c, after {addr}, {host}, {port}, {framing}
	// and {network} are replaced by the address the runner chose (a free
	// TCP port on 127.0.0.1), the scenario's framing and "tcp". Empty
	// names a shipped baseline (see package baselines), which supplies it.
	Command string `yaml:"command"`
	// Sequential says the server serves one client at a time: the
	// conformance cases that need two at once are skipped for it.
	Sequential bool `yaml:"sequential"`
}

// ParseExternal parses the --external flag's NAME=COMMAND.
func ParseExternal(s string) (External, error) {
	name, cmd, ok := strings.Cut(s, "=")
	name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
	if !ok || name == "" || cmd == "" {
		return External{}, fmt.Errorf("%q: want NAME=COMMAND, e.g. 'mine=./myserver --port {port}'", s)
	}
	if !nameRE.MatchString(name) {
		return External{}, fmt.Errorf("name %q: use a-z, 0-9, '.', '_' and '-'", name)
	}
	return External{Name: name, Command: cmd}, nil
}
