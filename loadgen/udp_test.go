package loadgen_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
	_ "archbench/servers/udploop"
)

// udpTestServer is a small real UDP server for the generator's tests: it
// answers each datagram with its transform, or misbehaves as told.
type udpTestServer struct {
	mode   string        // "echo", "silent", "every-other", "twice", "wrong"
	delay  time.Duration // pause after each datagram (a slow server)
	rcvbuf int           // SO_RCVBUF asked for, 0 = the default
}

// start serves on 127.0.0.1:0 until the test ends and returns its address.
func (ts udpTestServer) start(t testing.TB) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	if ts.rcvbuf > 0 {
		require.NoError(t, c.SetReadBuffer(ts.rcvbuf))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		var out []byte
		for n := 0; ; n++ {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			out = protocol.AppendUpper(out[:0], buf[:k])
			switch ts.mode {
			case "silent":
				continue
			case "every-other":
				if n%2 == 0 {
					continue
				}
			case "twice":
				_, _ = c.WriteToUDPAddrPort(out, from)
			case "wrong":
				out = append(out, '!')
			}
			_, _ = c.WriteToUDPAddrPort(out, from)
			if ts.delay > 0 {
				time.Sleep(ts.delay)
			}
		}
	})
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func udpConfig(addr netip.AddrPort) loadgen.Config {
	return loadgen.Config{Network: "udp", Addr: addr.String(), Conns: 2, Duration: 400 * time.Millisecond, Timeout: 300 * time.Millisecond}
}

func TestUDPClosedLoopVerifiesEveryReply(t *testing.T) {
	cfg := udpConfig(udpTestServer{mode: "echo"}.start(t))
	cfg.Depth, cfg.Content, cfg.Size = 4, loadgen.UTF8, 1024
	res := runOnTime(t, cfg)
	u := res.UDP
	require.NotNil(t, u)
	assert.Positive(t, u.Answered)
	assert.Equal(t, res.Requests, u.Answered)
	assert.Equal(t, u.Sent, u.Answered+u.Lost+u.Mismatched+res.Unanswered, "every request sent is settled or unanswered")
	assert.Zero(t, u.Lost+u.Mismatched+u.Duplicated+u.Late)
	assert.Equal(t, u.Answered+res.Unanswered, res.Latency.Count)
	require.NotNil(t, u.ClientDrops)
	assert.Zero(t, *u.ClientDrops)
	assert.Positive(t, u.Rcvbuf)
	assert.Contains(t, res.Errors, loadgen.ErrRefused)
	assert.Contains(t, res.Errors, loadgen.ErrServerDown)

	// The largest datagram; one socket, as the test server's default
	// receive buffer holds about one such datagram.
	cfg.Conns, cfg.Depth, cfg.Size, cfg.Timeout = 1, 1, loadgen.MaxUDPSize4, 2*time.Second
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Positive(t, res.UDP.Answered)
	assert.Zero(t, res.UDP.Mismatched)
}

func TestUDPOpenLoop(t *testing.T) {
	cfg := udpConfig(udpTestServer{mode: "echo"}.start(t))
	cfg.Rate, cfg.Size = 2000, 8<<10
	res := runOnTime(t, cfg)
	u := res.UDP
	assert.Positive(t, u.Answered)
	assert.Zero(t, u.Mismatched)
	assert.Equal(t, u.Sent, u.Answered+u.Lost+res.Unanswered)
	var sent int64
	for _, s := range res.Series {
		sent += s.Sent
	}
	assert.Equal(t, u.Sent, sent, "the series adds up to the run")
}

func TestUDPMisbehavingServers(t *testing.T) {
	t.Run("duplicates", func(t *testing.T) {
		res := runOnTime(t, udpConfig(udpTestServer{mode: "twice"}.start(t)))
		assert.Positive(t, res.UDP.Duplicated)
		assert.Zero(t, res.UDP.Mismatched)
	})
	t.Run("wrong bytes", func(t *testing.T) {
		res := runOnTime(t, udpConfig(udpTestServer{mode: "wrong"}.start(t)))
		assert.Positive(t, res.UDP.Mismatched)
		assert.Equal(t, res.Mismatches, res.UDP.Mismatched)
		assert.Zero(t, res.UDP.Answered)
		assert.Equal(t, res.UDP.Sent, res.Latency.Count, "mismatched and unanswered requests are in the latency at their age")
	})
	t.Run("silent", func(t *testing.T) {
		cfg := udpConfig(udpTestServer{mode: "silent"}.start(t))
		cfg.Timeout = 50 * time.Millisecond
		res := runOnTime(t, cfg)
		u := res.UDP
		assert.Positive(t, u.Lost)
		assert.Zero(t, u.Answered)
		assert.Equal(t, u.Lost, res.Errors[loadgen.ErrTimeout])
		assert.Equal(t, u.Sent, u.Lost+res.Unanswered)
		assert.Equal(t, u.Sent, res.Latency.Count, "lost and unanswered requests are in the latency at their age")
		assert.GreaterOrEqual(t, res.Latency.P50, 49e3, "lost at their age, the timeout")
	})
	t.Run("refused", func(t *testing.T) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		addr := c.LocalAddr().(*net.UDPAddr).AddrPort()
		require.NoError(t, c.Close())
		cfg := udpConfig(addr)
		cfg.Timeout = 50 * time.Millisecond
		res := runOnTime(t, cfg)
		assert.Positive(t, res.Errors[loadgen.ErrRefused], "ICMP port unreachable is ECONNREFUSED")
		assert.Zero(t, res.UDP.Answered)
	})
}

// TestUDPRetry: the textbook client as a load mode, against a server that
// never answers (every request is sent 3 times and fails as server_down)
// and one that answers every other datagram (with one request in flight
// per socket, each request is answered on its retransmission).
func TestUDPRetry(t *testing.T) {
	retry, err := loadgen.ParseRetry("20ms,x2,100ms") // sends at 0, 20, 60 ms; gives up at 100 ms
	require.NoError(t, err)
	t.Run("never answers", func(t *testing.T) {
		cfg := udpConfig(udpTestServer{mode: "silent"}.start(t))
		cfg.Retry = retry
		res := runOnTime(t, cfg)
		u := res.UDP
		assert.Positive(t, u.GiveUps)
		assert.Equal(t, u.GiveUps, u.Lost)
		assert.Equal(t, u.GiveUps, res.Errors[loadgen.ErrServerDown])
		assert.Zero(t, res.Errors[loadgen.ErrTimeout])
		assert.Zero(t, u.Answered)
		assert.GreaterOrEqual(t, u.Retransmissions, 2*u.GiveUps)
		assert.LessOrEqual(t, u.Retransmissions, 2*(u.GiveUps+res.Unanswered))
		assert.GreaterOrEqual(t, res.Latency.P50, 99e3, "a give-up is in the latency at 100 ms from the first send")
	})
	t.Run("answers every other", func(t *testing.T) {
		cfg := udpConfig(udpTestServer{mode: "every-other"}.start(t))
		cfg.Conns, cfg.Retry = 1, retry
		res := runOnTime(t, cfg)
		u := res.UDP
		assert.Positive(t, u.Answered)
		assert.Zero(t, u.GiveUps)
		assert.Zero(t, u.Lost)
		assert.GreaterOrEqual(t, u.Retransmissions, u.Answered, "each request answered on its second send")
		assert.LessOrEqual(t, u.Retransmissions, u.Answered+res.Unanswered)
		assert.GreaterOrEqual(t, res.Latency.P50, 19e3, "latency from the first send")
	})
}

// TestUDPDropsAccountForLoss overloads a slow server with a small receive
// buffer: the datagrams lost are the ones the kernel dropped in the
// server's queue (or the client's), as the sockets' drop counters say.
func TestUDPDropsAccountForLoss(t *testing.T) {
	srv := udpTestServer{mode: "echo", delay: time.Millisecond, rcvbuf: 4096}.start(t)
	ports := map[int]bool{int(srv.Port()): true}
	before, err := loadgen.ReadUDPDrops(ports)
	if err != nil {
		t.Skipf("no /proc/net/udp: %v", err)
	}
	cfg := udpConfig(srv)
	cfg.Rate, cfg.Duration, cfg.Timeout = 5000, 600*time.Millisecond, 300*time.Millisecond
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	after, err := loadgen.ReadUDPDrops(ports)
	require.NoError(t, err)
	u := res.UDP
	serverDrops := after - before
	u.ServerDrops = &serverDrops
	t.Logf("sent %d answered %d lost %d unanswered %d late %d; drops server %d client %d",
		u.Sent, u.Answered, u.Lost, res.Unanswered, u.Late, serverDrops, *u.ClientDrops)
	require.Greater(t, u.Lost, int64(100), "the overload lost datagrams")
	assert.GreaterOrEqual(t, float64(u.DropsAccounted()), 0.99*float64(u.Lost), "drop counters account for 99% of the loss")
	assert.LessOrEqual(t, serverDrops+*u.ClientDrops, u.Lost+res.Unanswered, "no more drops than requests unanswered")
	assert.Zero(t, u.Late)
}

func TestUDPConfigErrors(t *testing.T) {
	base := loadgen.Config{Network: "udp", Addr: "127.0.0.1:9"}
	for name, mod := range map[string]func(*loadgen.Config){
		"too small":    func(c *loadgen.Config) { c.Size = 4 },
		"too large":    func(c *loadgen.Config) { c.Size = loadgen.MaxUDPSize4 + 1 },
		"v6 too large": func(c *loadgen.Config) { c.Network, c.Size = "udp6", loadgen.MaxUDPSize6+1 },
		"framing":      func(c *loadgen.Config) { c.Framing = protocol.Line },
		"churn":        func(c *loadgen.Config) { c.Churn = true },
		"retry tcp": func(c *loadgen.Config) {
			c.Network, c.Retry = "tcp", loadgen.Retry{Initial: time.Second, Factor: 2, GiveUp: 2 * time.Second}
		},
	} {
		cfg := base
		mod(&cfg)
		_, err := loadgen.Run(context.Background(), cfg)
		assert.ErrorIs(t, err, loadgen.ErrConfig, name)
	}
	cfg := base
	cfg.Network, cfg.Size = "udp6", loadgen.MaxUDPSize6
	assert.NoError(t, cfg.Validate())
}

// TestUDPDropsAccountForLossUDPLoop is the same against the textbook
// server, udp-loop, with the smallest receive buffer the kernel grants: the
// drops its stats report and the client sockets' account for the loss.
func TestUDPDropsAccountForLossUDPLoop(t *testing.T) {
	srv, err := servers.New("udp-loop", servers.Config{Network: "udp", Addr: "127.0.0.1:0", Rcvbuf: 1024})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	cfg := loadgen.Config{Network: "udp", Addr: srv.Addr().String(), Conns: 16, Rate: 20000,
		Duration: 600 * time.Millisecond, Timeout: 200 * time.Millisecond}
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	st := srv.Stats()
	require.NotNil(t, st.Drops, "udp-loop reports its socket's drops")
	u := res.UDP
	u.ServerDrops = st.Drops
	t.Logf("sent %d answered %d lost %d unanswered %d late %d; drops server %d client %d (rcvbuf granted %d)",
		u.Sent, u.Answered, u.Lost, res.Unanswered, u.Late, *st.Drops, *u.ClientDrops, st.Rcvbuf)
	require.Greater(t, u.Lost, int64(50), "the overload lost datagrams (else this test shows nothing)")
	assert.GreaterOrEqual(t, float64(u.DropsAccounted()), 0.99*float64(u.Lost), "drop counters account for 99% of the loss")
	assert.LessOrEqual(t, *st.Drops+*u.ClientDrops, u.Lost+res.Unanswered, "no more drops than requests unanswered")
}

// TestUDPServerStops: a server that stops mid-run shows as refused (ICMP
// port unreachable on loopback) and lost requests, and the run still ends
// on time.
func TestUDPServerStops(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 65536)
		stopAt := time.Now().Add(150 * time.Millisecond)
		for time.Now().Before(stopAt) {
			_ = c.SetReadDeadline(stopAt)
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				break
			}
			_, _ = c.WriteToUDPAddrPort(protocol.AppendUpper(nil, buf[:n]), from)
		}
		c.Close() // the server stops
	})
	t.Cleanup(wg.Wait)
	cfg := udpConfig(c.LocalAddr().(*net.UDPAddr).AddrPort())
	cfg.Duration, cfg.Timeout = 600*time.Millisecond, 100*time.Millisecond
	res := runOnTime(t, cfg)
	assert.Positive(t, res.UDP.Answered, "served before it stopped")
	assert.Positive(t, res.UDP.Lost, "then lost")
	assert.Positive(t, res.Errors[loadgen.ErrRefused], "and refused")
}

// A UDP target resolves as a stream one does (a name, a service, .invalid
// never looked up), and the result records it.
func TestUDPTargetResolved(t *testing.T) {
	ap := udpTestServer{mode: "echo"}.start(t)
	cfg := udpConfig(ap)
	cfg.Addr = net.JoinHostPort("localhost", strconv.Itoa(int(ap.Port())))
	res := runOnTime(t, cfg)
	require.NotNil(t, res.Target)
	assert.Equal(t, "localhost", res.Target.Host)
	assert.Equal(t, ap.String(), res.Target.Addr)
	assert.Positive(t, res.UDP.Answered)

	cfg.Addr = "nosuchhost.invalid:7"
	_, err := loadgen.Run(context.Background(), cfg)
	var ne *loadgen.NetError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, loadgen.ErrResolve, ne.Kind)
}
