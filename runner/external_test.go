package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/results"
	"archbench/runner"
	"archbench/scenarios"
)

// externalEcho is an external server for the tests, run as this test
// binary's `external-MODE ADDR`: a correct raw echo that prints its
// listening line, except external-quiet (nothing: the runner sees it ready
// by connecting); external-corrupt gets byte 100 of every reply stream
// wrong; external-stubborn ignores SIGTERM; external-crash exits 3 on it.
func externalEcho(mode, addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	if mode != "external-quiet" {
		fmt.Println("listening on " + ln.Addr().String())
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		switch mode {
		case "external-stubborn": // ignores SIGTERM: a hang
			select {}
		case "external-crash": // exits 3 on SIGTERM: a crash
			os.Stderr.WriteString("panic: boom\n")
			os.Exit(3)
		}
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

// TestRunExternal runs external servers through the real load: a quiet
// echo started by a shell that stays its parent (ready on a connect; CPU
// and RSS over the process tree; the shell dies of the SIGTERM, a clean
// stop), a corrupting echo, which fails conformance and is not timed, an
// unavailable one, and echoes that print their listening line and then
// hang on SIGTERM or exit 3 on it, reported as a hang (killed with its
// group) and a crash.
func TestRunExternal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and runs the conformance cases")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	q := "'" + exe + "'"
	ext := []runner.ExternalServer{
		{External: scenarios.External{Name: "ext-quiet", Command: q + " external-quiet {host}:{port}; true"}},
		{External: scenarios.External{Name: "ext-corrupt", Command: "exec " + q + " external-corrupt {addr}"}},
		{External: scenarios.External{Name: "ext-none", Command: "x"}, Unavailable: "needs cc, which is not on PATH"},
		{External: scenarios.External{Name: "ext-stubborn", Command: "exec " + q + " external-stubborn {addr}"}},
		{External: scenarios.External{Name: "ext-crash", Command: "exec " + q + " external-crash {addr}"}},
	}
	var archs []string
	for _, x := range ext {
		archs = append(archs, x.Name)
	}
	run, err := runner.Run(context.Background(), runner.Options{
		Suite:     suite(t, "scenarios:\n  - name: s\n    description: d\n    load: {conns: 2, warmup: 50ms, duration: 300ms}\n"),
		Archs:     archs,
		Reps:      1,
		External:  ext,
		StopGrace: time.Second,
	})
	require.NoError(t, err)
	require.Len(t, run.Samples, 5)
	require.Len(t, run.External, 5)
	assert.True(t, run.IsExternal("ext-quiet"))
	for _, s := range run.Samples {
		switch s.Arch {
		case "ext-quiet":
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
		case "ext-stubborn":
			require.NotNil(t, s.Result)
			assert.Equal(t, results.ExitHang, s.Exit)
			assert.Contains(t, s.ExitDetail, "no exit within 1s of SIGTERM; killed")
		case "ext-crash":
			require.NotNil(t, s.Result)
			assert.Equal(t, results.ExitCrash, s.Exit)
			assert.Contains(t, s.ExitDetail, "exit status 3")
			assert.Contains(t, s.ExitDetail, "panic: boom")
		case "ext-none":
			assert.Nil(t, s.Result)
			assert.Equal(t, "needs cc, which is not on PATH", s.Unavailable)
		}
	}
}
