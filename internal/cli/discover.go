package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"archbench/internal/discover"
)

// maxDiscoverTimeout bounds --timeout.
const maxDiscoverTimeout = time.Minute

func init() {
	register("discover", "broadcast one UDP request and list every server that answered", runDiscover)
}

func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("discover", "--broadcast ADDR:PORT [--timeout D]", stderr)
	var to string
	var timeout time.Duration
	fs.StringVar(&to, "broadcast", "", "IPv4 broadcast address and port of the segment, e.g. 198.18.0.255:7000")
	fs.DurationVar(&timeout, "timeout", time.Second, "how long to collect replies")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if to == "" {
		return usagef("discover: --broadcast is required (e.g. --broadcast 198.18.0.255:7000)")
	}
	addr, err := netip.ParseAddrPort(to)
	if err != nil || !addr.Addr().Is4() || addr.Port() == 0 {
		return usagef("discover: --broadcast %q: want an IPv4 address and a port, e.g. 198.18.0.255:7000", to)
	}
	if timeout <= 0 || timeout > maxDiscoverTimeout {
		return usagef("discover: --timeout %v: want more than 0 and at most %v", timeout, maxDiscoverTimeout)
	}
	res, err := discover.Run(ctx, addr, timeout)
	for _, a := range res.Answers {
		line := fmt.Sprintf("%-21s rtt %v", a.Addr, a.RTT.Round(time.Microsecond))
		if a.Duplicates > 0 {
			line += fmt.Sprintf("  (%d duplicate replies)", a.Duplicates)
		}
		if a.Mismatch != "" {
			line += "  MISMATCH: " + a.Mismatch
		}
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		return err // exit 1: none answered (discover.ErrNoAnswer), or the socket failed
	}
	bad := 0
	for _, a := range res.Answers {
		if a.Mismatch != "" {
			bad++
		}
	}
	fmt.Fprintf(stderr, "%d servers answered %q to %v within %v", len(res.Answers), res.Request, addr, timeout)
	if bad > 0 {
		fmt.Fprintf(stderr, "; %d replies were not its transform\n", bad)
		return fmt.Errorf("discover: %d of %d replies were not the transform of the request", bad, len(res.Answers))
	}
	fmt.Fprintln(stderr)
	return nil
}
