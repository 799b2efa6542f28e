package servers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"archbench/internal/netnames"
	"archbench/protocol"
)

// Defaults for Config's zero values.
const (
	DefaultAddr    = "127.0.0.1:7000"
	DefaultAddr6   = "[::1]:7000"
	DefaultWorkers = 4
	DefaultLoops   = 1
	DefaultOutCap  = 4 << 20
	// DefaultOutTotal bounds the pending output of all connections.
	DefaultOutTotal = 256 << 20
)

// ListeningPrefix starts the line `archbench serve` prints on stdout once it
// accepts connections: "listening on ADDR".
const ListeningPrefix = "listening on "

// StatsPrefix starts the last line `archbench serve` prints on stdout as it
// exits: "stats " and the server's Stats as JSON.
const StatsPrefix = "stats "

// Config is what every architecture is started with. Each field's zero value
// means its documented default, so a Config serialises into scenario files
// and results as it is.
//
// Config is also the schema of every server setting: each field's json tag
// is its key in scenario files (server:) and in results.json and, with '_'
// as '-', its `archbench serve` flag; help is the flag's help, and
// unit:"bytes" makes it a size (4MiB). See archbench/internal/settings.
// Adding a setting is adding a field here (doc, default in withDefaults,
// check in Validate) and the code that uses it.
type Config struct {
	// Network is "tcp" (IPv4, the default), "tcp6" or "unix", or for the
	// datagram architectures "udp" (IPv4) or "udp6". Each architecture
	// serves the networks its Arch.Networks lists.
	Network string `json:"network,omitempty" help:"tcp, tcp6, unix, udp or udp6 (archbench list shows what each architecture serves)"`
	// Addr is host:port for TCP (default 127.0.0.1:7000, or [::1]:7000 for
	// tcp6; port 0 picks a free port), a socket path for unix.
	Addr string `json:"addr,omitempty" help:"listen address: host:port, port 0 picks one (default 127.0.0.1:7000; [::1]:7000 for tcp6; a path for unix)"`
	// Framing of the protocol (default raw).
	Framing protocol.Framing `json:"framing" help:"raw, line or length"`
	// MaxMsg bounds a framed message in bytes (0 = 1 MiB).
	MaxMsg int `json:"max_msg,omitempty" unit:"bytes" help:"largest framed message, bytes (e.g. 1MiB)"`
	// Work is the handler cost per framed message (zero = none).
	Work protocol.Work `json:"work"`
	// Workers is the goroutine count of workerpool (acceptors) and of
	// epoll-pool and gnet-pool (handlers) (0 = 4).
	Workers int `json:"workers,omitempty" help:"workerpool: accepting goroutines; epoll-pool, gnet-pool: handler goroutines"`
	// Loops is the number of event loops of select, poll, epoll, gnet and
	// evio (0 = 1).
	Loops int `json:"loops,omitempty" help:"event-loop architectures: number of loops"`
	// MaxConns caps open connections; one more is closed at once, counted
	// and logged (0 = no cap).
	MaxConns int `json:"max_conns,omitempty" help:"close connections beyond this many at once (0 = no cap)"`
	// OutCap caps a connection's pending output in bytes; at the cap the
	// server stops reading that connection until it drains (0 = 4 MiB).
	OutCap int `json:"out_cap,omitempty" unit:"bytes" help:"per-connection pending output cap, bytes (e.g. 4MiB)"`
	// OutTotal caps the pending output of all connections together, in
	// bytes: past it the server stops reading every connection that holds
	// pending output until it drains (the event-loop architectures), or
	// closes the connection where the library cannot stop reading (gnet,
	// gnet-pool). The blocking architectures and evio hold at most one
	// read's replies per connection and need no cap. (0 = 256 MiB.)
	OutTotal int `json:"out_total,omitempty" unit:"bytes" help:"server-wide cap on pending output, bytes: past it, connections holding output are not read until it drains"`
	// IdleTimeout closes a connection that made no progress either way for
	// this long (0 = never).
	IdleTimeout time.Duration `json:"idle_timeout,omitempty" help:"close a connection idle this long (0 = never)"`
	// Rcvbuf and Sndbuf ask for the server sockets' receive and send buffer
	// sizes in bytes (SO_RCVBUF, SO_SNDBUF; 0 = the kernel's default). The
	// kernel caps them at net.core.rmem_max and wmem_max; Stats records what
	// it granted. The datagram architectures use them.
	Rcvbuf int `json:"rcvbuf,omitempty" unit:"bytes" help:"udp: socket receive buffer, bytes (0 = kernel default; Stats records the granted size)"`
	Sndbuf int `json:"sndbuf,omitempty" unit:"bytes" help:"udp: socket send buffer, bytes (0 = kernel default; Stats records the granted size)"`
	// Logger receives the server's logs (nil = discard).
	Logger *slog.Logger `json:"-"`

	// stop cancels the handler work of the server built from this Config
	// when it begins to stop (see protocol.Work.DoUntil). Arch.Build gives
	// every server its own; nil (a server built without Build) never
	// cancels.
	stop *stopSignal
}

// stopSignal is closed once, when a server begins to stop.
type stopSignal struct {
	once sync.Once
	ch   chan struct{}
}

func newStopSignal() *stopSignal { return &stopSignal{ch: make(chan struct{})} }

func (s *stopSignal) close() {
	if s != nil {
		s.once.Do(func() { close(s.ch) })
	}
}

// Stopping is closed when the server built from c begins to stop: handler
// work in progress and to come is cancelled (protocol.Work.DoUntil). nil
// for a Config no server was built from.
func (c Config) Stopping() <-chan struct{} {
	if c.stop == nil {
		return nil
	}
	return c.stop.ch
}

// DefaultConfig is the Config with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

// Validate reports the first setting that cannot work, in words a user can act on.
func (c Config) Validate() error {
	switch c.Network {
	case "", "tcp", "tcp6", "unix", "udp", "udp6":
	default:
		return fmt.Errorf("network %q: want tcp, tcp6, unix, udp or udp6", c.Network)
	}
	if c.IsDatagram() && c.Framing != protocol.Raw {
		return fmt.Errorf("framing %s with network %s: a datagram is its own message; use the default framing (raw)", c.Framing, c.Network)
	}
	if c.Network == "unix" && c.Addr == "" {
		return errors.New("network unix needs an address: a socket path")
	}
	if c.Network != "unix" && c.Addr != "" {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("address %q: %v (want host:port, e.g. 127.0.0.1:7000)", c.Addr, err)
		}
		if netnames.Invalid(host) {
			return fmt.Errorf("address %q: no such host (RFC 6761: .invalid never resolves; not looked up)", c.Addr)
		}
	}
	if err := (protocol.CodecConfig{Framing: c.Framing, MaxMsg: c.MaxMsg, Work: c.Work}).Validate(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"workers", c.Workers}, {"loops", c.Loops}, {"max-conns", c.MaxConns}, {"out-cap", c.OutCap}, {"out-total", c.OutTotal}, {"rcvbuf", c.Rcvbuf}, {"sndbuf", c.Sndbuf}} {
		if f.v < 0 {
			return fmt.Errorf("%s %d: must not be negative", f.name, f.v)
		}
	}
	if c.Rcvbuf > 1<<30 || c.Sndbuf > 1<<30 {
		return fmt.Errorf("rcvbuf %d, sndbuf %d: at most 1GiB each", c.Rcvbuf, c.Sndbuf)
	}
	if c.Workers > 1<<16 {
		return fmt.Errorf("workers %d: at most 65536", c.Workers)
	}
	if c.Loops > 1024 {
		return fmt.Errorf("loops %d: at most 1024", c.Loops)
	}
	if c.OutCap != 0 && c.OutCap < 4096 {
		return fmt.Errorf("out-cap %d: at least 4096 bytes", c.OutCap)
	}
	if c.OutTotal != 0 && c.OutTotal < 64<<10 {
		return fmt.Errorf("out-total %d: at least 64KiB", c.OutTotal)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("idle-timeout %v: must not be negative", c.IdleTimeout)
	}
	return nil
}

// withDefaults fills in every zero value.
func (c Config) withDefaults() Config {
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
		if c.Network == "tcp6" || c.Network == "udp6" {
			c.Addr = DefaultAddr6
		}
	}
	if c.MaxMsg == 0 {
		c.MaxMsg = protocol.DefaultMaxMsg
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Loops == 0 {
		c.Loops = DefaultLoops
	}
	if c.OutCap == 0 {
		c.OutCap = DefaultOutCap
	}
	if c.OutTotal == 0 {
		c.OutTotal = DefaultOutTotal
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Codec is the protocol configuration of c; its work is cancelled when the
// server built from c begins to stop.
func (c Config) Codec() protocol.CodecConfig {
	return protocol.CodecConfig{Framing: c.Framing, MaxMsg: c.MaxMsg, Work: c.Work, Cancel: c.Stopping()}
}

// IsDatagram reports whether c's network is a datagram one (udp, udp6).
func (c Config) IsDatagram() bool { return c.Network == "udp" || c.Network == "udp6" }
