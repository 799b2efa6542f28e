package discover_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"archbench/internal/cli"
)

// childEnv, in a child process, holds the archbench command line (JSON) it
// runs: the test binary stands in for a built archbench.
const childEnv = "ARCHBENCH_DISCOVER_CHILD"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		if err := cli.Run(context.Background(), argv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "archbench:", err)
			os.Exit(cli.ExitCode(err))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// archbench returns the command running `archbench args...` in network
// namespace ns.
func archbench(ns string, args ...string) *exec.Cmd {
	argv, _ := json.Marshal(args)
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0])
	// A race-detector build sleeps 1 s at exit unless told otherwise.
	cmd.Env = append(os.Environ(), childEnv+"="+string(argv), "GORACE=atexit_sleep_ms=0")
	return cmd
}

const (
	segment   = "198.18.0"     // the test segment, 198.18.0.0/24 (RFC 2544's benchmarking range)
	broadcast = "198.18.0.255" // its broadcast address
	port      = "7000"         // inside fresh namespaces nothing else binds
	serving   = 3              // hosts running a server
)

// TestDiscoverNamespaces builds a segment of network namespaces joined by a
// bridge, runs `archbench serve --arch udp-loop` in three of them, and
// checks that `archbench discover` in another finds exactly those three,
// not the fifth host, which runs no server; then that a port nobody serves
// gets no answer and exit 1.
func TestDiscoverNamespaces(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip tool (iproute2) to create network namespaces")
	}
	if !hasNetAdmin() {
		t.Skip("needs CAP_NET_ADMIN to create network namespaces")
	}
	var id [3]byte
	_, _ = rand.Read(id[:])
	tag := "ab" + hex.EncodeToString(id[:]) // interface names stay under 15 bytes

	// Hosts 1..3 serve, 4 does not; the client's namespace holds the
	// bridge that joins them, with 198.18.0.254 on it.
	hosts := make([]string, serving+1)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("%s-h%d", tag, i+1)
	}
	client := tag + "-c"
	addNamespaces(t, append([]string{client}, hosts...))
	ip(t, "-n", client, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", client, "addr", "add", segment+".254/24", "brd", "+", "dev", "br0")
	ip(t, "-n", client, "link", "set", "br0", "up")
	for i, ns := range hosts {
		port := fmt.Sprintf("%sp%d", tag, i+1)
		ip(t, "-n", client, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip(t, "-n", client, "link", "set", port, "master", "br0", "up")
		ip(t, "-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", segment, i+1), "brd", "+", "dev", "eth0")
		ip(t, "-n", ns, "link", "set", "eth0", "up")
	}

	var want []string
	var stops []func()
	for i, ns := range hosts[:serving] {
		stops = append(stops, startServe(t, ns))
		want = append(want, fmt.Sprintf("%s.%d:%s", segment, i+1, port))
	}
	for _, wait := range stops {
		wait()
	}

	var stdout, stderr bytes.Buffer
	cmd := archbench(client, "discover", "--broadcast", broadcast+":"+port, "--timeout", "1s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("discover: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "rtt" {
			t.Fatalf("discover printed %q, want ADDR rtt D", line)
		}
		if _, err := time.ParseDuration(f[2]); err != nil {
			t.Fatalf("discover printed %q: rtt: %v", line, err)
		}
		got = append(got, f[0])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("discover found %v, want exactly %v\nstderr: %s", got, want, &stderr)
	}

	// Nobody serves port 7001: no answer, exit 1.
	stdout.Reset()
	stderr.Reset()
	cmd = archbench(client, "discover", "--broadcast", broadcast+":7001", "--timeout", "300ms")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := exitCode(err); code != 1 || stdout.Len() > 0 || !strings.Contains(stderr.String(), "no server answered") {
		t.Fatalf("discover to an unserved port: exit %d, stdout %q, stderr %q; want exit 1 and 'no server answered'", code, &stdout, &stderr)
	}
}

// addNamespaces creates the namespaces at once and deletes them in
// t.Cleanup, also at once (each takes a quarter of a second).
func addNamespaces(t *testing.T, names []string) {
	t.Helper()
	errs := make(chan error, len(names))
	for _, ns := range names {
		go func() {
			out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("ip netns add %s: %v: %s", ns, err, out)
			}
			errs <- err
		}()
	}
	var failed []error
	for range names {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	t.Cleanup(func() {
		done := make(chan struct{}, len(names))
		for _, ns := range names {
			go func() { ipQuiet("netns", "del", ns); done <- struct{}{} }()
		}
		for range names {
			<-done
		}
	})
	if len(failed) > 0 {
		t.Fatal(failed)
	}
}

// startServe starts `archbench serve --arch udp-loop` on 0.0.0.0:7000 in ns
// and returns the wait for its listening line; t.Cleanup stops it with
// SIGTERM, expecting exit 0.
func startServe(t *testing.T, ns string) (wait func()) {
	t.Helper()
	cmd := archbench(ns, "serve", "--arch", "udp-loop", "--network", "udp", "--addr", "0.0.0.0:"+port, "--log-level", "warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve in %s after SIGTERM: %v\n%s", ns, err, &stderr)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("serve in %s did not exit within 10 s of SIGTERM", ns)
			<-exited
		}
	})
	return func() {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok || !strings.HasPrefix(line, "listening on ") {
				t.Fatalf("serve in %s: first line %q, want 'listening on ...'\n%s", ns, line, &stderr)
			}
			go func() {
				for range lines {
				}
			}()
		case <-time.After(10 * time.Second):
			t.Fatalf("serve in %s printed nothing in 10 s\n%s", ns, &stderr)
		}
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func ipQuiet(args ...string) { _ = exec.Command("ip", args...).Run() }

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// hasNetAdmin reports whether this process has CAP_NET_ADMIN (bit 12 of
// CapEff in /proc/self/status).
func hasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<12) != 0
		}
	}
	return false
}
