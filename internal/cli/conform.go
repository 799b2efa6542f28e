package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers/servertest"
)

func init() {
	register("conform", "check a running server against the black-box conformance cases", runConform)
}

// conformDialTimeout bounds the first connect, which says whether anything
// listens at --addr at all.
const conformDialTimeout = 5 * time.Second

func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("conform", "--addr HOST:PORT [--network tcp|tcp6|unix] [--framing raw|line|length] [--sequential] [--short] [--seed N] [--run REGEXP]", stderr)
	var (
		r              servertest.Remote
		framing, match string
	)
	fs.StringVar(&r.Addr, "addr", "", "address of the running server (HOST:PORT, or a socket path with --network unix)")
	fs.StringVar(&r.Network, "network", "tcp", "tcp, tcp6 or unix")
	fs.StringVar(&framing, "framing", "raw", "the framing the server serves: raw, line or length")
	fs.BoolVar(&r.Sequential, "sequential", false, "the server serves one client at a time: skip the cases that need two at once")
	fs.BoolVar(&r.Short, "short", false, "skip the long cases (as go test -short)")
	fs.Uint64Var(&r.Seed, "seed", 1, "seed of the cases' random data")
	fs.StringVar(&match, "run", "", "run only the cases whose name matches this regular expression (default: every black-box case)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if r.Addr == "" {
		return usagef("conform: --addr is required: the address of a running server, e.g. 127.0.0.1:9000")
	}
	switch r.Network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return usagef("conform: --network %q: want tcp, tcp6 or unix", r.Network)
	}
	f, err := protocol.ParseFraming(framing)
	if err != nil {
		return usagef("conform: --framing: %v", err)
	}
	r.Framing = f
	if match != "" {
		re, err := regexp.Compile(match)
		if err != nil {
			return usagef("conform: --run: %v", err)
		}
		r.Match = re.MatchString
	}
	// Resolved once, as load resolves it (a .invalid name is never looked
	// up, a service name comes from /etc/services).
	addrs, err := loadgen.ResolveAddrs(ctx, r.Network, r.Addr)
	if ne := (*loadgen.NetError)(nil); errors.Is(err, loadgen.ErrConfig) || errors.As(err, &ne) && ne.BadAddr() {
		return usagef("conform: --addr: %v", err) // the address itself, as load says it
	}
	if err != nil {
		return fmt.Errorf("conform: %w", err) // a resolver that failed
	}
	// The first address that accepts a connection is the one every case
	// dials, as the load generator keeps to the first that worked.
	var dialErr error
	for _, a := range addrs {
		try := r
		try.Addr = a
		if dialErr = servertest.ConformDial(try, conformDialTimeout); dialErr == nil {
			if a != r.Addr {
				fmt.Fprintf(stdout, "conform: %s is %s\n", r.Addr, a)
			}
			r.Addr = a
			return conform(ctx, r, stdout)
		}
	}
	return fmt.Errorf("conform: nothing accepts connections at %s %s (%s): %w", r.Network, r.Addr, strings.Join(addrs, ", "), dialErr)
}

// conform runs the black-box cases against r, printing one line per case
// and a summary; a failure is an error (exit 1) naming the cases.
func conform(ctx context.Context, r servertest.Remote, stdout io.Writer) error {
	counts := map[string]int{}
	outs, err := servertest.Conform(ctx, r, func(o servertest.Outcome) {
		counts[o.Status]++
		line := fmt.Sprintf("%-4s %-16s %6.2fs", strings.ToUpper(o.Status), o.Case, o.Elapsed.Seconds())
		if o.Status != servertest.Pass && o.Detail != "" {
			line += "  " + firstLine(o.Detail, 240)
		}
		fmt.Fprintln(stdout, line)
	})
	fmt.Fprintf(stdout, "conform: %s %s, %s framing: %d cases, %d passed, %d failed, %d skipped\n",
		r.Network, r.Addr, r.Framing, len(outs), counts[servertest.Pass], counts[servertest.Fail], counts[servertest.Skip])
	if errors.Is(err, servertest.ErrConform) {
		return fmt.Errorf("conform: %w", err)
	}
	if err != nil {
		return fmt.Errorf("conform: %w", err)
	}
	return nil
}

// firstLine is the first line of s, cut to max bytes.
func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
