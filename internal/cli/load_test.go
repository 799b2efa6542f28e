package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/testnet"
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

func TestLoadUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "bad framing", args: []string{"--framing", "json"}, want: "--framing"},
		{name: "bad network", args: []string{"--network", "sctp"}, want: "network"},
		{name: "bad content", args: []string{"--content", "latin1"}, want: "content"},
		{name: "bad format", args: []string{"--format", "xml"}, want: "--format"},
		{name: "bad size", args: []string{"--size", "big"}, want: "bad size"},
		{name: "zero conns", args: []string{"--conns", "0"}, want: "--conns"},
		{name: "negative rate", args: []string{"--rate", "-5"}, want: "rate"},
		{name: "depth with rate", args: []string{"--rate", "100", "--depth", "4"}, want: "depth"},
		{name: "zero duration", args: []string{"--duration", "0s"}, want: "--duration"},
		{name: "too many conns", args: []string{"--conns", "100000000", "--duration", "1s"}, want: "RLIMIT_NOFILE"},
		{name: "stray argument", args: []string{"now"}, want: "unexpected argument"},
		{name: "port out of range", args: []string{"--addr", "127.0.0.1:99999"}, want: `port "99999"`},
		{name: "unknown service", args: []string{"--addr", "[::1]:x"}, want: `port "x"`},
		{name: "no port", args: []string{"--addr", "localhost"}, want: "want host:port or host:service"},
		{name: "no address of the family", args: []string{"--network", "tcp6", "--addr", "127.0.0.1:7"}, want: "host 127.0.0.1: no_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o, e bytes.Buffer
			err := Run(context.Background(), append([]string{"load"}, tt.args...), &o, &e)
			require.Error(t, err)
			assert.Equal(t, 2, ExitCode(err))
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
			assert.Empty(t, o.String(), "stdout stays clean")
		})
	}
}

func startGoroutineServer(t *testing.T, f protocol.Framing) string {
	t.Helper()
	srv, err := servers.New("goroutine", servers.Config{Addr: "127.0.0.1:0", Framing: f})
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

func TestLoadJSONAndHgrm(t *testing.T) {
	addr := startGoroutineServer(t, protocol.Line)
	hgrm := filepath.Join(t.TempDir(), "lat.hgrm")
	out, errOut, code := run("load", "--addr", addr, "--framing", "line", "--content", "utf8", "--conns", "2",
		"--size", "100B", "--duration", "300ms", "--format", "json", "--hgrm", hgrm)
	require.Zero(t, code, errOut)
	var res loadgen.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res), "stdout is the JSON result alone")
	assert.Positive(t, res.Requests)
	assert.Zero(t, res.Mismatches)
	assert.Equal(t, 100, res.Config.Size)
	assert.Equal(t, protocol.Line, res.Config.Framing)

	b, err := os.ReadFile(hgrm)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), " Value\tPercentile\tTotalCount\t1/(1-Percentile)"), "hgrm header")
	assert.Contains(t, string(b), "#[Mean")
}

func TestLoadTextAgainstDeadServerStillReports(t *testing.T) {
	addr := startGoroutineServer(t, protocol.Raw)
	// A server that is gone: errors are counted, the summary still prints
	// (and the run fails: see TestLoadNoReplyExit1).
	out, _, code := run("load", "--addr", testnet.ClosedAddr(t), "--duration", "200ms")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "Requests/sec:")
	assert.Regexp(t, `refused [1-9]`, out)

	out, errOut, code := run("load", "--addr", addr, "--conns", "3", "--rate", "500", "--duration", "300ms")
	require.Zero(t, code, errOut)
	assert.Contains(t, out, "Target/sec:")
	assert.Contains(t, out, "mismatch 0")
	assert.Contains(t, errOut, "load:", "progress goes to stderr")
}

func TestLoadThresholds(t *testing.T) {
	addr := startGoroutineServer(t, protocol.Raw)
	_, errOut, code := run("load", "--addr", addr, "--duration", "200ms", "--threshold", "mismatches==0", "--threshold", "rps>0")
	assert.Zero(t, code, errOut)

	// A dead server misses rps>0: exit 1 with the miss on stderr; the result still prints.
	out, errOut, code := run("load", "--addr", testnet.ClosedAddr(t), "--duration", "200ms", "--threshold", "rps>0")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "threshold rps>0 missed")
	assert.Contains(t, out, "Requests/sec:")

	_, _, code = run("load", "--addr", addr, "--threshold", "p99<soon")
	assert.Equal(t, 2, code)
}

// An --hgrm file that cannot be created is a usage error found before the
// load starts.
func TestLoadHgrmUncreatableExit2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "lat.hgrm")
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"load", "--addr", testnet.ClosedAddr(t), "--duration", "200ms", "--hgrm", missing}, &out, &errOut)
	require.Error(t, err)
	assert.Equal(t, 2, ExitCode(err), err.Error())
	assert.Contains(t, err.Error(), "--hgrm "+missing)
	assert.NotContains(t, err.Error(), "\n", "one line")
	assert.NotContains(t, errOut.String(), "conns to", "no load started")
	assert.Empty(t, out.String(), "stdout stays clean")
}

// A load run that verified no reply exits 1 and says so in one line,
// thresholds or not; the result still prints.
func TestLoadNoReplyExit1(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"load", "--addr", testnet.ClosedAddr(t), "--duration", "200ms"}, &out, &errOut)
	require.Error(t, err)
	assert.Equal(t, 1, ExitCode(err), err.Error())
	assert.ErrorIs(t, err, ErrNoReply)
	assert.Regexp(t, `^load: no reply verified \(errors: refused [1-9][0-9]*\)$`, err.Error())
	assert.Contains(t, out.String(), "Requests/sec:", "the result still prints")
}

// A reply that differs from what the server should send fails the run,
// though every other reply was verified.
func TestLoadMismatchExit1(t *testing.T) {
	// An echo server that does not uppercase: every reply mismatches.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), []string{"load", "--addr", ln.Addr().String(), "--content", "utf8", "--duration", "200ms"}, &out, &errOut)
	require.Error(t, err)
	assert.Equal(t, 1, ExitCode(err), err.Error())
	assert.ErrorIs(t, err, ErrMismatch)
	assert.NotContains(t, err.Error(), "\n", "one line")
}

func TestCheckVerified(t *testing.T) {
	assert.NoError(t, checkVerified(&loadgen.Result{Requests: 10}))
	err := checkVerified(&loadgen.Result{Requests: 10, Mismatches: 2})
	assert.ErrorIs(t, err, ErrMismatch)
	assert.EqualError(t, err, "2 replies mismatched")
	err = checkVerified(&loadgen.Result{Mismatches: 1, Errors: map[string]int64{loadgen.ErrMismatch: 1, loadgen.ErrRead: 0}})
	assert.ErrorIs(t, err, ErrNoReply)
	assert.ErrorIs(t, err, ErrMismatch)
	assert.EqualError(t, err, "no reply verified (errors: mismatch 1); 1 replies mismatched")
}

// Progress is shown on a terminal only; the line counts the replies and
// is erased at the end.
func TestLoadProgress(t *testing.T) {
	assert.False(t, isTerminal(new(bytes.Buffer)))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	assert.False(t, isTerminal(w), "a pipe is not a terminal")

	var replies atomic.Int64
	var out syncBuffer
	stop := showProgress(&out, loadgen.Config{Duration: 5 * time.Second}, &replies)
	replies.Store(1234)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "1234 replies verified") }, 5*time.Second, 50*time.Millisecond)
	stop()
	assert.True(t, strings.HasSuffix(out.String(), "\r\033[K"), "the line is erased at the end")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
