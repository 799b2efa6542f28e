package cli

import (
	"encoding/json"
	"flag"
	"fmt"
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

// fillAll sets every setting of the struct cfg points to to a distinct
// non-zero value, so that a round trip of it covers every field, fields
// added later included.
func fillAll(t *testing.T, cfg any) {
	t.Helper()
	v := reflect.ValueOf(cfg).Elem()
	for i, f := range settings.Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		switch {
		case fv.Type() == reflect.TypeOf(protocol.Framing(0)):
			fv.Set(reflect.ValueOf(protocol.Framing(1 + i%2)))
		case fv.Type() == reflect.TypeOf(loadgen.Retry{}):
			fv.Set(reflect.ValueOf(loadgen.Retry{Initial: time.Duration(i+1) * time.Millisecond, Factor: 1.5, GiveUp: time.Second}))
		case fv.Type() == reflect.TypeOf(time.Duration(0)):
			fv.SetInt(int64(time.Duration(i+1) * time.Millisecond))
		case fv.Kind() == reflect.String:
			fv.SetString(f.Flag + "-value")
		case fv.CanInt():
			fv.SetInt(int64(i + 1))
		case fv.Kind() == reflect.Float64:
			fv.SetFloat(float64(i) + 0.5)
		case fv.Kind() == reflect.Bool:
			fv.SetBool(true)
		default:
			t.Fatalf("fillAll: no value for %s of type %s", f.Key, fv.Type())
		}
	}
}

// TestConfigsRoundTripEveryField: every setting of both configs survives
// the JSON the runner hands `archbench serve` (and results.json keeps), and
// the flags generated for it, given in the form they print their values.
func TestConfigsRoundTripEveryField(t *testing.T) {
	var srv servers.Config
	fillAll(t, &srv)
	b, err := json.Marshal(srv)
	require.NoError(t, err)
	var got servers.Config
	require.NoError(t, configFlag{&got}.Set(string(b)))
	assert.Equal(t, srv, got, "serve --config")

	var load loadgen.Config
	fillAll(t, &load)
	b, err = json.Marshal(load)
	require.NoError(t, err)
	var gotLoad loadgen.Config
	require.NoError(t, json.Unmarshal(b, &gotLoad))
	assert.Equal(t, load, gotLoad, "results.json")

	for _, want := range []any{&srv, &load} {
		v := reflect.ValueOf(want).Elem()
		var args []string
		for _, f := range settings.Fields(v.Type()) {
			args = append(args, "--"+f.Flag+"="+fmt.Sprint(v.FieldByIndex(f.Index).Interface()))
		}
		got := reflect.New(v.Type())
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		settings.BindFlags(fs, got.Interface())
		require.NoError(t, fs.Parse(args))
		assert.Equal(t, want, got.Interface(), "flags %v", args)
	}
}

// TestServeConfigRoundTrip: the JSON the runner hands `archbench serve`
// comes back as the same Config, every field.
func TestServeConfigRoundTrip(t *testing.T) {
	want := servers.Config{Network: "tcp6", Addr: "[::1]:0", Framing: protocol.Length, MaxMsg: 4096,
		Work: protocol.Work{CPU: 50 * time.Microsecond, Sleep: time.Millisecond}, Workers: 8, Loops: 2, MaxConns: 100,
		OutCap: 1 << 20, OutTotal: 64 << 20, IdleTimeout: 30 * time.Second}
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
	assert.Equal(t, servers.Config{Network: "tcp", Framing: protocol.Raw, MaxMsg: protocol.DefaultMaxMsg, Workers: 4, Loops: 1, OutCap: 4 << 20, OutTotal: 256 << 20}, cfg)

	_, cfg, _, err = serveFlags([]string{"--arch", "goroutine", "--network", "tcp6", "--addr", "[::1]:0", "--framing", "length",
		"--max-msg", "4KiB", "--work-cpu", "50us", "--work-sleep", "1ms", "--workers", "8", "--loops", "2", "--max-conns", "100",
		"--out-cap", "1M", "--out-total", "64MiB", "--idle-timeout", "30s"}, io.Discard)
	require.NoError(t, err)
	full := servers.Config{Network: "tcp6", Addr: "[::1]:0", Framing: protocol.Length, MaxMsg: 4096,
		Work: protocol.Work{CPU: 50 * time.Microsecond, Sleep: time.Millisecond}, Workers: 8, Loops: 2, MaxConns: 100,
		OutCap: 1 << 20, OutTotal: 64 << 20, IdleTimeout: 30 * time.Second}
	assert.Equal(t, full, cfg)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	settings.BindFlags(fs, &servers.Config{})
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	assert.Subset(t, names, []string{"network", "addr", "framing", "max-msg", "work-cpu", "work-sleep", "workers", "loops",
		"max-conns", "out-cap", "idle-timeout"}, "every flag written by hand before is still there (a new setting adds one)")
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
