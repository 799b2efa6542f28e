package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"

	"archbench/protocol"
)

// Content is what the generated messages contain.
type Content string

const (
	// ASCII messages: lower-case letters and digits.
	ASCII Content = "ascii"
	// UTF8 messages mix multi-byte and length-changing runes (ı→I, ɐ→Ɐ, ß, é, 中).
	UTF8 Content = "utf8"
)

// Config is one load run. Zero values mean the documented defaults, so a
// Config serialises into scenario files and results as it is.
//
// Config is also the schema of every load setting: each field's json tag is
// its key in scenario files (load:) and in results.json and, with '_' as
// '-', its `archbench load` flag; help is the flag's help, and unit:"bytes"
// makes it a size (4KiB). See archbench/internal/settings. Adding a setting
// is adding a field here (doc, default in WithDefaults, check in Validate)
// and the code that uses it.
type Config struct {
	// Network is "tcp" (default), "tcp6" or "unix"; it must match the server.
	Network string `json:"network,omitempty" help:"tcp, tcp6 or unix (must match the server)"`
	// Addr is the server's address (host:port, or a socket path for unix).
	Addr string `json:"addr" help:"server address: host:port, or a socket path for unix"`
	// Framing must match the server's (default raw).
	Framing protocol.Framing `json:"framing" help:"raw, line or length (must match the server)"`
	// Conns is the number of connections (default 1).
	Conns int `json:"conns" help:"connections"`
	// Depth is how many messages each connection keeps in flight in the
	// closed loop (default 1; pipelining above 1).
	Depth int `json:"depth" help:"closed loop: messages in flight per connection (pipelining above 1)"`
	// Rate, when above 0, runs an open loop: this many messages per second in
	// total on a fixed schedule spread across the connections, latency
	// measured from each message's intended send time. 0 = closed loop.
	Rate float64 `json:"rate,omitempty" help:"open loop: messages per second in total on a fixed schedule (0 = closed loop)"`
	// Size is each message's payload in bytes (default 16).
	Size int `json:"size" unit:"bytes" help:"payload bytes per message (e.g. 16, 4KiB)"`
	// Content is ascii (default) or utf8.
	Content Content `json:"content,omitempty" help:"ascii or utf8 (multi-byte and length-changing runes)"`
	// Warmup runs before measuring and is excluded (default 0).
	Warmup time.Duration `json:"warmup,omitempty" help:"run this long first, not measured"`
	// Duration is the measured time (default 10s).
	Duration time.Duration `json:"duration" help:"measured time"`
	// Timeout bounds every read and write (default 2s); a timed-out
	// connection is dropped and replaced.
	Timeout time.Duration `json:"timeout,omitempty" help:"deadline of every connect, read and write; a connection past it is replaced"`
	// Loops is the number of generator event loops (0 = DefaultLoops():
	// max(1, GOMAXPROCS/4)), at most one per connection.
	Loops int `json:"loops,omitempty" help:"generator event loops (0 = max(1, GOMAXPROCS/4))"`
	// Seed makes the message contents reproducible (0 = 1).
	Seed int64 `json:"seed,omitempty" help:"seed of the message contents"`

	// SlowConns connections beside the load trickle one byte every
	// SlowInterval and verify their replies (side load, see side.go; 0 =
	// none). They connect before the load starts.
	SlowConns int `json:"slow_conns,omitempty" help:"side load: connections trickling one byte per --slow-interval"`
	// SlowInterval is the pause between a slow connection's bytes (0 = 1s).
	SlowInterval time.Duration `json:"slow_interval,omitempty" help:"pause between a slow connection's bytes (0 = 1s)"`
	// IdleConns connections are opened before the load starts and held
	// without a byte sent until it ends (side load; 0 = none).
	IdleConns int `json:"idle_conns,omitempty" help:"side load: connections opened first and held idle"`
	// Churn opens a new connection per message: connect, send, receive the
	// verified reply, close (see churn.go). Latency includes the connect;
	// Conns is the number of concurrent clients. Closed loop, depth 1.
	Churn bool `json:"churn,omitempty" help:"a new connection per message (closed loop, depth 1)"`

	// Protocol is what the load speaks: "" the uppercase-echo byte
	// protocol with Framing, ProtocolXMLRPC keep-alive HTTP/1.1 POSTs of
	// XML-RPC upper calls (see xmlrpc.go; closed loop, depth 1, no side
	// load, Framing ignored).
	Protocol string `json:"protocol,omitempty" help:"xmlrpc: XML-RPC calls of upper over HTTP/1.1 keep-alive (default: the byte protocol)"`
	// Multicall batches this many upper calls into one system.multicall
	// request (protocol xmlrpc; 0 = one call per request).
	Multicall int `json:"multicall,omitempty" help:"xmlrpc: upper calls per system.multicall request (0 = one call per request)"`
}

// ProtocolXMLRPC is Config.Protocol of an XML-RPC load.
const ProtocolXMLRPC = "xmlrpc"

// MaxMulticall bounds Config.Multicall.
const MaxMulticall = 4096

// Defaults for Config's zero values.
const (
	DefaultDuration = 10 * time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultSize     = 16
	// DefaultSlowInterval is the pause between a slow connection's bytes.
	DefaultSlowInterval = time.Second
)

// WithDefaults fills in every zero value.
func (c Config) WithDefaults() Config {
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Depth == 0 {
		c.Depth = 1
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Content == "" {
		c.Content = ASCII
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.SlowConns > 0 && c.SlowInterval == 0 {
		c.SlowInterval = DefaultSlowInterval
	}
	return c
}

// Bounds of the open loop's rate: the schedule counts nanoseconds in an
// int64, so at most one message per 10 ns, and at least one per 11.6 days
// (a message's due time must fit however many connections share it).
const (
	MinRate = 1e-6
	MaxRate = 1e8
)

// Bounds of what one connection keeps in flight in the closed loop.
const (
	MaxDepth         = 1 << 16
	MaxInFlightBytes = 256 << 20
)

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("loadgen: bad configuration")

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch c.Network {
	case "", "tcp", "tcp6", "unix":
	default:
		return bad("network %q: want tcp, tcp6 or unix", c.Network)
	}
	if c.Addr == "" {
		return bad("no server address")
	}
	if _, err := c.Framing.MarshalText(); err != nil {
		return bad("%v", err)
	}
	if c.Conns < 0 || c.Depth < 0 || c.Size < 0 || c.Loops < 0 {
		return bad("conns, depth, size and loops must not be negative")
	}
	if math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate || (c.Rate > 0 && c.Rate < MinRate) {
		return bad("rate %v: want 0 (closed loop) or %g to %g messages per second", c.Rate, MinRate, MaxRate)
	}
	if c.Rate > 0 && c.Depth > 1 {
		return bad("depth applies to the closed loop only; an open loop (rate) sets its own pace")
	}
	if c.Size > protocol.MaxMaxMsg {
		return bad("size %d: at most %d", c.Size, protocol.MaxMaxMsg)
	}
	d, s := max(c.Depth, 1), c.Size
	if s == 0 {
		s = DefaultSize
	}
	if d > MaxDepth || d*s > MaxInFlightBytes {
		return bad("depth %d × size %d: at most %d messages and %d MiB in flight per connection", d, s, MaxDepth, MaxInFlightBytes>>20)
	}
	switch c.Content {
	case "", ASCII, UTF8:
	default:
		return bad("content %q: want ascii or utf8", c.Content)
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Timeout < 0 || c.SlowInterval < 0 {
		return bad("durations must not be negative")
	}
	if c.SlowConns < 0 || c.IdleConns < 0 {
		return bad("slow_conns and idle_conns must not be negative")
	}
	if c.Churn && (c.Rate > 0 || c.Depth > 1) {
		return bad("churn is a closed loop of one message per connection: no rate, depth 1")
	}
	switch c.Protocol {
	case "":
		if c.Multicall != 0 {
			return bad("multicall %d applies to protocol xmlrpc only", c.Multicall)
		}
	case ProtocolXMLRPC:
		if c.Rate > 0 || c.Depth > 1 || c.Churn || c.SlowConns > 0 || c.IdleConns > 0 {
			return bad("protocol xmlrpc is a closed loop of one request in flight per connection: no rate, depth, churn or side load")
		}
		if c.Multicall < 0 || c.Multicall > MaxMulticall {
			return bad("multicall %d: want 0..%d", c.Multicall, MaxMulticall)
		}
		if c.Size*max(1, c.Multicall) > protocol.MaxMaxMsg/8 {
			return bad("size %d × multicall %d: at most %d bytes of payload per request", c.Size, c.Multicall, protocol.MaxMaxMsg/8)
		}
	default:
		return bad("protocol %q: want xmlrpc, or none for the byte protocol", c.Protocol)
	}
	return nil
}
