package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/baselines"
	"archbench/servers"
)

func run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	err := Run(context.Background(), args, &o, &e)
	return o.String(), e.String(), ExitCode(err)
}

func TestList(t *testing.T) {
	out, _, code := run("list")
	require.Zero(t, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	names := map[string]bool{}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			names[f[0]] = true
		}
	}
	for _, a := range servers.Archs() {
		assert.True(t, names[a.Name], "list shows %s first on its line", a.Name)
	}
	for _, b := range baselines.All() {
		assert.True(t, names[b.Name], "list shows the baseline %s first on its line", b.Name)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no command", args: nil, want: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, want: "unknown command"},
		{name: "no arch", args: []string{"serve"}, want: "--arch is required"},
		{name: "unknown arch", args: []string{"serve", "--arch", "nope"}, want: "unknown architecture"},
		{name: "bad framing", args: []string{"serve", "--arch", "goroutine", "--framing", "json"}, want: "--framing"},
		{name: "bad network", args: []string{"serve", "--arch", "goroutine", "--network", "udp"}, want: "network"},
		{name: "unknown flag", args: []string{"serve", "--arch", "goroutine", "--bogus"}, want: "bogus"},
		{name: "bad size", args: []string{"serve", "--arch", "goroutine", "--out-cap", "lots"}, want: "bad size"},
		{name: "bad duration", args: []string{"serve", "--arch", "goroutine", "--idle-timeout", "soon"}, want: "idle-timeout"},
		{name: "work with raw", args: []string{"serve", "--arch", "goroutine", "--work-cpu", "1ms"}, want: "framed"},
		{name: "work too long", args: []string{"serve", "--arch", "goroutine", "--framing", "line", "--work-sleep", "30s"}, want: "at most 1s"},
		{name: "negative workers", args: []string{"serve", "--arch", "workerpool", "--workers", "-1"}, want: "workers"},
		{name: "unix without path", args: []string{"serve", "--arch", "goroutine", "--network", "unix"}, want: "unix"},
		{name: "stray argument", args: []string{"list", "extra"}, want: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o, e bytes.Buffer
			err := Run(context.Background(), tt.args, &o, &e)
			require.Error(t, err)
			assert.Equal(t, 2, ExitCode(err))
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
			assert.Empty(t, o.String(), "stdout stays clean")
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	_, e, code := run("serve", "-h")
	assert.Zero(t, code)
	assert.Contains(t, e, "-arch")
	assert.Equal(t, 1, strings.Count(e, "usage:"), "usage printed once:\n%s", e)
}

// TestServeProcess runs the real binary: readiness line on stdout, a working
// echo, exit 0 on SIGTERM well within 5 s.
func TestServeProcess(t *testing.T) {
	bin := buildBinary(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "s.sock")
			}
			cmd := exec.Command(bin, "serve", "--arch", "goroutine", "--network", network, "--addr", addr, "--framing", "line")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

			r := bufio.NewReader(stdout)
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(line, servers.ListeningPrefix), "got %q", line)
			got := strings.TrimSpace(strings.TrimPrefix(line, servers.ListeningPrefix))
			if network == "tcp" {
				assert.NotContains(t, got, ":0", "the bound port is printed")
			}

			c, err := net.DialTimeout(network, got, 2*time.Second)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
			_, err = c.Write([]byte("héllo ıɐ\n"))
			require.NoError(t, err)
			reply, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "HÉLLO IⱯ\n", reply)

			start := time.Now()
			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			rest, _ := io.ReadAll(r)
			err = cmd.Wait()
			assert.NoError(t, err, "exit 0 on SIGTERM; stderr: %s", stderr.String())
			assert.Less(t, time.Since(start), 5*time.Second)
			assert.Regexp(t, `^stats \{"accepted":1,.*\}\n$`, string(rest), "stdout carries the readiness line and, at exit, only the stats line")
			if network == "unix" {
				_, err := os.Stat(got)
				assert.True(t, os.IsNotExist(err), "socket file removed on exit")
			}
		})
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = Run(context.Background(), []string{"serve", "--arch", "goroutine", "--addr", ln.Addr().String()}, io.Discard, io.Discard)
	assert.Equal(t, 2, ExitCode(err), "the address's fault: a usage error")
	assert.Regexp(t, `^serve: goroutine: .*address already in use$`, err.Error(), "one line")
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "archbench")
	out, err := exec.Command("go", "build", "-o", bin, "archbench/cmd/archbench").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// An architecture that cannot run here (io_uring switched off) is one line
// and exit 2, as is an address it cannot listen on; any other failed
// start is exit 1.
func TestServeUnavailable(t *testing.T) {
	setup := fmt.Errorf("uring: io_uring unavailable: io_uring_setup: %w", syscall.EPERM)
	err := startError("io_uring", fmt.Errorf("%w: %w", servers.ErrUnavailable, setup))
	assert.Equal(t, 2, ExitCode(err))
	assert.Equal(t, "serve: io_uring: servers: unavailable on this machine: uring: io_uring unavailable: io_uring_setup: operation not permitted", err.Error())
	assert.Equal(t, 2, ExitCode(startError("epoll", syscall.EADDRINUSE)), "the address's fault")
	assert.Equal(t, 1, ExitCode(startError("epoll", syscall.ENOMEM)))
}
