package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"archbench/protocol"
	"archbench/scenarios"
	"archbench/servers"
	"archbench/servers/servertest"
)

// ExternalServer is an external server of a run: its suite entry with the
// command to run, or why it cannot run on this machine.
type ExternalServer struct {
	scenarios.External
	// Unavailable, if set, is why the server cannot run here (e.g. no C
	// compiler for a baseline); every sample of it says so and the run
	// goes on.
	Unavailable string
	// Framings are the framings it serves (nil = any); a scenario with
	// another is unavailable for it.
	Framings []protocol.Framing
}

// ErrNotConform: an external server failed the black-box conformance cases
// and is not timed.
var ErrNotConform = errors.New("runner: external server fails conformance, not timed")

// notConform is ErrNotConform with the failed cases.
type notConform struct {
	cases  []string
	detail string
}

func (e *notConform) Error() string { return ErrNotConform.Error() + ": " + e.detail }
func (e *notConform) Unwrap() error { return ErrNotConform }

// externalDialInterval is how often the runner tries to connect to an
// external server that has not printed its listening line.
const externalDialInterval = 20 * time.Millisecond

// expand replaces the placeholders of an external command.
func expand(command, host, port string, f protocol.Framing) string {
	return strings.NewReplacer(
		"{addr}", net.JoinHostPort(host, port),
		"{host}", host,
		"{port}", port,
		"{framing}", f.String(),
		"{network}", "tcp",
	).Replace(command)
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago: the
// kernel's pick for port 0, released for the external server to bind.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("runner: free port: %w", err)
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// startExternal runs an external server's command with sh -c, in a process
// group of its own (so that SIGTERM reaches every process of it), pinned
// to mask (if any), and waits until it prints "listening on ADDR" or a
// connect to the chosen address succeeds, within timeout.
func startExternal(ctx context.Context, x scenarios.External, f protocol.Framing, mask *cpuMask, timeout time.Duration) (*serverProc, error) {
	const host = "127.0.0.1"
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, port)
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	p := &serverProc{stderr: &tail{max: 4 << 10}, done: make(chan struct{}), stdoutDone: make(chan struct{}), group: true}
	p.cmd = exec.Command("/bin/sh", "-c", expand(x.Command, host, port, f))
	p.cmd.Stdout = pw
	p.cmd.Stderr = p.stderr
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = groupProcAttr()
	if err := p.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrServerStart, x.Name, err)
	}
	pw.Close()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	addrc := make(chan string, 1)
	go func() {
		defer close(p.stdoutDone)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), servers.ListeningPrefix); ok {
				select {
				case addrc <- strings.TrimSpace(a):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if mask != nil {
		if err := setAffinityMask(p.pid(), mask); err != nil {
			p.kill()
			return nil, err
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(externalDialInterval)
	defer tick.Stop()
	for p.addr == "" {
		select {
		case a := <-addrc:
			p.addr = a
		case <-tick.C:
			if c, err := net.DialTimeout("tcp", addr, externalDialInterval); err == nil {
				c.Close()
				p.addr = addr
			}
		case <-p.done:
			return nil, fmt.Errorf("%w: %s: %s before listening: %s", ErrServerStart, x.Name, exitText(p.err), p.stderr.String())
		case <-deadline.C:
			p.kill()
			return nil, fmt.Errorf("%w: %s: no %q line and no connect to %s within %v: %s",
				ErrServerStart, x.Name, servers.ListeningPrefix+"ADDR", addr, timeout, p.stderr.String())
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		}
	}
	if mask != nil {
		// Processes and threads it started since the first pass.
		for _, pid := range procTree(p.pid()) {
			if err := setAffinityMask(pid, mask); err != nil && !errors.Is(err, os.ErrNotExist) {
				p.kill()
				return nil, err
			}
		}
	}
	return p, nil
}

// conformExternal starts x, runs the black-box conformance cases against
// it (go test's -short set) and stops it. It returns an error wrapping
// ErrNotConform that names the failed cases, or the start's error.
func conformExternal(ctx context.Context, o Options, x ExternalServer, f protocol.Framing, mask *cpuMask) error {
	p, err := startExternal(ctx, x.External, f, mask, o.StartTimeout)
	if err != nil {
		return err
	}
	outs, cerr := servertest.Conform(ctx, servertest.Remote{
		Network: "tcp", Addr: p.addr, Framing: f, Sequential: x.Sequential, Short: true,
	}, nil)
	exit, detail := p.stop(o.StopGrace)
	if errors.Is(cerr, servertest.ErrConform) {
		var why, names []string
		for _, oc := range outs {
			if oc.Status == servertest.Fail {
				names = append(names, oc.Case)
				d, _, _ := strings.Cut(oc.Detail, "\n")
				if len(d) > 200 {
					d = d[:200] + "..."
				}
				why = append(why, oc.Case+": "+d)
			}
		}
		return &notConform{cases: names, detail: fmt.Sprintf("%s with %s framing failed %s", x.Name, f, strings.Join(why, "; "))}
	}
	if cerr != nil {
		return fmt.Errorf("runner: conformance of %s: %w", x.Name, cerr)
	}
	fmt.Fprintf(o.Progress, "archbench run: %s passes the %d black-box conformance cases with %s framing (server %s%s)\n",
		x.Name, len(outs), f, exit, strings.TrimPrefix(" "+detail, " "))
	return nil
}

// procTree is pid and every process descended from it, from /proc.
func procTree(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := procPPID(child); err == nil {
			children[ppid] = append(children[ppid], child)
		}
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// treeCPU is the CPU seconds of every live process of pid's tree.
func treeCPU(pid int) (float64, error) {
	var sum float64
	for i, q := range procTree(pid) {
		c, err := procCPU(q)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // exited between the listing and the read
		}
		sum += c
	}
	return sum, nil
}

// treePeakRSS is the sum of the peak resident set sizes of every live
// process of pid's tree (an upper bound of the tree's peak: the peaks need
// not coincide).
func treePeakRSS(pid int) (int64, error) {
	var sum int64
	for i, q := range procTree(pid) {
		r, err := procPeakRSS(q)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue
		}
		sum += r
	}
	return sum, nil
}
