// Package cli is archbench's command line: a table of subcommands, each
// parsing its own flags and calling the packages that do the work.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "usage: archbench %s %s\n", name, synopsis)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
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
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

var errHelp = errors.New("help shown")

// sizeFlag is a byte count flag accepting 1048576, 1MiB, 64KiB, 4MB, 512B.
type sizeFlag struct{ v *int }

func (s sizeFlag) String() string {
	if s.v == nil {
		return "0"
	}
	return fmt.Sprint(*s.v)
}

func (s sizeFlag) Set(str string) error {
	n, err := ParseSize(str)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

// ParseSize parses a byte count with an optional unit: B, KB, KiB, MB, MiB, GB, GiB.
func ParseSize(s string) (int, error) {
	str := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := 1
	for _, u := range units {
		if strings.HasSuffix(str, u.suffix) {
			str, mult = strings.TrimSpace(strings.TrimSuffix(str, u.suffix)), u.mult
			break
		}
	}
	var n int
	if _, err := fmt.Sscanf(str, "%d", &n); err != nil || fmt.Sprint(n) != str {
		return 0, fmt.Errorf("bad size %q (want bytes, e.g. 65536, 64KiB, 1MiB)", s)
	}
	if n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return n * mult, nil
}
