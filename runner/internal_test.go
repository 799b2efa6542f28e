package runner

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/protocol"
	"archbench/scenarios"
	"archbench/servers"
)

func TestCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-1": {0, 1}, "0,2-3": {0, 2, 3}, "3,1,1-2": {1, 2, 3}, " 1 , 0 ": {0, 1}} {
		got, err := ParseCPUList(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "a", "1-", "-1", "2-1", "0,,1", "5000", "0-5000"} {
		_, err := ParseCPUList(in)
		assert.Error(t, err, in)
	}
	assert.Equal(t, "unpinned", FormatCPUList(nil))
	assert.Equal(t, "0-3,6,8-9", FormatCPUList([]int{9, 0, 1, 2, 3, 6, 8, 3}))
	assert.NoError(t, CheckCPUs([]int{0}))
	assert.Error(t, CheckCPUs([]int{maxCPUs - 1}))
}

func TestServeArgs(t *testing.T) {
	cfg := servers.Config{Framing: protocol.Line, MaxMsg: 4096, Work: protocol.Work{CPU: 50 * time.Microsecond, Sleep: time.Millisecond},
		Workers: 8, Loops: 2, MaxConns: 100, OutCap: 1 << 20, IdleTimeout: 30 * time.Second}
	args, err := serveArgs("workerpool", cfg)
	require.NoError(t, err)
	require.Len(t, args, 7)
	assert.Equal(t, []string{"serve", "--arch", "workerpool", "--log-level", "warn", "--config"}, args[:6])
	var got servers.Config
	require.NoError(t, json.Unmarshal([]byte(args[6]), &got))
	cfg.Network, cfg.Addr = "tcp", "127.0.0.1:0" // the runner's
	assert.Equal(t, cfg, got)
	// `archbench serve --config` decodes every field back (internal/cli's
	// TestServeConfigRoundTrip).
}

func TestTail(t *testing.T) {
	tl := &tail{max: 8}
	assert.Equal(t, "no stderr output", tl.String())
	fmt.Fprint(tl, "hello\n")
	fmt.Fprint(tl, "world\n")
	assert.Equal(t, "o world", tl.String())
}

func TestEstimator(t *testing.T) {
	e := &estimator{overhead: 250 * time.Millisecond}
	sc := testScenario(t)
	jobs := []job{{sc: sc}, {sc: sc}}
	assert.Equal(t, 2*(1750*time.Millisecond), e.left(jobs))
	e.add(jobs[0], 1.6) // 1.5 s planned + 0.1 s overhead
	assert.Equal(t, 2*(1600*time.Millisecond), e.left(jobs))
	e.add(jobs[0], 1.4) // faster than planned: no negative overhead
	assert.Equal(t, 2*(1500*time.Millisecond), e.left(jobs))
}

func TestEnvironment(t *testing.T) {
	env := Environment(nil, []int{0})
	assert.Equal(t, "unpinned", env.ServerCPUs)
	assert.Equal(t, "0", env.ClientCPUs)
	assert.Contains(t, env.Kernel, "Linux")
	assert.NotEqual(t, "unknown", env.CPUModel)
	assert.Positive(t, env.Cores)
	assert.Positive(t, env.GOMAXPROCS)
	assert.NotEmpty(t, env.GitCommit)
	assert.NotEmpty(t, env.GoVersion)
	// Test binaries carry no dependency list; TestBuiltBinaryEndToEnd
	// checks it on the real binary.
}

func testScenario(t *testing.T) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("t.yaml", []byte("scenarios: [{name: a, description: d, load: {warmup: 250ms, duration: 1250ms}}]"))
	require.NoError(t, err)
	return &s.Scenarios[0]
}

// TestPlanSeed: the first phase's order is a function of the seed; every
// repetition holds every architecture once.
func TestPlanSeed(t *testing.T) {
	s, err := scenarios.Parse("t.yaml", []byte("scenarios: [{name: a, description: d, load: {duration: 1s}}, {name: b, description: d, load: {duration: 1s}}]"))
	require.NoError(t, err)
	archs := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}
	order := func(seed uint64) []string {
		var o []string
		for _, rep := range plan(Options{Suite: s, Archs: archs, Reps: 3}, rand.New(rand.NewPCG(seed, 0))) {
			require.Len(t, rep, 1)
			o = append(o, fmt.Sprintf("%s/%s/%d", rep[0].name, rep[0].arch, rep[0].rep))
		}
		return o
	}
	archOrder := func(rep []string) []string {
		var a []string
		for _, o := range rep {
			a = append(a, strings.Split(o, "/")[1])
		}
		return a
	}
	one := order(1)
	assert.Equal(t, one, order(1))
	assert.NotEqual(t, one, order(2))
	require.Len(t, one, 2*3*len(archs))
	for i := 0; i < len(one); i += len(archs) {
		assert.ElementsMatch(t, archs, archOrder(one[i:i+len(archs)]), "repetition %d holds every architecture once", i/len(archs))
	}
	assert.NotEqual(t, archOrder(one[:len(archs)]), archOrder(one[len(archs):2*len(archs)]), "each repetition has its own order")
}
