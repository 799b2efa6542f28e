package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

func init() {
	register("send", "send one request and print the verified reply (the textbook client; over UDP with retries)", runSend)
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("send", "[flags] TEXT", stderr)
	var (
		addr, network string
		framing       protocol.Framing
		retry         loadgen.Retry
		timeout       time.Duration
	)
	retry, _ = loadgen.ParseRetry(defaultRetry)
	fs.StringVar(&addr, "addr", servers.DefaultAddr, "server address: host:port, or a socket path for unix")
	fs.StringVar(&network, "network", "tcp", "tcp, tcp6, unix, udp or udp6")
	fs.TextVar(&framing, "framing", protocol.Raw, "tcp: raw, line or length (must match the server)")
	fs.TextVar(&retry, "retry", retry, "udp: INITIAL,xFACTOR,GIVEUP resend schedule, or off (wait --timeout once)")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "tcp: bound of the whole exchange; udp with --retry off: the wait for the reply")
	if err := parseWithArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usagef("send: want exactly one TEXT argument (quote it), got %d", fs.NArg())
	}
	text := fs.Arg(0)
	switch network {
	case "tcp", "tcp6", "unix":
	case "udp", "udp6":
		if framing != protocol.Raw {
			return usagef("send: --framing %s: a datagram is one message; udp takes raw framing only", framing)
		}
		limit := loadgen.MaxUDPSize4
		if network == "udp6" {
			limit = loadgen.MaxUDPSize6
		}
		if len(text) > limit {
			return usagef("send: TEXT is %d bytes; a %s datagram carries at most %d", len(text), network, limit)
		}
	default:
		return usagef("send: --network %q: want tcp, tcp6, unix, udp or udp6", network)
	}
	if timeout <= 0 {
		return usagef("send: --timeout %s: must be positive", timeout)
	}
	if framing == protocol.Line && strings.Contains(text, "\n") {
		return usagef("send: TEXT holds a newline, which line framing cannot carry inside a message")
	}
	reply, rtt, sends, err := loadgen.Exchange(ctx, network, addr, framing, []byte(text), retry, timeout)
	if ne := (*loadgen.NetError)(nil); errors.Is(err, loadgen.ErrConfig) || errors.As(err, &ne) && ne.BadAddr() {
		return usagef("send: %v", err) // the address itself, as load says it
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintf(stderr, "send: reply from %s %s in %s (%d sends)\n", network, addr, rtt.Round(time.Microsecond), sends)
	_, err = fmt.Fprintf(stdout, "%s\n", reply)
	return err
}

// defaultRetry is the textbook client's schedule.
const defaultRetry = "100ms,x2,2s"
