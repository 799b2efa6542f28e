package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

// startUDPLoop starts the textbook UDP server in-process.
func startUDPLoop(t *testing.T) string {
	t.Helper()
	srv, err := servers.New("udp-loop", servers.Config{Network: "udp", Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

// silentUDP is a bound UDP socket that never answers.
func silentUDP(t *testing.T) string {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// runErr is run with Run's error, whose message main prints.
func runErr(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = Run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestSend(t *testing.T) {
	udp := startUDPLoop(t)
	out, errOut, code := run("send", "--network", "udp", "--addr", udp, "héllo ıß 42")
	require.Zero(t, code, errOut)
	assert.Equal(t, "HÉLLO Iß 42\n", out) // ß has no single upper-case rune

	tcp := startGoroutineServer(t, protocol.Line)
	out, errOut, code = run("send", "--addr", tcp, "--framing", "line", "abc")
	require.Zero(t, code, errOut)
	assert.Equal(t, "ABC\n", out)

	raw := startGoroutineServer(t, protocol.Raw)
	out, errOut, code = run("send", "--addr", raw, "xyz")
	require.Zero(t, code, errOut)
	assert.Equal(t, "XYZ\n", out)

	// Retries, then gives up: 10, 20, 40 ms, the last wait cut at 50 ms.
	start := time.Now()
	out, _, err := runErr("send", "--network", "udp", "--addr", silentUDP(t), "--retry", "10ms,x2,50ms", "anyone?")
	assert.Equal(t, 1, ExitCode(err))
	assert.Empty(t, out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server seems down")
	assert.Contains(t, err.Error(), "(3 sends)")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	// A closed port: ICMP port unreachable, an error at once.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	closed := c.LocalAddr().String()
	require.NoError(t, c.Close())
	_, _, err = runErr("send", "--network", "udp", "--addr", closed, "x")
	assert.Equal(t, 1, ExitCode(err))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ICMP port unreachable")
}

// TestSendWrongReply: a reply that is not the transform is an error, exit 1.
func TestSendWrongReply(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 100)
		_, from, err := c.ReadFromUDPAddrPort(buf)
		if err == nil {
			_, _ = c.WriteToUDPAddrPort([]byte("abc"), from) // not upper-cased
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	out, _, err := runErr("send", "--network", "udp", "--addr", c.LocalAddr().String(), "abc")
	assert.Equal(t, 1, ExitCode(err))
	assert.Empty(t, out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wrong reply")
}

func TestSendUsageErrorsExit2(t *testing.T) {
	for name, args := range map[string][]string{
		"no text":      {"--network", "udp"},
		"two texts":    {"a", "b"},
		"bad network":  {"--network", "sctp", "x"},
		"bad retry":    {"--retry", "1s,x2", "x"},
		"udp framing":  {"--network", "udp", "--framing", "line", "x"},
		"zero timeout": {"--timeout", "0s", "x"},
		"bad port":     {"--addr", "127.0.0.1:99999", "x"},
		"no such host": {"--network", "udp", "--addr", "nosuchhost.invalid:7", "x"},
	} {
		_, _, err := runErr(append([]string{"send"}, args...)...)
		assert.Equal(t, 2, ExitCode(err), name)
		if assert.Error(t, err, name) {
			assert.NotContains(t, err.Error(), "\n", name)
		}
	}
}

// TestLoadUDP: `archbench load --network udp` against udp-loop reports
// the datagram counts, every kind of error present.
func TestLoadUDP(t *testing.T) {
	addr := startUDPLoop(t)
	out, errOut, code := run("load", "--network", "udp", "--addr", addr, "--conns", "2", "--duration", "300ms", "--retry", "100ms,x2,1s", "--format", "json")
	require.Zero(t, code, errOut)
	var res loadgen.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.NotNil(t, res.UDP)
	assert.Positive(t, res.UDP.Answered)
	assert.Equal(t, "100ms,x2,1s", res.Config.Retry.String())
	assert.Contains(t, res.Errors, loadgen.ErrRefused)
}
