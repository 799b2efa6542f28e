package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/servers"
)

// TestConformBuiltins runs `archbench conform --short` against every
// registered architecture, started in this process on its first framing:
// the black-box cases pass through the conform entry point. To stay cheap
// (servers/all's conformance test runs every case on every architecture
// and framing already) only epoll gets every case; the others get four; a
// case an architecture lists as a known defect of its library must fail,
// and only those may.
func TestConformBuiltins(t *testing.T) {
	for _, a := range servers.Archs() {
		t.Run(a.Name, func(t *testing.T) {
			if a.Protocol != "" {
				t.Skipf("%s speaks %s, not the byte protocol", a.Name, a.Protocol)
			}
			if !a.Serves("tcp") {
				t.Skipf("%s serves %v: conform is a stream client", a.Name, a.Nets())
			}
			f := protocol.Raw
			if len(a.Framings) > 0 {
				f = a.Framings[0]
			}
			cfg := servers.DefaultConfig()
			cfg.Network, cfg.Addr, cfg.Framing = "tcp", "127.0.0.1:0", f
			srv, err := a.Build(cfg)
			require.NoError(t, err)
			if err := srv.Start(); err != nil {
				if errors.Is(err, servers.ErrUnavailable) || errors.Is(err, errors.ErrUnsupported) {
					t.Skipf("%s cannot run here: %v", a.Name, err)
				}
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			})
			args := []string{"conform", "--short", "--addr", srv.Addr().String(), "--framing", f.String()}
			if a.Sequential {
				args = append(args, "--sequential")
			}
			if a.Name != "epoll" {
				args = append(args, "--run", "^(ASCII|InvalidUTF8|Pipelined10k|Concurrent64)$")
			}
			var out bytes.Buffer
			err = Run(context.Background(), args, &out, io.Discard)
			failed := regexp.MustCompile(`(?m)^FAIL (\S+)`).FindAllStringSubmatch(out.String(), -1)
			var got, want []string
			for _, m := range failed {
				got = append(got, m[1])
			}
			for _, d := range a.Defects {
				if strings.Contains(out.String(), " "+d.Case+" ") {
					want = append(want, d.Case)
				}
			}
			assert.Equal(t, want, got, "failed cases (want exactly the known defects run)\n%s", out.String())
			if len(want) == 0 {
				assert.NoError(t, err)
			}
		})
	}
}

// TestConformCatchesCorruption: a server that gets one byte of every
// connection's reply stream wrong fails conform, exit 1, with the case
// that saw it named on its FAIL line and in the error.
func TestConformCatchesCorruption(t *testing.T) {
	addr := corruptServer(t, 100)
	var out bytes.Buffer
	err := Run(context.Background(), []string{"conform", "--short", "--addr", addr}, &out, io.Discard)
	assert.Equal(t, 1, ExitCode(err), "stdout:\n%s", out.String())
	assert.Regexp(t, `(?m)^FAIL ASCII .*reply differs at byte`, out.String())
	assert.ErrorContains(t, err, "failed ASCII, Binary")
}

func TestConformUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{args: []string{"conform"}, want: "--addr is required"},
		{args: []string{"conform", "--addr", "127.0.0.1:1", "--framing", "xml"}, want: "--framing"},
		{args: []string{"conform", "--addr", "127.0.0.1:1", "--network", "udp9"}, want: "--network"},
		{args: []string{"conform", "--addr", "server.invalid:9000"}, want: "host server.invalid: resolve: no such host"},
		{args: []string{"conform", "--addr", "127.0.0.1"}, want: "missing port"},
		{args: []string{"conform", "--addr", ":9000"}, want: "no host"},
	} {
		err := Run(context.Background(), tt.args, io.Discard, io.Discard)
		assert.Equal(t, 2, ExitCode(err), "%v", tt.args)
		assert.ErrorContains(t, err, tt.want, "%v", tt.args)
	}
	// Nothing listening: one line, exit 1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, _, code := run("conform", "--addr", addr)
	assert.Equal(t, 1, code)
}

// A name resolves once, as the load generator resolves it, and every case
// dials the first of its addresses that accepts (localhost may list ::1
// first while the server listens on 127.0.0.1 only).
func TestConformResolvesName(t *testing.T) {
	if ips, err := net.LookupHost("localhost"); err != nil || !slices.Contains(ips, "127.0.0.1") {
		t.Skipf("localhost does not resolve to 127.0.0.1 here (%v, %v)", ips, err)
	}
	addr := corruptServer(t, 1<<40) // never reached: a correct server
	_, port, _ := net.SplitHostPort(addr)
	out, stderr, code := run("conform", "--short", "--run", "ASCII", "--addr", "localhost:"+port)
	require.Zero(t, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
	assert.Contains(t, out, "conform: localhost:"+port+" is 127.0.0.1:"+port)
	assert.Regexp(t, `(?m)^PASS ASCII`, out)
}

// corruptServer is a raw-framing uppercase echo that flips the case of the
// byte at offset at of each connection's reply stream (it sends 'x' for
// 'X'): one wrong byte, nothing else.
func corruptServer(t *testing.T, at int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
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
					if i := at - sent; i >= 0 && i < len(out) {
						out[i] ^= 0x20
					}
					sent += len(out)
					if _, werr := c.Write(out); werr != nil || err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func TestRunExternalUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{args: []string{"run", "--external", "nocommand"}, want: "want NAME=COMMAND"},
		{args: []string{"run", "--external", "Bad Name=x"}, want: "use a-z"},
		{args: []string{"run", "--external", "epoll=./srv {port}"}, want: "name of a built-in architecture"},
		{args: []string{"run", "--external", "a=x", "--external", "a=y"}, want: `"a" given twice`},
	} {
		err := Run(context.Background(), append(tt.args, "--out", t.TempDir()), io.Discard, io.Discard)
		assert.Equal(t, 2, ExitCode(err), "%v: %v", tt.args, err)
		assert.ErrorContains(t, err, tt.want, "%v", tt.args)
	}
}
