// Package cli is archbench's command line: a table of subcommands, each
// parsing its own flags and calling the packages that do the work.
package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// UsageError is a mistake in the command line: the process exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// ExitCode maps Run's error to the process exit code: 0 for nil, 2 for a
// usage error, 1 for anything else.
func ExitCode(err error) int {
	var u *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	default:
		return 1
	}
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q (commands: %s)", args[0], strings.Join(commandNames(), ", "))
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func commandNames() []string {
	var n []string
	for k := range commands {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: archbench COMMAND [flags]   (archbench COMMAND -h for its flags)")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a FlagSet that reports errors as one UsageError line
// instead of printing the whole usage; -h prints the flags to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Package flag writes a refused flag's message to the output and then
	// calls Usage; -h calls Usage with nothing written first. So Usage
	// prints only when the output is empty: for -h.
	var failed bytes.Buffer
	fs.SetOutput(&failed)
	fs.Usage = func() {
		if failed.Len() > 0 {
			failed.Reset()
			return
		}
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "usage: archbench %s %s\n", name, synopsis)
		fs.PrintDefaults()
		fs.SetOutput(&failed)
	}
	return fs
}

// parse parses args, which must be flags only; -h prints usage and yields
// errHelp (exit 0).
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseWithArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseWithArgs is parse for commands that take positional arguments.
func parseWithArgs(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp // fs.Parse has printed the usage
	}
	if err != nil {
		msg := err.Error()
		if m := invalidValue.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("--%s %s: %s", m[2], m[1], m[3])
		}
		return usagef("%s: %s", fs.Name(), msg)
	}
	return nil
}

// invalidValue is how package flag words a value its flag refused; parse
// rewords it as --name "value": reason.
var invalidValue = regexp.MustCompile(`^invalid value (".*") for flag -(\S+): (.*)$`)

var errHelp = errors.New("help shown")
