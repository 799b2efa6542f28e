package servertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
)

// Datagram sizes of the protocol: the largest UDP payload over IPv4 and
// over IPv6 (without jumbograms).
const (
	MaxDatagram4 = protocol.MaxDatagram4
	MaxDatagram6 = protocol.MaxDatagram6
)

// UDP timing: a datagram may be lost (by the kernel, under the machine's
// load), so a request is sent again after udpRetry, up to udpTries times;
// only a server that never answers fails.
const (
	udpRetry = 500 * time.Millisecond
	udpTries = 8
)

// UDPCases lists the datagram conformance cases in the order RunUDP runs
// them.
func UDPCases() []Case { return append([]Case(nil), udpCases...) }

var udpCases = []Case{
	{Name: "UDPASCII", run: testUDPASCII},
	{Name: "UDPBinary", run: testUDPBinary},
	{Name: "UDPInvalidUTF8", run: testUDPInvalidUTF8},
	{Name: "UDPLengthChanging", run: testUDPLengthChanging},
	{Name: "UDPNoCarry", run: testUDPNoCarry},
	{Name: "UDPZeroLength", run: testUDPZeroLength},
	{Name: "UDPMaxSize", run: testUDPMaxSize},
	{Name: "UDPReplyTooLarge", run: testUDPReplyTooLarge},
	{Name: "UDPConcurrent64", Concurrent: true, run: testUDPConcurrent},
	{Name: "UDPVanishingClient", run: testUDPVanishingClient},
	{Name: "UDPStats", run: testUDPStats},
	{Name: "UDPGracefulStop", run: testUDPGracefulStop},
	{Name: "UDP6", run: testUDP6},
}

// RunUDP runs every datagram case against target as subtests of t named
// CASE, each against a fresh server built by target.New from base with
// network udp on 127.0.0.1:0 (udp6 on [::1]:0 in the UDP6 case). A target
// whose Networks lack udp is skipped.
func RunUDP(t *testing.T, target Target, base servers.Config) {
	t.Helper()
	if target.Name == "" || target.New == nil {
		t.Fatalf("servertest: a target needs a name and a constructor")
	}
	if !target.serves("udp") {
		t.Skipf("%s serves %v, not udp: the datagram suite does not apply", target.Name, target.nets())
	}
	base.Framing = protocol.Raw
	base.Network, base.Addr = "udp", "127.0.0.1:0"
	if err := base.Validate(); err != nil {
		t.Fatalf("servertest: base config: %v", err)
	}
	seed := suiteSeed(t)
	for _, c := range udpCases {
		t.Run(c.Name, func(t *testing.T) {
			for _, d := range target.Defects {
				if d.Case == c.Name {
					t.Skipf("known defect of %s: %s (%s)", target.Name, d.Reason, d.Upstream)
				}
			}
			if c.Concurrent && target.Sequential {
				t.Skip(SequentialReason)
			}
			c.run(newEnv(t, target, base, seed, c.Name))
		})
	}
}

// udp is the tweak of every datagram case: network udp on 127.0.0.1:0.
func udp(c *servers.Config) { c.Network, c.Addr = "udp", "127.0.0.1:0" }

// dialUDP opens a client socket connected to srv (so it receives only
// srv's datagrams and sees ICMP errors), closed in t.Cleanup.
func (e *env) dialUDP(srv *server) *net.UDPConn {
	e.t.Helper()
	a := srv.Addr().(*net.UDPAddr)
	network := "udp4"
	if a.IP.To4() == nil {
		network = "udp6"
	}
	c, err := net.DialUDP(network, nil, a)
	if err != nil {
		e.t.Fatalf("dial %v: %v", a, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends p and waits for its transform, sending again after
// udpRetry (up to udpTries sends). A reply to an earlier request of the
// same client (in old) is a late copy and skipped; any other datagram is
// an error.
func (e *env) exchange(c *net.UDPConn, p []byte, old [][]byte) error {
	want := protocol.AppendUpper(nil, p)
	buf := make([]byte, 1<<17)
	for try := 0; try < udpTries; try++ {
		if time.Now().After(e.deadline) {
			break
		}
		if _, err := c.Write(p); err != nil {
			return fmt.Errorf("send %d bytes: %w", len(p), err)
		}
		_ = c.SetReadDeadline(time.Now().Add(udpRetry))
		for {
			n, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break // send again
			}
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			got := buf[:n]
			if bytes.Equal(got, want) {
				return nil
			}
			if isOldReply(got, old) {
				continue
			}
			return fmt.Errorf("request of %d bytes %.40q: %w", len(p), p, compare(got, want, 0))
		}
	}
	return fmt.Errorf("no reply to a %d-byte datagram after %d sends %v apart", len(p), udpTries, udpRetry)
}

func isOldReply(got []byte, old [][]byte) bool {
	for _, o := range old {
		if bytes.Equal(got, protocol.AppendUpper(nil, o)) {
			return true
		}
	}
	return false
}

// exchangeAll sends each payload in turn as its own datagram.
func (e *env) exchangeAll(c *net.UDPConn, payloads [][]byte) {
	e.t.Helper()
	for i, p := range payloads {
		if err := e.exchange(c, p, payloads[:i]); err != nil {
			e.t.Fatalf("datagram %d: %v", i, err)
		}
	}
}

// expectSilence checks that nothing arrives on c within d.
func expectSilence(c *net.UDPConn, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1<<17)
	n, err := c.Read(buf)
	if err == nil {
		return fmt.Errorf("got a %d-byte datagram %.40q, want none", n, buf[:n])
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("want no datagram, got %v", err)
	}
	return nil
}

func testUDPASCII(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	var ps [][]byte
	for _, n := range []int{1, 2, 7, 64, 512, 1400, 1472, 4096} {
		ps = append(ps, randASCII(e.rng, n))
	}
	ps = append(ps, []byte("hello, world\n"), []byte("MiXeD cAsE 123"))
	e.exchangeAll(c, ps)
}

func testUDPBinary(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	var ps [][]byte
	for _, n := range []int{1, 3, 100, 1472, 9000, 32768} {
		ps = append(ps, randBinary(e.rng, n, protocol.Raw))
	}
	ps = append(ps, []byte{0}, []byte{'\n'}, bytes.Repeat([]byte{0}, 100))
	e.exchangeAll(c, ps)
}

func testUDPInvalidUTF8(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	var ps [][]byte
	for _, inv := range invalidPool {
		ps = append(ps, inv, append(append([]byte("ab"), inv...), "cd"...))
	}
	for range 8 {
		ps = append(ps, randMixed(e.rng, 1+e.rng.IntN(2000)))
	}
	e.exchangeAll(c, ps)
}

func testUDPLengthChanging(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	ps := [][]byte{[]byte("ı"), []byte("ɐ"), []byte("ſ"), []byte("ıııı"), []byte("ɐɐɐɐɐ"), []byte("ǅ ǈ ǋ ﬀ ⱥ")}
	for range 8 {
		ps = append(ps, randRunes(e.rng, 1+e.rng.IntN(500)))
	}
	e.exchangeAll(c, ps)
}

// testUDPNoCarry: each datagram is transformed alone. A rune cut between two
// datagrams is not joined: each half comes back unchanged.
func testUDPNoCarry(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{
		[]byte("abc\xc3"), []byte("\xa4def"), // ä cut in two
		[]byte("x\xf0\x9f"), []byte("\x98\x80y"), // 😀 cut in two
		[]byte("ä"),
	})
}

func testUDPZeroLength(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{{}, []byte("a"), {}})
}

func testUDPMaxSize(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{randASCII(e.rng, MaxDatagram4), randMixed(e.rng, MaxDatagram4-8)[:MaxDatagram4-8]})
	if n := srv.Stats().Truncated; n != 0 {
		e.t.Errorf("Stats().Truncated = %d: the server truncated a datagram UDP can carry", n)
	}
}

// testUDPReplyTooLarge: a request whose transform outgrows the largest
// datagram (ɐ, 2 bytes, becomes Ɐ, 3 bytes) cannot be answered: nothing is
// sent, and the server goes on serving.
func testUDPReplyTooLarge(e *env) {
	srv := e.start(udp)
	c := e.dialUDP(srv)
	big := bytes.Repeat([]byte("ɐ"), MaxDatagram4/2)
	if _, err := c.Write(big); err != nil {
		e.t.Fatalf("send %d bytes: %v", len(big), err)
	}
	if err := expectSilence(c, 300*time.Millisecond); err != nil {
		e.t.Fatalf("after a request whose reply would be %d bytes: %v", protocol.UpperLen(big), err)
	}
	e.exchangeAll(c, [][]byte{[]byte("still serving")})
}

// testUDPConcurrent: 64 clients, each from its own port, each get exactly
// the replies to their own datagrams.
func testUDPConcurrent(e *env) {
	srv := e.start(udp)
	const clients, per = 64, 20
	errs := make(chan error, clients)
	for i := range clients {
		c := e.dialUDP(srv)
		rng := e.subRNG()
		go func() {
			var sent [][]byte
			for j := range per {
				p := fmt.Appendf(nil, "client %d datagram %d ", i, j)
				p = append(p, randMixed(rng, rng.IntN(200))...)
				if err := e.exchange(c, p, sent); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				sent = append(sent, p)
			}
			errs <- nil
		}()
	}
	var all []error
	for range clients {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if err := errors.Join(all...); err != nil {
		e.t.Fatal(err)
	}
}

// testUDPVanishingClient: clients that close their socket right after
// sending make the server's replies bounce (ICMP port unreachable); the
// server goes on serving everyone else.
func testUDPVanishingClient(e *env) {
	srv := e.start(udp)
	for i := range 50 {
		c, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
		if err != nil {
			e.t.Fatal(err)
		}
		_, _ = c.Write(fmt.Appendf(nil, "gone %d", i))
		c.Close()
	}
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{[]byte("after 50 vanished clients"), []byte("and again")})
	select {
	case <-srv.Done():
		e.t.Fatalf("the server stopped: %v", srv.Err())
	default:
	}
}

// testUDPStats: the counters of a datagram server: datagrams and replies
// counted, the socket's drop count read, the buffer sizes asked for
// granted.
func testUDPStats(e *env) {
	const rcvbuf = 256 << 10
	srv := e.start(func(c *servers.Config) { udp(c); c.Rcvbuf = rcvbuf; c.Sndbuf = rcvbuf })
	c := e.dialUDP(srv)
	const n = 10
	for i := range n {
		e.exchangeAll(c, [][]byte{fmt.Appendf(nil, "stats %d", i)})
	}
	// A reply may arrive before its server counted it.
	var st servers.Stats
	e.eventually(3*time.Second, func() bool { st = srv.Stats(); return st.Datagrams >= n && st.Replies >= n })
	if st.Datagrams < n || st.Replies < n {
		e.t.Errorf("Stats datagrams %d, replies %d after %d exchanges: want at least %d each", st.Datagrams, st.Replies, n, n)
	}
	if st.Drops == nil {
		e.t.Errorf("Stats.Drops is nil: the server's drop count was not read")
	}
	// Linux grants min(asked, net.core.[rw]mem_max) and reports twice that.
	for _, b := range []struct {
		name, sysctl string
		got          int
	}{{"rcvbuf", "rmem_max", st.Rcvbuf}, {"sndbuf", "wmem_max", st.Sndbuf}} {
		limit, err := readSysctlInt("/proc/sys/net/core/" + b.sysctl)
		if err != nil {
			e.t.Logf("%s not checked: %v", b.name, err)
			continue
		}
		if want := 2 * min(rcvbuf, limit); b.got != want {
			e.t.Errorf("Stats.%s = %d, want %d (asked %d, net.core.%s %d)", b.name, b.got, want, rcvbuf, b.sysctl, limit)
		}
	}
}

func readSysctlInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var v int
	_, err = fmt.Sscan(strings.TrimSpace(string(b)), &v)
	return v, err
}

// testUDPGracefulStop: Shutdown stops reading and closes the socket within
// its context, leaving no goroutine or descriptor; the port then answers
// nothing.
func testUDPGracefulStop(e *env) {
	fds0, fdErr := fdCount("self")
	leak := goleak.IgnoreCurrent()
	srv := e.startUnmanaged(udp)
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{[]byte("before shutdown")})
	// Requests keep arriving while the server stops.
	stop := make(chan struct{})
	flood := make(chan struct{})
	go func() {
		defer close(flood)
		f, err := net.DialUDP("udp4", nil, srv.Addr().(*net.UDPAddr))
		if err != nil {
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = f.Write([]byte("during shutdown"))
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	t0 := time.Now()
	err := shutdownWithin(srv, shutdownTimeout)
	close(stop)
	<-flood
	if err != nil {
		e.t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d >= shutdownTimeout {
		e.t.Errorf("Shutdown took %v, more than its context's %v", d, shutdownTimeout)
	}
	if err := srv.Start(); !errors.Is(err, servers.ErrClosed) {
		e.t.Errorf("Start after Shutdown = %v, want servers.ErrClosed", err)
	}
	// The port is closed: a request now draws ICMP port unreachable,
	// which the connected client sees as ECONNREFUSED, or no reply.
	_, _ = c.Write([]byte("after shutdown"))
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 64)); err == nil {
		e.t.Errorf("a %d-byte reply after Shutdown: the socket is still served", n)
	}
	c.Close()
	if err := goleak.Find(leak); err != nil {
		e.t.Errorf("goroutines left after Shutdown: %v", err)
	}
	if fdErr == nil {
		var n int
		if !e.eventually(2*time.Second, func() bool { n, _ = fdCount("self"); return n <= fds0 }) {
			e.t.Errorf("%d descriptors open after Shutdown, %d before the server started", n, fds0)
		}
	}
}

// testUDP6: the protocol over IPv6 on ::1, up to its largest datagram.
func testUDP6(e *env) {
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		e.t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		pc.Close()
	}
	srv := e.start(func(c *servers.Config) { c.Network, c.Addr = "udp6", "[::1]:0" })
	c := e.dialUDP(srv)
	e.exchangeAll(c, [][]byte{[]byte("over ipv6 ä"), randASCII(e.rng, MaxDatagram6)})
}
