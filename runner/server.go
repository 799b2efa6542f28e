package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"archbench/results"
	"archbench/servers"
)

// Errors of a server process.
var (
	// ErrServerStart: the server did not come up (exited, or never printed
	// its "listening on" line in time).
	ErrServerStart = errors.New("runner: server did not start")
	// ErrServerDied: the server exited while it was being measured.
	ErrServerDied = errors.New("runner: server exited during the load")
)

// serveArgs is the `archbench serve` command line for arch and cfg: the
// whole Config as JSON (the form results.json records it in), on the
// address the runner owns and the scenario's network (tcp, udp or udp6;
// tcp when unset).
func serveArgs(arch string, cfg servers.Config) ([]string, error) {
	cfg.Addr = "127.0.0.1:0"
	switch cfg.Network {
	case "udp", "udp6":
		if cfg.Network == "udp6" {
			cfg.Addr = "[::1]:0"
		}
	default:
		cfg.Network = "tcp"
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("runner: server config: %w", err)
	}
	return []string{"serve", "--arch", arch, "--log-level", "warn", "--config", string(b)}, nil
}

// serverProc is one running `archbench serve` process.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *tail
	done   chan struct{} // closed once the process has exited and been reaped
	err    error         // cmd.Wait's result, valid after done

	stdoutDone chan struct{}  // closed once stdout has ended
	stats      *servers.Stats // the stats line it printed as it exited; valid after stdoutDone

	// group: the process leads a process group of its own (an external
	// server), signalled as a whole; a death by the runner's SIGTERM is
	// then a clean stop (the signal's default action).
	group bool
}

// startServer starts bin with args, pins it to mask (if any) and waits
// until it prints its listening line.
func startServer(ctx context.Context, bin string, args []string, mask *cpuMask, timeout time.Duration) (*serverProc, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	p := &serverProc{stderr: &tail{max: 4 << 10}, done: make(chan struct{}), stdoutDone: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = pw
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("%w: %w", ErrServerStart, err)
	}
	pw.Close()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()

	// Read stdout for the listening line, then for the stats line the
	// server prints as it exits, draining the rest so that the server never
	// blocks on a full pipe.
	addrc := make(chan string, 1)
	scanned := make(chan struct{}) // closed once the listening line is read or stdout ended
	go func() {
		defer close(p.stdoutDone)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		listening := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if a, ok := strings.CutPrefix(line, servers.ListeningPrefix); ok && !listening {
				listening = true
				addrc <- a
				close(scanned)
			} else if js, ok := strings.CutPrefix(line, servers.StatsPrefix); ok && listening {
				var st servers.Stats
				if json.Unmarshal([]byte(js), &st) == nil {
					p.stats = &st
				}
			}
		}
		if !listening {
			close(scanned)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()

	if mask != nil {
		if err := setAffinityMask(p.cmd.Process.Pid, mask); err != nil {
			p.kill()
			return nil, err
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case p.addr = <-addrc:
	case <-p.done:
		// It may have printed the line and then died: that is a crash
		// during the run, for the caller to see, not a failed start.
		select {
		case <-scanned:
		case <-timer.C:
		}
		select {
		case p.addr = <-addrc:
			return p, nil
		default:
		}
		return nil, fmt.Errorf("%w: %s before listening: %s", ErrServerStart, exitText(p.err), p.stderr.String())
	case <-timer.C:
		p.kill()
		return nil, fmt.Errorf("%w: no %q line within %v: %s", ErrServerStart, servers.ListeningPrefix+"ADDR", timeout, p.stderr.String())
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
	// Threads the runtime started since the first pass.
	if mask != nil {
		if err := setAffinityMask(p.cmd.Process.Pid, mask); err != nil {
			p.kill()
			return nil, err
		}
	}
	return p, nil
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has already exited.
func (p *serverProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends the process at once and reaps it.
func (p *serverProc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to grace for the process to exit: clean
// if it exits 0, crash if it exits otherwise (or had already died), hang
// if it does not exit, in which case it is killed.
func (p *serverProc) stop(grace time.Duration) (results.Exit, string) {
	if p.exited() {
		return results.ExitCrash, p.detail()
	}
	p.signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		if p.group {
			p.signal(syscall.SIGKILL) // what its command left behind (e.g. a shell's children)
		}
		if p.err == nil || (p.group && diedOf(p.err, syscall.SIGTERM)) {
			return results.ExitClean, ""
		}
		return results.ExitCrash, p.detail()
	case <-timer.C:
		p.kill()
		return results.ExitHang, fmt.Sprintf("no exit within %v of SIGTERM; killed: %s", grace, p.stderr.String())
	}
}

// exitStats is the stats line the process printed as it exited, or nil:
// after it has exited, its stdout ends (waited for up to a second, in case
// a child of it holds the pipe).
func (p *serverProc) exitStats() *servers.Stats {
	select {
	case <-p.stdoutDone:
		return p.stats
	case <-time.After(time.Second):
		return nil
	}
}

func (p *serverProc) detail() string {
	return exitText(p.err) + ": " + p.stderr.String()
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String is the kept output on one line, or "no stderr output".
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(strings.Fields(string(t.buf)), " ")
	if s == "" {
		return "no stderr output"
	}
	return s
}

// diedOf reports whether a process's Wait error says it was killed by sig.
func diedOf(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
