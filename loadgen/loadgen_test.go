package loadgen_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/internal/testnet"
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
	_ "archbench/servers/goroutine"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runOnTime runs cfg and checks that Run returned within its warm-up and
// duration plus a grace period: a check that it ends by itself without
// waiting out a timeout, not a timing measurement, so the grace (1 s)
// leaves room for a -race binary on a loaded 2-core machine.
func runOnTime(t testing.TB, cfg loadgen.Config) *loadgen.Result {
	t.Helper()
	start := time.Now()
	res, err := loadgen.Run(context.Background(), cfg)
	took := time.Since(start)
	require.NoError(t, err)
	require.NotNil(t, res)
	// A hung Run overshoots by its timeout and more; the margin is wide so
	// that a machine loaded by parallel tests under -race does not fail it.
	d := cfg.WithDefaults()
	assert.Less(t, took, d.Warmup+d.Duration+d.Timeout+3*time.Second, "Run must end on time")
	t.Logf("took %v: requests %d rps %.0f errors %v connects %d unsent %d latency %+v", took.Round(time.Millisecond), res.Requests, res.RPS, res.Errors, res.Connects, res.Unsent, res.Latency)
	return res
}

func noErrors(t testing.TB, res *loadgen.Result) {
	t.Helper()
	for k, n := range res.Errors {
		assert.Zero(t, n, "errors[%s]", k)
	}
	assert.Zero(t, res.Mismatches)
	assert.Positive(t, res.Requests)
}

// startArch starts an in-process archbench server of the named architecture.
func startArch(t testing.TB, arch string, cfg servers.Config) net.Addr {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := servers.New(arch, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr()
}

// testServer is a purpose-built server for misbehaviour: handle runs once per
// connection in its own goroutine.
type testServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	dead  bool
}

func startServer(t testing.TB, handle func(net.Conn)) *testServer {
	t.Helper()
	return startServerOn(t, "tcp", "127.0.0.1:0", handle)
}

// startServerOn is startServer on the given network and address.
func startServerOn(t testing.TB, network, addr string, handle func(net.Conn)) *testServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	require.NoError(t, err)
	s := &testServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.dead {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		s.Kill()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) Addr() string { return s.ln.Addr().String() }

// Kill closes the listener and every connection at once.
func (s *testServer) Kill() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = true
	for c := range s.conns {
		c.Close()
	}
}

// echoWith serves the protocol, passing each reply chunk through edit.
func echoWith(f protocol.Framing, edit func([]byte)) func(net.Conn) {
	return func(c net.Conn) {
		codec := protocol.NewCodec(protocol.CodecConfig{Framing: f})
		buf, out := make([]byte, 4096), make([]byte, 0, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			out, err = codec.Feed(out[:0], buf[:n])
			if err != nil {
				return
			}
			if edit != nil {
				edit(out)
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func TestVerifiesEveryFramingAndContent(t *testing.T) {
	t.Parallel()
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length} {
		for _, content := range []loadgen.Content{loadgen.ASCII, loadgen.UTF8} {
			t.Run(f.String()+"/"+string(content), func(t *testing.T) {
				addr := startArch(t, "goroutine", servers.Config{Framing: f})
				res := runOnTime(t, loadgen.Config{
					Addr: addr.String(), Framing: f, Content: content,
					Conns: 4, Depth: 4, Size: 61, Duration: 300 * time.Millisecond,
				})
				noErrors(t, res)
			})
		}
	}
}

func TestNetworks(t *testing.T) {
	t.Parallel()
	t.Run("unix", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.sock")
		startArch(t, "goroutine", servers.Config{Network: "unix", Addr: path, Framing: protocol.Line})
		res := runOnTime(t, loadgen.Config{Network: "unix", Addr: path, Framing: protocol.Line, Content: loadgen.UTF8, Conns: 3, Duration: 200 * time.Millisecond})
		noErrors(t, res)
	})
	t.Run("tcp6", func(t *testing.T) {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		ln.Close()
		addr := startArch(t, "goroutine", servers.Config{Network: "tcp6", Addr: "[::1]:0"})
		res := runOnTime(t, loadgen.Config{Network: "tcp6", Addr: addr.String(), Conns: 2, Duration: 200 * time.Millisecond})
		noErrors(t, res)
	})
}

// A server that answers only once 16 messages are waiting proves that depth
// 16 keeps 16 in flight: depth 1 against it only times out.
func TestPipeliningDepth16(t *testing.T) {
	t.Parallel()
	const size, depth = 16, 16
	batcher := func(c net.Conn) {
		var pending []byte
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			pending = append(pending, buf[:n]...)
			if len(pending) < size*depth {
				continue
			}
			if _, err := c.Write(protocol.AppendUpper(nil, pending)); err != nil {
				return
			}
			pending = pending[:0]
		}
	}
	s := startServer(t, batcher)
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Depth: depth, Size: size, Duration: 300 * time.Millisecond, Timeout: time.Second})
	noErrors(t, res)

	res = runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Depth: 1, Size: size, Duration: 300 * time.Millisecond, Timeout: 100 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.Positive(t, res.Errors[loadgen.ErrTimeout])
}

func TestMismatchDetected(t *testing.T) {
	t.Parallel()
	flipLast := func(b []byte) {
		if len(b) > 0 {
			b[len(b)-1] ^= 0x20
		}
	}
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			s := startServer(t, echoWith(f, flipLast))
			res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Framing: f, Conns: 2, Duration: 300 * time.Millisecond})
			assert.Positive(t, res.Mismatches)
			assert.Equal(t, res.Mismatches, res.Errors[loadgen.ErrMismatch])
			assert.Zero(t, res.Requests, "a reply with a wrong byte must not count as verified")
			assert.Positive(t, res.Connects, "mismatching connections are replaced")
		})
	}
}

func TestShortReadDetected(t *testing.T) {
	t.Parallel()
	halfThenClose := func(c net.Conn) {
		buf := make([]byte, 16)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		_, _ = c.Write(protocol.AppendUpper(nil, buf[:8]))
		// Close cleanly (FIN): every byte sent to us was read.
	}
	s := startServer(t, halfThenClose)
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Size: 16, Duration: 300 * time.Millisecond})
	assert.Positive(t, res.Errors[loadgen.ErrShortRead])
	assert.Zero(t, res.Requests)
	assert.Zero(t, res.Mismatches)
}

func TestServerNeverAnswers(t *testing.T) {
	t.Parallel()
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	s := startServer(t, silent)
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 3, Duration: 700 * time.Millisecond, Timeout: 150 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.GreaterOrEqual(t, res.Errors[loadgen.ErrTimeout], int64(3), "every connection times out at least once")
	assert.Greater(t, res.Connects, int64(3), "timed-out connections are replaced")
	// The closed loop too records what never came back, at its age.
	assert.Equal(t, res.Abandoned+res.Unanswered, res.Latency.Count, "the latency holds exactly the messages never answered")
	assert.GreaterOrEqual(t, res.Abandoned, int64(3))
	assert.GreaterOrEqual(t, res.Latency.Max, 150e3, "an abandoned message waited at least the timeout")
	assert.Zero(t, res.ConnsServed)
	require.NotNil(t, res.Fairness)
	assert.Equal(t, loadgen.Fairness{}, *res.Fairness, "no replies: no index")
}

// starver answers only the first k connections it accepts, and each of
// those only for its first m messages of size bytes (raw framing, ASCII);
// everything else it reads and never answers.
func starver(k, m, size int) func(net.Conn) {
	var accepted atomic.Int32
	return func(c net.Conn) {
		budget := 0
		if int(accepted.Add(1)) <= k {
			budget = m * size
		}
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if a := min(n, budget); a > 0 {
				budget -= a
				if _, err := c.Write(protocol.AppendUpper(nil, buf[:a])); err != nil {
					return
				}
			}
		}
	}
}

// TestClosedLoopStarvedConnsShow: a server that serves 2 of 8 connections
// (workerpool with fewer workers than connections, in miniature) cannot
// look fast in a closed loop: the starved connections' messages are in the
// latency at their age when they timed out, and conns_served and the
// fairness index say who was served. The served connections get a budget
// of m replies so that the counts are known (Jain = k/n exactly) and the
// starved messages are more than 1% of the histogram, as they must be to
// reach p99.
func TestClosedLoopStarvedConnsShow(t *testing.T) {
	t.Parallel()
	const conns, k, m, size = 8, 2, 100, 16
	const timeout = 150 * time.Millisecond
	s := startServer(t, starver(k, m, size))
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: conns, Size: size, Duration: 600 * time.Millisecond, Timeout: timeout})
	t.Logf("conns served %d, fairness %+v, abandoned %d, unanswered %d", res.ConnsServed, res.Fairness, res.Abandoned, res.Unanswered)
	assert.Equal(t, k, res.ConnsServed)
	require.NotNil(t, res.Fairness)
	assert.InDelta(t, float64(k)/conns, res.Fairness.JainIndex, 0.02)
	assert.LessOrEqual(t, res.Fairness.JainIndex, float64(k)/conns+1e-9, "k of n served: at most k/n")
	assert.Equal(t, loadgen.Fairness{JainIndex: res.Fairness.JainIndex, Min: 0, Median: 0, Max: m}, *res.Fairness)
	assert.Equal(t, int64(k*m), res.Requests)
	assert.GreaterOrEqual(t, res.Errors[loadgen.ErrTimeout], int64(conns), "every connection times out, the starved ones and the served ones past their budget")
	assert.Equal(t, res.Requests+res.Abandoned+res.Unanswered, res.Latency.Count, "every message sent is in the latency")
	assert.GreaterOrEqual(t, res.Latency.P99, float64(timeout.Microseconds()), "the starved messages reach p99")
}

// TestClosedLoopEveryConnServed: a server that serves everyone is fair.
func TestClosedLoopEveryConnServed(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Conns: 8, Duration: 500 * time.Millisecond})
	noErrors(t, res)
	t.Logf("fairness %+v", res.Fairness)
	assert.Equal(t, 8, res.ConnsServed)
	require.NotNil(t, res.Fairness)
	assert.Greater(t, res.Fairness.JainIndex, 0.9)
	assert.LessOrEqual(t, res.Fairness.JainIndex, 1.0+1e-9)
	assert.Positive(t, res.Fairness.Min)
	assert.LessOrEqual(t, res.Fairness.Min, res.Fairness.Median)
	assert.LessOrEqual(t, res.Fairness.Median, res.Fairness.Max)
	assert.Zero(t, res.Abandoned)
	assert.Equal(t, res.Requests+res.Unanswered, res.Latency.Count, "the messages in flight at the end are in the latency too")
}

// TestOpenLoopServerTakesButNeverAnswers: in the open loop a connection
// keeps writing, which must not hide that no reply ever comes; and what is
// still unanswered at the end shows in the latency, not as a fast server.
func TestOpenLoopServerTakesButNeverAnswers(t *testing.T) {
	t.Parallel()
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	s := startServer(t, silent)
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 4, Rate: 400, Duration: 800 * time.Millisecond, Timeout: 200 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.GreaterOrEqual(t, res.Errors[loadgen.ErrTimeout], int64(4), "every connection times out although its writes progress")
	assert.Positive(t, res.Unanswered)
	assert.Equal(t, res.Unanswered+res.Abandoned+res.Unsent, res.Latency.Count, "the latency holds exactly the messages never answered")
	assert.GreaterOrEqual(t, res.Latency.Max, 200e3, "an abandoned message waited at least the timeout")
}

func TestServerKilledMidRun(t *testing.T) {
	t.Parallel()
	s := startServer(t, echoWith(protocol.Raw, nil))
	time.AfterFunc(250*time.Millisecond, s.Kill)
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 4, Duration: 800 * time.Millisecond, Timeout: 200 * time.Millisecond})
	assert.Positive(t, res.Requests, "replies before the kill count")
	e := res.Errors
	assert.Positive(t, e[loadgen.ErrRead]+e[loadgen.ErrShortRead]+e[loadgen.ErrReset], "dropped connections are counted")
	assert.Positive(t, e[loadgen.ErrRefused], "reconnects to a dead server are counted")
	// Back-off: 10 ms doubling to 500 ms per connection, not a spin.
	assert.Less(t, e[loadgen.ErrRefused], int64(4*10), "reconnects back off")
	assert.Zero(t, res.Mismatches)
}

func TestNothingListening(t *testing.T) {
	t.Parallel()
	res := runOnTime(t, loadgen.Config{Addr: testnet.ClosedAddr(t), Conns: 2, Duration: 300 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.Positive(t, res.Errors[loadgen.ErrRefused])
	assert.Zero(t, res.Latency.Count)
	assert.Len(t, res.Series, 1)
}

// stallingEcho echoes, except that it stops answering for 500 ms every 2 s,
// starting 500 ms after the server starts.
func stallingEcho(start time.Time) func(net.Conn) {
	return func(c net.Conn) {
		codec := protocol.NewCodec(protocol.CodecConfig{Framing: protocol.Raw})
		buf, out := make([]byte, 4096), make([]byte, 0, 8192)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if phase := time.Since(start) % (2 * time.Second); phase >= 500*time.Millisecond && phase < time.Second {
				time.Sleep(time.Second - phase)
			}
			if out, err = codec.Feed(out[:0], buf[:n]); err != nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func TestOpenLoopCorrectsCoordinatedOmission(t *testing.T) {
	t.Parallel()
	run := func(cfg loadgen.Config) *loadgen.Result {
		s := startServer(t, stallingEcho(time.Now()))
		cfg.Addr, cfg.Duration = s.Addr(), 1500*time.Millisecond
		res := runOnTime(t, cfg)
		noErrors(t, res)
		return res
	}
	open := run(loadgen.Config{Conns: 4, Rate: 2000})
	closed := run(loadgen.Config{Conns: 1})

	// Open loop: every message scheduled during the stall waits for it,
	// measured from when it should have been sent.
	assert.GreaterOrEqual(t, open.Latency.P99, 400e3, "open-loop p99 must show the 500 ms stall")
	assert.InDelta(t, 2000, open.RPS, 300, "achieved rate")
	assert.Equal(t, 2000.0, open.TargetRPS)
	// Closed loop: the one message caught in the stall is its max, but the
	// generator waited with it, so the stall hides from p99.
	assert.GreaterOrEqual(t, closed.Latency.Max, 400e3, "the stall happened during the closed loop too")
	assert.Less(t, closed.Latency.P99, 100e3, "a closed loop hides the stall from p99")
}

func TestOpenLoopRate(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Conns: 8, Rate: 3000, Warmup: 200 * time.Millisecond, Duration: time.Second})
	noErrors(t, res)
	// 10%: the schedule is the generator's; a machine loaded by parallel
	// tests under -race only delays sends, whose latency then counts it.
	assert.InDelta(t, 3000, res.RPS, 300)
	assert.Zero(t, res.Unsent)
	assert.InDelta(t, 3000, res.SendLag.Count, 300, "one send-lag sample per message sent on schedule")
	require.Len(t, res.Series, 1)
	assert.InDelta(t, 3000, res.Series[0].Requests, 300)
}

func TestResultJSONRoundTrip(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{Framing: protocol.Length})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Framing: protocol.Length, Conns: 2, Duration: 1100 * time.Millisecond})
	noErrors(t, res)
	require.Len(t, res.Series, 2)
	assert.Positive(t, res.Series[1].Requests, "the last, partial second")

	b, err := json.Marshal(res)
	require.NoError(t, err)
	var back loadgen.Result
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, *res, back)

	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	for _, k := range []string{"requests", "errors", "mismatches", "rps", "target_rps", "latency_us"} {
		assert.Contains(t, generic, k)
	}
	lat := generic["latency_us"].(map[string]any)
	for _, k := range []string{"min", "mean", "p50", "p90", "p99", "p999", "p9999", "max"} {
		assert.Contains(t, lat, k)
	}

	h, err := back.DecodeHistogram()
	require.NoError(t, err)
	assert.Equal(t, res.Latency.Count, h.TotalCount())
	assert.Equal(t, res.Latency.P99, float64(h.ValueAtQuantile(99)))
}

func TestTooManyConnections(t *testing.T) {
	t.Parallel()
	_, err := loadgen.Run(context.Background(), loadgen.Config{Addr: "127.0.0.1:1", Conns: 1 << 24})
	require.ErrorIs(t, err, loadgen.ErrFDLimit)
}

func TestCancelledRunReturnsPartialResult(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := loadgen.Run(ctx, loadgen.Config{Addr: addr.String(), Duration: time.Minute})
	assert.Less(t, time.Since(start), time.Second)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "err = %v", err)
	require.NotNil(t, res)
	assert.Positive(t, res.Requests)
	assert.InDelta(t, 0.3, res.Elapsed, 0.1)
}

func TestConfigBounds(t *testing.T) {
	for _, cfg := range []loadgen.Config{
		{Addr: "x:1", Depth: loadgen.MaxDepth + 1},
		{Addr: "x:1", Depth: 1024, Size: 1 << 20},
		{Addr: "x:1", Rate: 100, Depth: 2},
		{Addr: "x:1", Content: "latin1"},
		{Addr: "x:1", Rate: math.NaN()},
		{Addr: "x:1", Rate: math.Inf(1)},
		{Addr: "x:1", Rate: 1e300},
		{Addr: "x:1", Rate: 1e-9},
	} {
		_, err := loadgen.Run(context.Background(), cfg)
		assert.ErrorIs(t, err, loadgen.ErrConfig, "%+v", cfg)
	}
}

// closeAfter answers the first n messages of size bytes (raw framing,
// ASCII) on each connection and then closes it.
func closeAfter(n, size int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, size)
		for range n {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(protocol.AppendUpper(nil, buf)); err != nil {
				return
			}
		}
	}
}

// TestOpenLoopUnsentInLatency: a server that closes every connection after
// 10 replies leaves part of the schedule unsent (due while the connection
// was down); those messages are in the latency at their age at the end of
// the run, so the server cannot pass a p99 threshold on the few replies it
// gave quickly.
func TestOpenLoopUnsentInLatency(t *testing.T) {
	t.Parallel()
	const size = 16
	const duration = 800 * time.Millisecond
	s := startServer(t, closeAfter(10, size))
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 4, Size: size, Rate: 2000, Duration: duration, Timeout: 200 * time.Millisecond})
	require.Positive(t, res.Requests)
	require.Greater(t, res.Unsent*50, res.Latency.Count, "the unsent messages are more than 2% of the histogram")
	assert.Equal(t, res.Requests+res.Abandoned+res.Unanswered+res.Unsent, res.Latency.Count, "every message due is in the latency")
	// The unsent messages are spread over the run, aged from their
	// intended time to its end: the oldest ones are nearly the whole run.
	assert.GreaterOrEqual(t, res.Latency.Max, float64((duration * 3 / 4).Microseconds()))
	assert.GreaterOrEqual(t, res.Latency.P99, float64((duration / 2).Microseconds()), "the unsent messages reach p99")
}
