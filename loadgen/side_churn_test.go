package loadgen_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/testnet"
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
	_ "archbench/servers/sequential"
)

func TestSlowConnsBesideLoad(t *testing.T) {
	t.Parallel()
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			addr := startArch(t, "goroutine", servers.Config{Framing: f})
			res := runOnTime(t, loadgen.Config{Addr: addr.String(), Framing: f, Conns: 4,
				SlowConns: 3, SlowInterval: 20 * time.Millisecond, Duration: 500 * time.Millisecond})
			noErrors(t, res)
			require.NotNil(t, res.Side)
			require.NotNil(t, res.Side.Slow)
			assert.Nil(t, res.Side.Idle)
			s := res.Side.Slow
			t.Logf("slow: %+v", s)
			assert.Equal(t, 3, s.Conns)
			assert.Positive(t, s.Replies, "a slow connection's replies are read and verified")
			assert.GreaterOrEqual(t, s.BytesSent, s.Replies)
			for k, n := range s.Errors {
				assert.Zero(t, n, "slow errors[%s]", k)
			}
			assert.Len(t, s.Errors, len(loadgen.ErrorKinds()), "every kind present")
		})
	}
}

// A slow client accepted first holds the sequential server: the normal
// connections wait in the backlog and time out, while a goroutine per
// connection serves everyone.
func TestSlowConnsStarveSequential(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "sequential", servers.Config{})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Conns: 2, SlowConns: 1,
		SlowInterval: 20 * time.Millisecond, Duration: 600 * time.Millisecond, Timeout: 150 * time.Millisecond})
	assert.Zero(t, res.Requests, "the normal load is starved")
	assert.Positive(t, res.Errors[loadgen.ErrTimeout])
	require.NotNil(t, res.Side)
	assert.Positive(t, res.Side.Slow.Replies, "the slow client is the one served")
}

func TestIdleConnsHeld(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Conns: 2, IdleConns: 300, Duration: 300 * time.Millisecond})
	noErrors(t, res)
	require.NotNil(t, res.Side)
	require.NotNil(t, res.Side.Idle)
	assert.Nil(t, res.Side.Slow)
	assert.Equal(t, loadgen.IdleResult{Conns: 300, Opened: 300, Held: 300, Errors: map[string]int64{
		"connect": 0, "read": 0, "write": 0, "timeout": 0, "short_read": 0, "mismatch": 0,
		"resolve": 0, "no_address": 0, "refused": 0, "unreachable": 0, "connect_timeout": 0, "reset": 0,
	}}, *res.Side.Idle)
}

// A server at its connection cap closes the idle connections above it:
// they are counted, not held, and the run goes on.
func TestIdleConnsRefused(t *testing.T) {
	t.Parallel()
	addr := startArch(t, "goroutine", servers.Config{MaxConns: 10})
	res := runOnTime(t, loadgen.Config{Addr: addr.String(), Conns: 1, IdleConns: 40,
		Duration: 300 * time.Millisecond, Timeout: 200 * time.Millisecond})
	require.NotNil(t, res.Side)
	idle := res.Side.Idle
	t.Logf("idle: %+v", idle)
	assert.Equal(t, 40, idle.Opened, "the kernel completes connects the server then closes")
	assert.Equal(t, 10, idle.Held)
	assert.Equal(t, int64(30), idle.Errors[loadgen.ErrShortRead]+idle.Errors[loadgen.ErrRead]+idle.Errors[loadgen.ErrReset])
	assert.Zero(t, res.Requests, "the load's connection is above the cap too")
}

func TestChurn(t *testing.T) {
	t.Parallel()
	for _, f := range []protocol.Framing{protocol.Raw, protocol.Line} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			addr := startArch(t, "goroutine", servers.Config{Framing: f})
			res := runOnTime(t, loadgen.Config{Addr: addr.String(), Framing: f, Conns: 4, Churn: true,
				Size: 64, Content: loadgen.UTF8, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond})
			noErrors(t, res)
			assert.Greater(t, res.RPS, 100.0)
			assert.GreaterOrEqual(t, res.Connects, res.Requests, "one connection per message")
			assert.Equal(t, 4, res.Config.Loops, "a goroutine per client")
			assert.Positive(t, res.Latency.P50)
			assert.NotEmpty(t, res.Series)
			assert.Equal(t, 4, res.ConnsServed, "a slot is a client")
			require.NotNil(t, res.Fairness)
			assert.Greater(t, res.Fairness.JainIndex, 0.5)
			assert.LessOrEqual(t, res.Fairness.JainIndex, 1.0+1e-9)
		})
	}
}

func TestChurnVerifies(t *testing.T) {
	t.Parallel()
	flip := func(b []byte) {
		if len(b) > 0 {
			b[0] ^= 0x20
		}
	}
	s := startServer(t, echoWith(protocol.Raw, flip))
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Churn: true, Duration: 300 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.Positive(t, res.Mismatches)
}

func TestChurnServerNeverAnswers(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Churn: true, Duration: 600 * time.Millisecond, Timeout: 100 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.Positive(t, res.Errors[loadgen.ErrTimeout])
	// Every failed exchange, and the ones cut by the end, are in the
	// latency at their age: a server that never answers cannot look fast.
	var failed int64
	for _, n := range res.Errors {
		failed += n
	}
	assert.Equal(t, failed+res.Unanswered, res.Latency.Count)
	assert.GreaterOrEqual(t, res.Latency.P50, 100e3, "a timed-out exchange waited at least the timeout")
	assert.Zero(t, res.ConnsServed)
}

func TestChurnDeadServer(t *testing.T) {
	t.Parallel()
	res := runOnTime(t, loadgen.Config{Addr: testnet.ClosedAddr(t), Conns: 2, Churn: true, Duration: 300 * time.Millisecond})
	assert.Zero(t, res.Requests)
	assert.Positive(t, res.Errors[loadgen.ErrRefused])
	assert.Less(t, res.Errors[loadgen.ErrRefused], int64(2*10), "failed connects back off")
}

func TestSideConfigValidation(t *testing.T) {
	for name, cfg := range map[string]loadgen.Config{
		"churn with rate":  {Addr: "x:1", Churn: true, Rate: 100},
		"churn with depth": {Addr: "x:1", Churn: true, Depth: 4},
		"negative slow":    {Addr: "x:1", SlowConns: -1},
		"negative idle":    {Addr: "x:1", IdleConns: -1},
		"negative pause":   {Addr: "x:1", SlowConns: 1, SlowInterval: -time.Second},
	} {
		err := cfg.Validate()
		assert.True(t, errors.Is(err, loadgen.ErrConfig), "%s: %v", name, err)
	}
	c := loadgen.Config{SlowConns: 2}.WithDefaults()
	assert.Equal(t, loadgen.DefaultSlowInterval, c.SlowInterval)
	assert.Zero(t, loadgen.Config{}.WithDefaults().SlowInterval, "no slow connections, no interval in the JSON")
}
