package cli

import (
	"encoding/json"
	"flag"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/internal/settings"
	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
)

// requireEverySet fails unless every setting of cfg differs from its zero
// value, so that a round trip of cfg covers every field, new ones included.
func requireEverySet(t *testing.T, cfg any) {
	t.Helper()
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Tag.Get("json") == "-" {
			continue
		}
		require.False(t, v.Field(i).IsZero(), "set %s in this test", f.Name)
	}
}

// TestServeConfigRoundTrip: the JSON the runner hands `archbench serve`
// comes back as the same Config, every field.
func TestServeConfigRoundTrip(t *testing.T) {
	want := servers.Config{Network: "tcp6", Addr: "[::1]:0", Framing: protocol.Length, MaxMsg: 4096,
		Work: protocol.Work{CPU: 50 * time.Microsecond, Sleep: time.Millisecond}, Workers: 8, Loops: 2, MaxConns: 100,
		OutCap: 1 << 20, IdleTimeout: 30 * time.Second}
	requireEverySet(t, want)
	b, err := json.Marshal(want)
	require.NoError(t, err)
	arch, got, _, err := serveFlags([]string{"--arch", "epoll", "--config", string(b)}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "epoll", arch.Name)
	assert.Equal(t, want, got)

	// Flags after --config override its fields; the rest stay.
	_, got, _, err = serveFlags([]string{"--arch", "epoll", "--config", string(b), "--loops", "3"}, io.Discard)
	require.NoError(t, err)
	want.Loops = 3
	assert.Equal(t, want, got)

	_, _, _, err = serveFlags([]string{"--arch", "epoll", "--config", `{"loop": 2}`}, io.Discard)
	require.Error(t, err)
	assert.Equal(t, 2, ExitCode(err))
	assert.Contains(t, err.Error(), `unknown field "loop"`)
}

// TestServeFlagsMatchConfig: every servers.Config setting is an
// `archbench serve` flag, with the names, defaults and meaning the flags
// had when they were written by hand.
func TestServeFlagsMatchConfig(t *testing.T) {
	_, cfg, _, err := serveFlags([]string{"--arch", "goroutine"}, io.Discard)
	require.NoError(t, err)
	want := servers.DefaultConfig()
	want.Addr, want.Logger = "", nil
	assert.Equal(t, want, cfg, "defaults")
	assert.Equal(t, servers.Config{Network: "tcp", Framing: protocol.Raw, MaxMsg: protocol.DefaultMaxMsg, Workers: 4, Loops: 1, OutCap: 4 << 20}, cfg)

	_, cfg, _, err = serveFlags([]string{"--arch", "goroutine", "--network", "tcp6", "--addr", "[::1]:0", "--framing", "length",
		"--max-msg", "4KiB", "--work-cpu", "50us", "--work-sleep", "1ms", "--workers", "8", "--loops", "2", "--max-conns", "100",
		"--out-cap", "1M", "--idle-timeout", "30s"}, io.Discard)
	require.NoError(t, err)
	full := servers.Config{Network: "tcp6", Addr: "[::1]:0", Framing: protocol.Length, MaxMsg: 4096,
		Work: protocol.Work{CPU: 50 * time.Microsecond, Sleep: time.Millisecond}, Workers: 8, Loops: 2, MaxConns: 100,
		OutCap: 1 << 20, IdleTimeout: 30 * time.Second}
	requireEverySet(t, full)
	assert.Equal(t, full, cfg)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	settings.BindFlags(fs, &servers.Config{})
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	assert.ElementsMatch(t, []string{"network", "addr", "framing", "max-msg", "work-cpu", "work-sleep", "workers", "loops",
		"max-conns", "out-cap", "idle-timeout"}, names)
}

// TestLoadFlagsMatchConfig: every loadgen.Config setting is an
// `archbench load` flag.
func TestLoadFlagsMatchConfig(t *testing.T) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	cfg := loadgen.Config{}
	settings.BindFlags(fs, &cfg)
	require.NoError(t, fs.Parse([]string{"--addr", "x:1", "--network", "unix", "--framing", "line", "--conns", "3", "--depth", "2",
		"--rate", "10.5", "--size", "4KiB", "--content", "utf8", "--warmup", "1s", "--duration", "2s", "--timeout", "3s",
		"--loops", "2", "--seed", "7", "--slow-conns", "4", "--slow-interval", "5ms", "--idle-conns", "6", "--churn"}))
	want := loadgen.Config{Addr: "x:1", Network: "unix", Framing: protocol.Line, Conns: 3, Depth: 2, Rate: 10.5, Size: 4096,
		Content: loadgen.UTF8, Warmup: time.Second, Duration: 2 * time.Second, Timeout: 3 * time.Second, Loops: 2, Seed: 7,
		SlowConns: 4, SlowInterval: 5 * time.Millisecond, IdleConns: 6, Churn: true}
	requireEverySet(t, want)
	assert.Equal(t, want, cfg)
}

func TestLoadDefaults(t *testing.T) {
	_, _, code := run("load", "--help")
	assert.Zero(t, code)
	_, e, _ := run("load", "-h")
	for _, f := range []string{"-addr value", `(default 127.0.0.1:7000)`, "-loops value", "-duration value", "(default 10s)", "-format string"} {
		assert.Contains(t, e, f)
	}
}
