package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/servers"
)

func TestServeUDPUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--arch", "udp-loop"}, "does not serve network tcp"},
		{[]string{"serve", "--arch", "udp-loop", "--network", "unix", "--addr", "/tmp/x.sock"}, "does not serve network unix"},
		{[]string{"serve", "--arch", "udp-loop", "--network", "udp", "--framing", "line"}, "a datagram is its own message"},
		{[]string{"serve", "--arch", "udp-loop", "--network", "udp", "--rcvbuf", "-1"}, "rcvbuf"},
		{[]string{"serve", "--arch", "udp-mmsg", "--network", "sctp"}, "network"},
	} {
		var o, e bytes.Buffer
		err := Run(context.Background(), tt.args, &o, &e)
		require.Error(t, err, "%q", tt.args)
		assert.Equal(t, 2, ExitCode(err), "%q", tt.args)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), "\n")
	}
}

// syncBuf is a bytes.Buffer safe for a writer and a reader at once.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeUDP: serve --network udp answers a datagram and its last line,
// the stats, carries the datagram counters, the drop count and the granted
// buffer sizes (the runner records them).
func TestServeUDP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuf
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--arch", "udp-loop", "--network", "udp", "--addr", "127.0.0.1:0", "--rcvbuf", "64KiB"}, &stdout, &stderr)
	}()
	var addr string
	require.Eventually(t, func() bool {
		line, _, ok := strings.Cut(stdout.String(), "\n")
		addr = strings.TrimPrefix(line, servers.ListeningPrefix)
		return ok
	}, 10*time.Second, 5*time.Millisecond, "no listening line; stderr: %s", &stderr)
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	reply := make([]byte, 64)
	for {
		_, err = c.Write([]byte("héllo ıɐ"))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Second)))
		n, err := c.Read(reply)
		if err == nil {
			assert.Equal(t, "HÉLLO IⱯ", string(reply[:n]))
			break
		}
	}
	cancel()
	require.NoError(t, <-done)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, servers.StatsPrefix), "last line %q", last)
	var st servers.Stats
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(last, servers.StatsPrefix)), &st))
	assert.GreaterOrEqual(t, st.Datagrams, int64(1))
	assert.GreaterOrEqual(t, st.Replies, int64(1))
	if assert.NotNil(t, st.Drops, "drops read") {
		assert.Zero(t, *st.Drops)
	}
	assert.Positive(t, st.Rcvbuf)
	assert.Positive(t, st.Sndbuf)
}
