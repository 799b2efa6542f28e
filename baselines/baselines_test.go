package baselines_test

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"archbench/baselines"
	"archbench/servers/servertest"
)

// TestBaselinesConform builds and starts every baseline on 127.0.0.1:0 and
// runs the black-box conformance cases (go test -short's set) against it:
// each must pass all of them, then exit 0 on SIGTERM. To stay cheap,
// py-sequential skips the two bulk cases (Stream1MiB and the 6 MiB
// HalfCloseFlush; seconds each in Python), which c-epoll and py-poll, the
// designs with their own backpressure, run; py-threads and py-pool, whose
// connection handler is py-sequential's, run the cases their concurrency
// changes. The runner runs every case on every external server before
// timing it.
func TestBaselinesConform(t *testing.T) {
	cache := t.TempDir()
	for _, b := range baselines.All() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			command, err := b.Command(cache)
			if errors.Is(err, baselines.ErrUnavailable) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			command = strings.NewReplacer("{host}", "127.0.0.1", "{port}", "0").Replace(command)
			cmd := exec.Command("/bin/sh", "-c", command)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				sc.Scan()
				line <- sc.Text()
				for sc.Scan() {
				}
			}()
			var addr string
			select {
			case l := <-line:
				var ok bool
				if addr, ok = strings.CutPrefix(l, "listening on "); !ok {
					t.Fatalf("first line %q, want %q; stderr: %s", l, "listening on ADDR", stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no listening line within 20s; stderr: %s", stderr.String())
			}
			r := servertest.Remote{Addr: addr, Framing: b.Framings[0], Sequential: b.Sequential, Short: true}
			switch b.Name {
			case "py-sequential":
				r.Match = func(name string) bool { return name != "Stream1MiB" && name != "HalfCloseFlush" }
			case "py-threads", "py-pool":
				// Their connection handler is py-sequential's (serve_blocking):
				// only what their concurrency changes.
				r.Match = regexp.MustCompile(`^(ASCII|Pipelined10k|Concurrent64|ResetMidReply)$`).MatchString
			}
			outs, err := servertest.Conform(context.Background(), r, nil)
			for _, o := range outs {
				t.Logf("%s %s %v: %s", o.Status, o.Case, o.Elapsed, o.Detail)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v, want status 0; stderr: %s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Errorf("no exit within 10s of SIGTERM")
			}
		})
	}
}
