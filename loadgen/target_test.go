package loadgen_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/testnet"
	"archbench/loadgen"
	"archbench/protocol"
)

// A port nothing listens on: every connect is refused, counted as such, and
// the target names the host, the address and the cause.
func TestRefusedNamed(t *testing.T) {
	t.Parallel()
	addr := testnet.ClosedAddr(t)
	res := runOnTime(t, loadgen.Config{Addr: addr, Conns: 2, Duration: 200 * time.Millisecond})
	assert.Positive(t, res.Errors[loadgen.ErrRefused])
	require.NotNil(t, res.Target)
	assert.Equal(t, []string{addr}, res.Target.Addrs)
	assert.Empty(t, res.Target.Addr, "nothing connected")
	require.Len(t, res.Target.Failed, 1)
	assert.Equal(t, fmt.Sprintf("host 127.0.0.1, address %s: refused: connection refused", addr), res.Target.Failed[0])
}

// A server that resets its connections (SO_LINGER 0) after reading a
// request: reset, not read.
func TestResetCounted(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c net.Conn) {
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	res := runOnTime(t, loadgen.Config{Addr: s.Addr(), Conns: 2, Duration: 300 * time.Millisecond})
	assert.Positive(t, res.Errors[loadgen.ErrReset], "errors %v", res.Errors)
	assert.Zero(t, res.Errors[loadgen.ErrRead]+res.Errors[loadgen.ErrShortRead]+res.Errors[loadgen.ErrTimeout], "errors %v", res.Errors)
	require.NotNil(t, res.Target)
	assert.Equal(t, s.Addr(), res.Target.Addr)
	assert.Positive(t, res.Target.ConnectUS)
}

// The network namespace cases (not parallel: each starts a -race binary,
// which would slow the timing-bound tests beside it): each runs this test
// binary again inside a
// namespace the test creates (ip netns exec), which runs netnsCase and
// writes its Result as JSON to the file named by netnsOut.
const (
	netnsCase = "ARCHBENCH_NETNS_CASE"
	netnsOut  = "ARCHBENCH_NETNS_OUT"
)

// dualHost resolves, in the namespaces' own /etc/hosts, to ::1 then
// 127.0.0.1: localhost here lists only 127.0.0.1, and a test must not
// depend on the machine's resolver.
const dualHost = "archbench-dual"

func TestNetnsHelper(t *testing.T) {
	which := os.Getenv(netnsCase)
	if which == "" {
		t.Skip("runs only when the namespace tests re-execute the test binary inside a namespace")
	}
	echo := echoWith(protocol.Raw, nil)
	cfg := loadgen.Config{Conns: 2, Duration: 300 * time.Millisecond, Timeout: 150 * time.Millisecond}
	switch which {
	case "dual4", "dual4-churn":
		startServerOn(t, "tcp4", "127.0.0.1:7", echo)
		cfg.Addr, cfg.Churn = dualHost+":echo", which == "dual4-churn"
		cfg.Timeout = 0 // the default (2 s): no reply timeout on a loaded machine
	case "dual6":
		startServerOn(t, "tcp6", "[::1]:7", echo)
		cfg.Addr, cfg.Timeout = dualHost+":7", 0
	case "unreachable":
		cfg.Addr = "198.18.0.1:7"
	case "connect_timeout":
		cfg.Addr = "198.18.0.2:7"
	default:
		t.Fatalf("unknown case %q", which)
	}
	res, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	b, err := json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv(netnsOut), b, 0o644))
}

var netnsSeq atomic.Int32

// inNetns creates a network namespace with loopback up, runs the ip
// commands setup (each "ip -n NS" + its words), writes hosts as the
// namespace's /etc/hosts (ip netns exec mounts /etc/netns/NS/hosts over
// it) and runs the case there. It skips, with the reason, where namespaces
// cannot be made (no ip tool, no CAP_NET_ADMIN).
func inNetns(t *testing.T, which, hosts string, setup ...string) *loadgen.Result {
	t.Helper()
	ipTool, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command (iproute2): cannot make network namespaces")
	}
	ns := fmt.Sprintf("archbench-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command(ipTool, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace (needs CAP_NET_ADMIN): %s", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		_ = exec.Command(ipTool, "netns", "del", ns).Run()
		_ = os.RemoveAll(filepath.Join("/etc/netns", ns))
	})
	ip := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ipTool, append([]string{"-n", ns}, args...)...).CombinedOutput()
		require.NoError(t, err, "ip -n %s %s: %s", ns, strings.Join(args, " "), out)
	}
	ip("link", "set", "lo", "up")
	for _, s := range setup {
		ip(strings.Fields(s)...)
	}
	if hosts != "" {
		dir := filepath.Join("/etc/netns", ns)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644))
	}
	self, err := os.Executable()
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(ipTool, "netns", "exec", ns, self, "-test.run", "^TestNetnsHelper$", "-test.count", "1")
	cmd.Env = append(os.Environ(), netnsCase+"="+which, netnsOut+"="+out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "the case in the namespace: %s", b)
	b, err = os.ReadFile(out)
	require.NoError(t, err)
	var res loadgen.Result
	require.NoError(t, json.Unmarshal(b, &res))
	require.NotNil(t, res.Target)
	return &res
}

const dualHosts = "127.0.0.1 localhost\n::1 " + dualHost + "\n127.0.0.1 " + dualHost + "\n"

// A name with an IPv6 and an IPv4 address, the server on IPv4 only: each
// connection tries ::1 first, which refuses, then 127.0.0.1; the run
// counts no error (the dial as a whole worked) and records both.
func TestNetnsDualStackIPv4Only(t *testing.T) {
	for _, which := range []string{"dual4", "dual4-churn"} {
		res := inNetns(t, which, dualHosts)
		tg := res.Target
		assert.Equal(t, dualHost, tg.Host)
		assert.Equal(t, 7, tg.Port, "the echo service")
		assert.Equal(t, []string{"[::1]:7", "127.0.0.1:7"}, tg.Addrs)
		assert.Equal(t, "127.0.0.1:7", tg.Addr, which)
		assert.Equal(t, []string{"host " + dualHost + ", address [::1]:7: refused: connection refused"}, tg.Failed, which)
		assert.Positive(t, tg.ResolveUS)
		assert.Positive(t, tg.ConnectUS)
		noErrors(t, res)
	}
}

// The server on IPv6 only: the first address works.
func TestNetnsDualStackIPv6Only(t *testing.T) {
	res := inNetns(t, "dual6", dualHosts)
	assert.Equal(t, "[::1]:7", res.Target.Addr)
	assert.Empty(t, res.Target.Failed)
	noErrors(t, res)
}

// A namespace with no route to 198.18.0.1: unreachable.
func TestNetnsUnreachable(t *testing.T) {
	res := inNetns(t, "unreachable", "")
	assert.Positive(t, res.Errors[loadgen.ErrUnreachable], "errors %v", res.Errors)
	assert.Zero(t, res.Requests)
	require.Len(t, res.Target.Failed, 1)
	assert.Equal(t, "host 198.18.0.1, address 198.18.0.1:7: unreachable: network is unreachable", res.Target.Failed[0])
}

// A veth whose far end drops every frame (198.18.0.2's link address is one
// nobody has, so the other end discards them): the SYN is never answered,
// connect_timeout.
func TestNetnsConnectTimeout(t *testing.T) {
	res := inNetns(t, "connect_timeout", "",
		"link add abtA type veth peer name abtB",
		"addr add 198.18.0.1/24 dev abtA",
		"link set abtA up",
		"link set abtB up",
		"neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev abtA nud permanent")
	assert.Positive(t, res.Errors[loadgen.ErrConnectTimeout], "errors %v", res.Errors)
	assert.Zero(t, res.Errors[loadgen.ErrUnreachable])
	assert.Zero(t, res.Requests)
	require.Len(t, res.Target.Failed, 1)
	assert.Regexp(t, `^host 198\.18\.0\.2, address 198\.18\.0\.2:7: connect_timeout: no answer within 150ms$`, res.Target.Failed[0])
}

// The JSON schema in doc.go names every error kind and every key of
// Target.
func TestDocSchemaNamesKindsAndTarget(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, schema, ok := strings.Cut(string(b), "# JSON schema of Result")
	require.True(t, ok)
	for _, k := range loadgen.ErrorKinds() {
		assert.Contains(t, schema, k)
	}
	tt := reflect.TypeOf(loadgen.Target{})
	for i := range tt.NumField() {
		key, _, _ := strings.Cut(tt.Field(i).Tag.Get("json"), ",")
		assert.Contains(t, schema, "target."+key)
	}
}
