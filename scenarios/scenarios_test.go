package scenarios

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/servers"
	_ "archbench/servers/all" // quickArchs counts the registry
)

// allArchs are the registered architectures, which the suites are validated against.
var allArchs = servers.Names()

var testEnv = Env{Archs: allArchs, MaxFDs: 20000}

func TestEmbeddedSuitesValidate(t *testing.T) {
	names := Names()
	require.Equal(t, []string{"full", "quick", "stack", "tradeoffs"}, names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := Embedded(name)
			require.NoError(t, err)
			assert.Equal(t, name, s.Name)
			assert.NotEmpty(t, s.Description)
			require.NoError(t, s.Validate(testEnv))
			for _, sc := range s.Scenarios {
				assert.Positive(t, sc.Line(), "scenario %s has no line", sc.Name)
				assert.Positive(t, sc.Load.WithDefaults().Duration)
			}
		})
	}
}

// runOverhead is the wall time of one server run beyond warmup+duration:
// process start, connection setup, SIGTERM and exit (measured ~30 ms per
// run over the quick suite on a loaded 2-core machine; 100 ms for margin).
const runOverhead = 100 * time.Millisecond

// quickArchs is how many architectures `make bench` runs: every registered
// one (servers/all).
var quickArchs = len(servers.Names())

func TestQuickCoversAndFitsBudget(t *testing.T) {
	s, err := Embedded("quick")
	require.NoError(t, err)
	var total time.Duration
	has := map[string]bool{}
	for _, sc := range s.Scenarios {
		l := sc.Load.WithDefaults()
		total += time.Duration(quickArchs*3) * (l.Warmup + l.Duration + runOverhead)
		switch {
		case l.Conns == 1 && l.Depth == 1 && l.Rate == 0:
			has["single-connection latency"] = true
		case l.Conns == 64 && l.Depth == 1 && l.Rate == 0:
			has["64 connections"] = true
		case l.Conns == 64 && l.Depth == 16:
			has["64 x depth 16"] = true
		case l.Conns == 1000 && l.Rate > 0:
			has["1000 connections open loop"] = true
		}
		if l.Size == 16<<10 {
			has["16 KiB"] = true
		}
	}
	assert.Len(t, has, 5, "quick covers %v", has)
	assert.LessOrEqual(t, total, 4*time.Minute+30*time.Second, "quick suite estimate %v with %d archs x 3 reps; the budget is 5 minutes", total, quickArchs)
	assert.Positive(t, s.Budget, "quick has a default budget")
	assert.LessOrEqual(t, total, s.Budget, "the minimum of 3 repetitions fits quick's budget")
	assert.LessOrEqual(t, s.Budget, 4*time.Minute+30*time.Second, "with one repetition's overshoot and the report, under 5 minutes")
	t.Logf("quick suite estimate: %v", total)
}

func TestFullSweeps(t *testing.T) {
	s, err := Embedded("full")
	require.NoError(t, err)
	var conns, sizes []int
	rates := 0
	for _, sc := range s.Scenarios {
		l := sc.Load.WithDefaults()
		if l.Rate > 0 {
			rates++
			continue
		}
		conns = append(conns, l.Conns)
		sizes = append(sizes, l.Size)
	}
	for _, c := range []int{1, 10, 100, 1000, 10000} {
		assert.Contains(t, conns, c)
	}
	for _, sz := range []int{16, 256, 4 << 10, 16 << 10, 64 << 10} {
		assert.Contains(t, sizes, sz)
	}
	assert.GreaterOrEqual(t, rates, 3)
}

func TestParseDefaultsAndConversion(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`
defaults:
  load: {warmup: 100ms, duration: 2s, timeout: 1s, conns: 4}
  server: {workers: 8}
scenarios:
  - name: a
    description: uses the defaults
  - name: b
    description: overrides them
    server: {framing: line, max_msg: 64KiB, work: {cpu: 10us, sleep: 1ms}, workers: 2, loops: 2, max_conns: 100, out_cap: 1MiB, idle_timeout: 30s}
    load: {conns: 10, depth: 4, size: 1KiB, content: utf8, duration: 1.5s}
`))
	require.NoError(t, err)
	require.NoError(t, s.Validate(testEnv))
	assert.Equal(t, "t", s.Name)
	a, b := s.Scenarios[0], s.Scenarios[1]
	assert.Equal(t, 4, a.Load.WithDefaults().Conns)
	assert.Equal(t, 2*time.Second, a.Load.WithDefaults().Duration)
	assert.Equal(t, 100*time.Millisecond, a.Load.WithDefaults().Warmup)
	assert.Equal(t, 8, a.Server.Workers)
	assert.Equal(t, 6, a.Line())

	srv := b.Server
	assert.Equal(t, protocol.Line, srv.Framing)
	assert.Equal(t, 64<<10, srv.MaxMsg)
	assert.Equal(t, protocol.Work{CPU: 10 * time.Microsecond, Sleep: time.Millisecond}, srv.Work)
	assert.Equal(t, 2, srv.Workers)
	assert.Equal(t, 2, srv.Loops)
	assert.Equal(t, 100, srv.MaxConns)
	assert.Equal(t, 1<<20, srv.OutCap)
	assert.Equal(t, 30*time.Second, srv.IdleTimeout)
	l := b.Load.WithDefaults()
	assert.Equal(t, loadgen.Config{Network: "tcp", Framing: protocol.Line, Conns: 10, Depth: 4, Size: 1024,
		Content: loadgen.UTF8, Warmup: 100 * time.Millisecond, Duration: 1500 * time.Millisecond,
		Timeout: time.Second, Seed: 1}, l)
	assert.True(t, a.AppliesTo("epoll"))
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{
			name: "unknown load key",
			yaml: "scenarios:\n  - name: a\n    description: d\n    load:\n      conn: 4\n",
			want: []string{"bad.yaml: line 5", `unknown key "conn" in load`, "conns"},
		},
		{
			name: "zero budget",
			yaml: "budget: 0s\nscenarios: []\n",
			want: []string{"bad.yaml", "budget 0s: want a positive duration"},
		},
		{
			name: "negative budget",
			yaml: "budget: -1m\nscenarios: []\n",
			want: []string{"budget -1m0s: want a positive duration"},
		},
		{
			name: "budget not a duration",
			yaml: "budget: soon\nscenarios: []\n",
			want: []string{"bad.yaml", "line 1"},
		},
		{
			name: "unknown top key",
			yaml: "suite: x\nscenario: []\n",
			want: []string{"line 2", `unknown key "scenario" in the suite`},
		},
		{
			name: "unknown scenario key",
			yaml: "scenarios:\n  - name: a\n    descr: d\n",
			want: []string{"line 3", `unknown key "descr" in a scenario`},
		},
		{
			name: "unknown work key",
			yaml: "scenarios:\n  - name: a\n    server: {work: {spin: 1ms}}\n",
			want: []string{"line 3", `unknown key "spin" in server.work`},
		},
		{
			name: "bare number duration",
			yaml: "scenarios:\n  - name: a\n    load:\n      duration: 1.5\n",
			want: []string{"bad.yaml: line 4", `bad duration "1.5"`},
		},
		{
			name: "garbage duration",
			yaml: "defaults:\n  load: {warmup: soon}\nscenarios: []\n",
			want: []string{"line 2", `bad duration "soon"`},
		},
		{
			name: "bad size",
			yaml: "scenarios:\n  - name: a\n    load: {size: 16 kilobytes}\n",
			want: []string{"line 3", `bad size "16 kilobytes"`},
		},
		{
			name: "bad framing",
			yaml: "scenarios:\n  - name: a\n    server: {framing: json}\n",
			want: []string{"line 3", `bad framing "json"`},
		},
		{
			name: "wrong type",
			yaml: "scenarios:\n  - name: a\n    load: {conns: many}\n",
			want: []string{"line 3", "cannot unmarshal", "many"},
		},
		{
			// The load always follows the server's framing: a scenario
			// cannot make them differ.
			name: "framing mismatch",
			yaml: "scenarios:\n  - name: a\n    server: {framing: line}\n    load:\n      framing: length\n",
			want: []string{"bad.yaml: line 5", "load.framing cannot be set in a scenario", "set server.framing"},
		},
		{
			name: "framing mismatch with the default raw server",
			yaml: "defaults:\n  load: {framing: line}\nscenarios: []\n",
			want: []string{"bad.yaml: line 2", "load.framing cannot be set"},
		},
		{
			name: "runner-owned server address",
			yaml: "scenarios:\n  - name: a\n    server: {addr: \"127.0.0.1:9000\", network: tcp6}\n",
			want: []string{"line 3: server.addr cannot be set in a scenario: the runner picks 127.0.0.1:0", "server.network cannot be set"},
		},
		{
			name: "runner-owned load address",
			yaml: "scenarios:\n  - name: a\n    load: {addr: x, network: unix}\n",
			want: []string{"line 3: load.addr cannot be set", "load.network cannot be set"},
		},
		{
			name: "unknown server key lists the keys a scenario may set",
			yaml: "scenarios:\n  - name: a\n    server: {loop: 2}\n",
			want: []string{"line 3", `unknown key "loop" in server (known keys: ` + scenarioServerKeys() + ")"},
		},
		{
			name: "unknown defaults key",
			yaml: "defaults:\n  lod: {}\nscenarios: []\n",
			want: []string{"line 2", `unknown key "lod" in defaults (known keys: server, load)`},
		},
		{
			name: "size wrong type",
			yaml: "scenarios:\n  - name: a\n    server: {out_cap: [1]}\n",
			want: []string{"line 3", "server.out_cap: want a single value, not a list"},
		},
		{
			name: "negative duration",
			yaml: "scenarios:\n  - name: a\n    server: {idle_timeout: -1s}\n",
			want: []string{"line 3", `duration "-1s" must not be negative`},
		},
		{
			name: "work is a mapping",
			yaml: "scenarios:\n  - name: a\n    server: {work: 1ms}\n",
			want: []string{"line 3", "server.work: want a mapping"},
		},
		{
			name: "every error at once",
			yaml: "defaults:\n  load: {conns: x}\nscenarios:\n  - name: a\n    load: {size: big}\n",
			want: []string{"bad.yaml: line 2", "bad.yaml: line 5", `bad size "big"`},
		},
		{
			name: "not yaml",
			yaml: "scenarios: [\n",
			want: []string{"bad.yaml"},
		},
		{
			name: "empty",
			yaml: "",
			want: []string{"bad.yaml: empty file"},
		},
		{
			name: "two documents",
			yaml: "scenarios: []\n---\nscenarios: []\n",
			want: []string{"more than one YAML document"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrSyntax)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	const head = "defaults: {load: {duration: 1s}}\nscenarios:\n  - name: s1\n    description: d\n"
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "conns above the fd limit",
			yaml: head + "    load: {conns: 30000}\n",
			want: []string{"bad.yaml:3", `scenario "s1"`, "conns 30000", "RLIMIT_NOFILE hard limit 20000"},
		},
		{
			name: "conns just above the fd limit with the reserve",
			yaml: head + "    load: {conns: 19990}\n",
			want: []string{"RLIMIT_NOFILE"},
		},
		{
			name: "idle and slow connections count against the fd limit",
			yaml: head + "    load: {conns: 16, slow_conns: 8, idle_conns: 19920}\n",
			want: []string{"conns 16 + slow_conns 8 + idle_conns 19920", "needs 20008 file descriptors", "RLIMIT_NOFILE"},
		},
		{
			name: "rate sweep bounds",
			yaml: head + "    rate_sweep: {from: 1.2, to: 0.1, steps: 1}\n",
			want: []string{"rate_sweep: from 1.2 to 0.1", "rate_sweep: steps 1"},
		},
		{
			name: "rate sweep with a rate",
			yaml: head + "    rate_sweep: {from: 0.1, to: 1, steps: 3}\n    load: {rate: 1000}\n",
			want: []string{"rate_sweep sets the rate itself"},
		},
		{
			name: "churn with depth",
			yaml: head + "    load: {churn: true, depth: 4}\n",
			want: []string{"churn is a closed loop"},
		},
		{
			name: "negative idle conns",
			yaml: head + "    load: {idle_conns: -1}\n",
			want: []string{"idle_conns must not be negative"},
		},
		{
			name: "unknown arch",
			yaml: head + "    archs: [epoll, kqueue]\n",
			want: []string{`unknown architecture "kqueue"`, "known: sequential"},
		},
		{
			name: "work on raw framing",
			yaml: head + "    server: {work: {cpu: 1ms}}\n",
			want: []string{"server:", "framed protocol"},
		},
		{
			name: "message above max_msg",
			yaml: head + "    server: {framing: length, max_msg: 4KiB}\n    load: {size: 16KiB}\n",
			want: []string{"size 16384 exceeds the server's max_msg 4096"},
		},
		{
			name: "depth with a rate",
			yaml: head + "    load: {rate: 1000, depth: 4}\n",
			want: []string{"load:", "depth applies to the closed loop only"},
		},
		{
			name: "bad content",
			yaml: head + "    load: {content: latin1}\n",
			want: []string{"load:", `content "latin1"`},
		},
		{
			name: "negative conns",
			yaml: head + "    load: {conns: -1}\n",
			want: []string{"must not be negative"},
		},
		{
			name: "missing duration",
			yaml: "scenarios:\n  - name: s1\n    description: d\n",
			want: []string{"missing duration"},
		},
		{
			name: "missing description",
			yaml: "defaults: {load: {duration: 1s}}\nscenarios:\n  - name: s1\n",
			want: []string{"missing description"},
		},
		{
			name: "bad and duplicate names",
			yaml: head + "  - name: s1\n    description: d\n  - name: a/b\n    description: d\n",
			want: []string{"duplicate name", `name "a/b"`},
		},
		{
			name: "no scenarios",
			yaml: "suite: empty\nscenarios: []\n",
			want: []string{"no scenarios"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("bad.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			err = s.Validate(testEnv)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalid)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestValidateSkipsFDCheckWithoutLimit(t *testing.T) {
	s, err := Parse("x.yaml", []byte("scenarios:\n  - name: a\n    description: d\n    load: {conns: 30000, duration: 1s}\n"))
	require.NoError(t, err)
	require.NoError(t, s.Validate(Env{Archs: allArchs}))
}

func TestOpen(t *testing.T) {
	s, err := Open("quick")
	require.NoError(t, err)
	assert.Equal(t, "quick.yaml", s.File)

	path := filepath.Join(t.TempDir(), "mine.yml")
	require.NoError(t, os.WriteFile(path, []byte("scenarios:\n  - name: a\n    description: d\n    load: {duration: 1s}\n"), 0o644))
	s, err = Open(path)
	require.NoError(t, err)
	assert.Equal(t, "mine", s.Name)
	assert.Equal(t, path, s.File)
	require.NoError(t, s.Validate(testEnv))

	_, err = Open(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, ErrUnknownSuite)
	assert.Contains(t, err.Error(), "quick")
	_, err = Embedded("nope")
	require.ErrorIs(t, err, ErrUnknownSuite)
}

func TestSuiteNamesAreSorted(t *testing.T) {
	assert.True(t, slices.IsSorted(Names()))
}

func TestTradeoffs(t *testing.T) {
	s, err := Embedded("tradeoffs")
	require.NoError(t, err)
	require.NoError(t, s.Validate(testEnv))
	byName := map[string]Scenario{}
	for _, sc := range s.Scenarios {
		byName[sc.Name] = sc
	}
	for _, name := range []string{"slow-clients", "churn", "cpu-100us-loops1", "cpu-100us-loops2", "blocking-10ms",
		"idle-0", "idle-1k", "idle-5k", "idle-15k", "bulk-1m", "rate-sweep"} {
		require.Contains(t, byName, name)
	}
	l := byName["slow-clients"].Load.WithDefaults()
	assert.Equal(t, 8, l.SlowConns)
	assert.Equal(t, time.Second, l.SlowInterval)
	assert.True(t, byName["churn"].Load.WithDefaults().Churn)
	assert.Equal(t, 15000, byName["idle-15k"].Load.WithDefaults().IdleConns)
	assert.Equal(t, 1<<20, byName["bulk-1m"].Load.WithDefaults().Size)
	assert.Equal(t, 100*time.Microsecond, byName["cpu-100us-loops1"].Server.Work.CPU)
	assert.Equal(t, 2, byName["cpu-100us-loops2"].Server.Loops)
	rs := byName["rate-sweep"].RateSweep
	require.NotNil(t, rs)
	assert.InDeltaSlice(t, []float64{0.1, 0.32, 0.54, 0.76, 0.98, 1.2}, rs.Fractions(), 1e-9)
	assert.Nil(t, byName["churn"].RateSweep)

	// 15,000 idle connections fit under 20,000 but not under 15,000.
	err = s.Validate(Env{Archs: allArchs, MaxFDs: 15000})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `scenario "idle-15k"`)
}

func TestRateSweepUnknownKey(t *testing.T) {
	_, err := Parse("x.yaml", []byte("scenarios:\n  - name: a\n    description: d\n    rate_sweep: {from: 0.1, to: 1, stepz: 3}\n"))
	require.ErrorIs(t, err, ErrSyntax)
	assert.Contains(t, err.Error(), `unknown key "stepz" in rate_sweep`)
}

func TestParseMergesOverDefaults(t *testing.T) {
	s, err := Parse("m.yaml", []byte(`
defaults:
  server: {framing: line, work: {cpu: 10us}, out_cap: 1M}
  load: {duration: 1s, size: 2KB}
scenarios:
  - name: a
    description: inherits everything
  - name: b
    description: overrides one field of a nested default and one size
    server: {work: {sleep: 1ms}, max_msg: 16KiB}
    load: {size: 512B, slow_conns: 2, slow_interval: 250ms, churn: false}
`))
	require.NoError(t, err)
	require.NoError(t, s.Validate(testEnv))
	a, b := s.Scenarios[0], s.Scenarios[1]
	assert.Equal(t, servers.Config{Network: "tcp", Framing: protocol.Line, Work: protocol.Work{CPU: 10 * time.Microsecond}, OutCap: 1 << 20}, a.Server)
	assert.Equal(t, loadgen.Config{Network: "tcp", Framing: protocol.Line, Duration: time.Second, Size: 2000}, a.Load)
	assert.Equal(t, servers.Config{Network: "tcp", Framing: protocol.Line, Work: protocol.Work{CPU: 10 * time.Microsecond, Sleep: time.Millisecond},
		MaxMsg: 16 << 10, OutCap: 1 << 20}, b.Server)
	assert.Equal(t, loadgen.Config{Network: "tcp", Framing: protocol.Line, Duration: time.Second, Size: 512, SlowConns: 2,
		SlowInterval: 250 * time.Millisecond}, b.Load)
	assert.Equal(t, servers.Config{Framing: protocol.Line, Work: protocol.Work{CPU: 10 * time.Microsecond}, OutCap: 1 << 20}, s.Defaults.Server,
		"the defaults as written; the runner's settings are the scenarios'")
}

// scenarioServerKeys lists, from the schema, the server keys a scenario may
// set: every servers.Config setting but the runner's network and addr
// ("framing, max_msg, work, workers, loops, max_conns, out_cap,
// idle_timeout" today), so a new setting needs no edit here.
func scenarioServerKeys() string {
	var keys []string
	t := reflect.TypeOf(servers.Config{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && name != "network" && name != "addr" {
			keys = append(keys, name)
		}
	}
	return strings.Join(keys, ", ")
}

// A suite file over MaxFileSize is refused before it is parsed.
func TestOpenRefusesLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	big := append([]byte("suite: big\n# "), bytes.Repeat([]byte("x"), MaxFileSize)...)
	require.NoError(t, os.WriteFile(path, big, 0o644))
	_, err := Open(path)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "over 1024 KiB")
}
