package hostile_test

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"archbench/internal/hostile"
	"archbench/protocol"
	"archbench/servers"
	_ "archbench/servers/all"
)

var full = flag.Bool("hostile.full", false, "run the cases at full size (scripts/hostile.sh)")

// TestHostileClients runs every case against every architecture, each as
// its own `archbench serve` process built without the race detector, and
// stops each with SIGTERM: it must exit 0 within 5 s.
//
// Architectures that serve a bounded number of connections at once by
// design (sequential: one; workerpool: its 4 workers) cannot answer a
// normal client while the hostile ones hold every slot: for them the
// normal client is checked once the hostile connections are closed.
func TestHostileClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the archbench binary and runs a server per case; skipped with -short")
	}
	sz := hostile.Short
	if *full {
		sz = hostile.Full
	}
	bin := filepath.Join(t.TempDir(), "archbench")
	if out, err := exec.Command("go", "build", "-o", bin, "archbench/cmd/archbench").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, a := range servers.Archs() {
		t.Run(a.Name, func(t *testing.T) {
			if a.Protocol != "" {
				t.Skipf("%s speaks %s, not the byte protocol these clients abuse", a.Name, a.Protocol)
			}
			if !a.Serves("tcp") {
				t.Skipf("%s serves %v: the hostile clients are stream clients", a.Name, a.Nets())
			}
			bounded := a.Sequential || a.Name == "workerpool"
			run := func(f protocol.Framing, extra ...string) string {
				return serve(t, bin, a.Name, f, extra...)
			}
			t.Run("raw", func(t *testing.T) {
				addr := run(protocol.Raw)
				how, err := hostile.WriterNotReading(addr, protocol.Raw, sz.WriterBytes, !bounded)
				check(t, "writer that never reads", err)
				t.Logf("writer that never reads: the server %s", how)
				check(t, "connect then reset", hostile.ConnectReset(addr, sz.ResetConns, protocol.Raw))
				if d, ok := defect(a, "HalfCloseFlush"); ok {
					t.Logf("partial rune then half-close: skipped, a known defect of %s: %s", a.Name, d.Reason)
				} else {
					check(t, "partial rune then half-close", hostile.PartialRuneHalfClose(addr))
				}
			})
			t.Run("line", func(t *testing.T) {
				addr := run(protocol.Line)
				check(t, "slowloris", hostile.Slowloris(addr, sz.SlowConns, !bounded))
				check(t, "line without a newline", hostile.LongLine(addr, sz.LongLine))
			})
			t.Run("length", func(t *testing.T) {
				check(t, "4 GiB length header", hostile.HugeLength(run(protocol.Length)))
			})
			t.Run("out-total", func(t *testing.T) {
				var pid int
				addr := serveP(t, bin, a.Name, protocol.Raw, &pid, "--out-total", fmt.Sprint(sz.OutTotal))
				before, _, err := hostile.RSS(pid)
				if err != nil {
					t.Skipf("cannot read the server's memory: %v", err)
				}
				stalled, closed, err := hostile.OutTotal(addr, protocol.Raw, sz.OutWriters, sz.OutPerWriter, !bounded)
				check(t, "writers that never read", err)
				_, peak, err := hostile.RSS(pid)
				if err != nil {
					t.Fatal(err)
				}
				bound := before + 2*int64(sz.OutTotal) + hostile.OutTotalOverhead
				t.Logf("%d writers that never read (%d stalled, %d closed): peak RSS %.0f MiB, %.0f MiB before, bound %.0f MiB",
					sz.OutWriters, stalled, closed, mib(peak), mib(before), mib(bound))
				if peak > bound {
					t.Errorf("peak RSS %.0f MiB with --out-total %.0f MiB: over the bound of %.0f MiB (RSS before + 2×out-total + %.0f MiB)",
						mib(peak), mib(int64(sz.OutTotal)), mib(bound), mib(hostile.OutTotalOverhead))
				}
			})
		})
	}
}

// defect finds a's declared defect on the conformance case named c.
func defect(a servers.Arch, c string) (servers.Defect, bool) {
	for _, d := range a.Defects {
		if d.Case == c {
			return d, true
		}
	}
	return servers.Defect{}, false
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func serve(t *testing.T, bin, arch string, f protocol.Framing, extra ...string) string {
	var pid int
	return serveP(t, bin, arch, f, &pid, extra...)
}

// serveP starts `archbench serve` for arch and framing f on a free port
// and returns its address (and pid); when the test ends it sends SIGTERM
// and requires exit 0 within 5 s.
func serveP(t *testing.T, bin, arch string, f protocol.Framing, pid *int, extra ...string) string {
	t.Helper()
	args := append([]string{"serve", "--arch", arch, "--addr", "127.0.0.1:0", "--framing", f.String(), "--log-level", "error"}, extra...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	*pid = cmd.Process.Pid
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	exited := make(chan error, 1)
	var addr string
	select {
	case l, ok := <-lines:
		addr, _ = strings.CutPrefix(l, servers.ListeningPrefix)
		if !ok || addr == l {
			_ = cmd.Process.Kill()
			t.Fatalf("serve %s: no listening line: %q; stderr: %s", arch, l, stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve %s: not listening after 10 s", arch)
	}
	t.Cleanup(func() {
		go func() {
			for range lines {
			}
			exited <- cmd.Wait()
		}()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve %s after the hostile clients: SIGTERM: %v; stderr: %s", arch, err, stderr.String())
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("serve %s did not exit within 5 s of SIGTERM after the hostile clients", arch)
		}
	})
	return addr
}
