package runner_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/results"
	"archbench/runner"
	"archbench/scenarios"
)

// externalEcho is an external server for the tests, run as this test
// binary's `external-quiet ADDR` (a correct raw echo that prints nothing,
// so the runner sees it ready by connecting) or `external-corrupt ADDR`
// (the same, with byte 100 of every reply stream wrong).
func externalEcho(mode, addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func() {
			defer c.Close()
			var up protocol.Upper
			buf := make([]byte, 64<<10)
			sent := 0
			for {
				n, err := c.Read(buf)
				out := up.Append(nil, buf[:n])
				if errors.Is(err, io.EOF) {
					out = up.Flush(out)
				}
				if i := 100 - sent; mode == "external-corrupt" && i >= 0 && i < len(out) {
					out[i] ^= 0x20
				}
				sent += len(out)
				if _, werr := c.Write(out); werr != nil || err != nil {
					return
				}
			}
		}()
	}
}

// TestRunExternal runs three external servers through the real load:
// `archbench serve` as a command (ready on its listening line), a quiet
// echo started by a shell that stays its parent (ready on a connect; CPU
// and RSS over the process tree; the shell dies of the SIGTERM, a clean
// stop), and a corrupting echo, which fails conformance and is not timed.
func TestRunExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and runs the conformance cases")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	q := "'" + exe + "'"
	ext := []runner.ExternalServer{
		{External: scenarios.External{Name: "ext-serve", Command: "exec " + q + " serve --arch epoll --log-level warn --addr {addr} --framing {framing}"}},
		{External: scenarios.External{Name: "ext-quiet", Command: q + " external-quiet {host}:{port}; true"}},
		{External: scenarios.External{Name: "ext-corrupt", Command: "exec " + q + " external-corrupt {addr}"}},
		{External: scenarios.External{Name: "ext-none", Command: "x"}, Unavailable: "needs cc, which is not on PATH"},
	}
	var archs []string
	for _, x := range ext {
		archs = append(archs, x.Name)
	}
	run, err := runner.Run(context.Background(), runner.Options{
		Suite:    suite(t, "scenarios:\n  - name: s\n    description: d\n    load: {conns: 2, warmup: 50ms, duration: 300ms}\n"),
		Archs:    archs,
		Reps:     1,
		External: ext,
	})
	require.NoError(t, err)
	require.Len(t, run.Samples, 4)
	require.Len(t, run.External, 4)
	assert.True(t, run.IsExternal("ext-quiet"))
	for _, s := range run.Samples {
		switch s.Arch {
		case "ext-serve", "ext-quiet":
			assert.True(t, s.OK(), "%s: %+v", s.Arch, s)
			assert.Equal(t, results.ExitClean, s.Exit, s.Arch)
			assert.Positive(t, s.ServerPeakRSS, s.Arch)
			require.NotNil(t, s.Result, s.Arch)
			assert.Positive(t, s.Result.Requests, s.Arch)
		case "ext-corrupt":
			assert.Nil(t, s.Result)
			assert.Contains(t, s.Error, runner.ErrNotConform.Error())
			assert.Contains(t, s.Error, "failed ASCII: ")
			assert.True(t, strings.HasPrefix(s.Unavailable, "not timed: fails the conformance cases ASCII, Binary"), s.Unavailable)
		case "ext-none":
			assert.Nil(t, s.Result)
			assert.Equal(t, "needs cc, which is not on PATH", s.Unavailable)
		}
	}
}
