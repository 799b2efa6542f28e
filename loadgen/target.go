package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"archbench/internal/netnames"
)

// Target is where a run connected: the address as given, what it resolved
// to, and the address that worked. It is Result.Target.
type Target struct {
	// Host is the host part of Config.Addr as given (a name or an IP
	// literal; the socket path for unix).
	Host string `json:"host"`
	// Port is the port, a service name looked up in the system's services
	// database (as getservbyname does); 0 for unix.
	Port int `json:"port,omitempty"`
	// Addrs are the addresses the host resolved to, of the requested
	// family, in the order every connection tries them.
	Addrs []string `json:"addrs"`
	// Addr is the first address a connection was established to; later
	// connections start from it. Empty when no connection was established.
	Addr string `json:"addr,omitempty"`
	// ResolveUS is how long resolving the host took (0 for an IP literal
	// and for unix), µs.
	ResolveUS float64 `json:"resolve_us"`
	// ConnectUS is how long that first established connection took to
	// connect, from its first attempt (failed addresses before it
	// included), µs; 0 when none was established.
	ConnectUS float64 `json:"connect_us"`
	// Failed is, for each address tried before Addr by the first
	// connection established (or by the first that failed on them all),
	// the error it met, as one line.
	Failed []string `json:"failed,omitempty"`
}

// NetError is a network failure: the host as given, the address tried
// (empty for a failed resolution), the error kind (one of the Err* kinds)
// and the cause. Its message is one line naming all of them.
type NetError struct {
	Kind string
	Host string
	Addr string
	Err  error
}

func (e *NetError) Error() string {
	if e.Addr == "" {
		return fmt.Sprintf("host %s: %s: %v", e.Host, e.Kind, cause(e.Err))
	}
	return fmt.Sprintf("host %s, address %s: %s: %v", e.Host, e.Addr, e.Kind, cause(e.Err))
}

func (e *NetError) Unwrap() error { return e.Err }

// BadAddr reports whether the failure is the address's own (a usage
// error, exit 2 in archbench load):
// a name that does not exist, or has no address of the family asked for.
// A temporary resolver failure, or a failed connection, is not.
func (e *NetError) BadAddr() bool {
	var dns *net.DNSError
	switch e.Kind {
	case ErrNoAddress:
		return true
	case ErrResolve:
		return errors.As(e.Err, &dns) && dns.IsNotFound
	}
	return false
}

// cause is err without the net package's operation prefixes ("dial tcp
// 127.0.0.1:1: connect: "), which NetError's own words replace.
func cause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err
	}
	var sc *os.SyscallError
	if errors.As(err, &sc) {
		err = sc.Err
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return errors.New("no such host")
		}
		return errors.New(dns.Err)
	}
	return err
}

// targets is a run's resolved target: the addresses every connection dials
// in order, and the record of which one worked, shared by every event loop,
// churn client and side connection.
type targets struct {
	network string
	addrs   []net.Addr
	start   int // position in addrs to start each connection's dialling at

	pref   atomic.Int32 // index of the first address that worked (start until one did)
	worked atomic.Bool
	mu     sync.Mutex
	t      Target
}

// CheckAddr resolves cfg.Addr as Run would and returns the error Run would
// stop on (ErrConfig or a *NetError), without running: a command checks
// it before it announces a run, so that a bad address is its only line.
func CheckAddr(ctx context.Context, cfg Config) error {
	_, err := resolveTarget(ctx, cfg.WithDefaults())
	return err
}

// ResolveAddrs resolves addr on network as Run does (CheckAddr's errors)
// and returns the numeric addresses a run dials, in the order it tries
// them: for a tool that dials the target itself (archbench conform).
func ResolveAddrs(ctx context.Context, network, addr string) ([]string, error) {
	tg, err := resolveTarget(ctx, Config{Network: network, Addr: addr}.WithDefaults())
	if err != nil {
		return nil, err
	}
	return tg.t.Addrs, nil
}

// resolveTarget parses cfg.Addr, looks its port and host up, and keeps
// the addresses of cfg.Network's family, ordered as net.Dialer orders them
// (the resolver's first address's family first, then the other). A
// malformed address is ErrConfig; a name that does not resolve, or has no
// address of the family, a *NetError of kind resolve or no_address.
func resolveTarget(ctx context.Context, cfg Config) (*targets, error) {
	tg := &targets{network: cfg.Network}
	if cfg.Network == "unix" {
		tg.addrs = []net.Addr{&net.UnixAddr{Name: cfg.Addr, Net: "unix"}}
		tg.t = Target{Host: cfg.Addr, Addrs: []string{cfg.Addr}}
		return tg, nil
	}
	host, service, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: address %q: want host:port or host:service (%v)", ErrConfig, cfg.Addr, cause(err))
	}
	if host == "" {
		return nil, fmt.Errorf("%w: address %q: no host; name one, e.g. localhost:%s", ErrConfig, cfg.Addr, service)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, cfg.Network, service)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("%w: address %q: port %q is neither a number from 1 to 65535 nor a service of the services database (/etc/services)", ErrConfig, cfg.Addr, service)
	}
	tg.t = Target{Host: host, Port: port}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		t0 := time.Now()
		found, err := netnames.LookupNetIP(ctx, "ip", host)
		tg.t.ResolveUS = micros(time.Since(t0).Nanoseconds())
		if err != nil {
			return nil, &NetError{Kind: ErrResolve, Host: host, Err: err}
		}
		ips = found
	}
	var first, second []netip.Addr
	for i, ip := range ips {
		ip = ip.Unmap()
		ips[i] = ip
		switch {
		case (cfg.Network == "tcp6" || cfg.Network == "udp6") && !ip.Is6():
		case len(first) == 0 || first[0].Is4() == ip.Is4():
			first = append(first, ip)
		default:
			second = append(second, ip)
		}
	}
	for _, ip := range append(first, second...) {
		var a net.Addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
		if isUDP(cfg.Network) {
			a = net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
		}
		tg.addrs = append(tg.addrs, a)
		tg.t.Addrs = append(tg.t.Addrs, a.String())
	}
	if len(tg.addrs) == 0 {
		return nil, &NetError{Kind: ErrNoAddress, Host: host, Err: fmt.Errorf("none of its addresses %v is %s (IPv6)", ips, cfg.Network)}
	}
	return tg, nil
}

// micros is ns in µs, to 0.1 µs.
func micros(ns int64) float64 { return float64(ns/100) / 10 }

// first is the index of the address a new connection dials first: the
// first that worked for any connection, so that a name whose first address
// refuses costs one failed connect per run, not one per connection.
func (tg *targets) first() int { return int(tg.pref.Load()) }

// established records that a connection got through to addrs[i], after
// connectNs of dialling, the failures before it being failed. Only the
// first call counts.
func (tg *targets) established(i int, connectNs int64, failed []string) {
	if tg.worked.Load() {
		return
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.worked.Load() {
		return
	}
	tg.t.Addr = tg.addrs[i].String()
	tg.t.ConnectUS = micros(connectNs)
	tg.t.Failed = failed
	tg.pref.Store(int32(i))
	tg.worked.Store(true)
}

// gaveUp records the failures of a connection that failed on every
// address, while none has been established: they say why nothing works.
func (tg *targets) gaveUp(failed []string) {
	if tg.worked.Load() {
		return
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if !tg.worked.Load() && tg.t.Failed == nil {
		tg.t.Failed = failed
	}
}

// result is the Target to put in a Result.
func (tg *targets) result() *Target {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	t := tg.t
	return &t
}

// failure is the one-line description of a connect to addrs[i] that failed
// with err, of kind.
func (tg *targets) failure(i, kind int, err error) string {
	return (&NetError{Kind: kindNames[kind], Host: tg.t.Host, Addr: tg.addrs[i].String(), Err: err}).Error()
}

// dial connects with d, trying the addresses in order from first(), each
// within d's deadline or timeout, as net.Dialer does with a name's
// addresses (but one at a time). It returns the connection, or the kind of
// the first failure (net.Dialer too returns the first error).
func (tg *targets) dial(ctx context.Context, d *net.Dialer) (net.Conn, int) {
	t0 := time.Now()
	var failed []string
	kind0 := -1
	for i := tg.first(); i < len(tg.addrs); i++ {
		c, err := d.DialContext(ctx, tg.network, tg.addrs[i].String())
		if err == nil {
			if !tg.worked.Load() {
				tg.established(i, int64(time.Since(t0)), failed)
			}
			return c, -1
		}
		kind := connectKind(err)
		if kind0 < 0 {
			kind0 = kind
		}
		if !tg.worked.Load() {
			failed = append(failed, tg.failure(i, kind, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	tg.gaveUp(failed)
	return nil, kind0
}

// connectKind classifies a failed connect: refused (nothing listens there;
// for unix, no socket file), unreachable (no route, host or network
// down), connect_timeout (no answer within the timeout, or the kernel's
// own SYN retries gave up), or connect for anything else (out of
// descriptors or local ports, a unix socket's full backlog).
func connectKind(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return kRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETDOWN), errors.Is(err, syscall.EHOSTDOWN):
		return kUnreachable
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return kConnectTimeout
	}
	return kConnect
}

// ioKind classifies a read or write error: a deadline is a timeout, a
// reset (or a write to a connection the server closed) a reset, an end of
// file a short read, anything else def.
func ioKind(err error, def int) int {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return kTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if def == kRead {
			return kShortRead
		}
	}
	return def
}
