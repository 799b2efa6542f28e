package results_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/results"
	"archbench/results/resultstest"
)

func TestCompare(t *testing.T) {
	a := fixture()
	b := fixture()
	// Make one architecture clearly faster in b.
	for i := range b.Samples {
		if b.Samples[i].Result != nil && b.Samples[i].Arch == b.Archs[0] {
			r := *b.Samples[i].Result
			r.RPS *= 2
			b.Samples[i].Result = &r
		}
	}
	cs := results.Compare(a, b).Rows
	require.NotEmpty(t, cs)
	var sawFaster bool
	for _, c := range cs {
		if c.Arch == b.Archs[0] && !math.IsNaN(c.MsgS.Delta) {
			assert.InDelta(t, 1.0, c.MsgS.Delta, 1e-9, "%s/%s doubled", c.Scenario, c.Arch)
			sawFaster = true
		} else if !math.IsNaN(c.MsgS.Delta) {
			assert.InDelta(t, 0, c.MsgS.Delta, 1e-9)
			assert.False(t, c.MsgS.Significant())
		}
	}
	assert.True(t, sawFaster)
}

// TestCompareOnlyEqualSettings: a scenario of the same name run with other
// workload settings is not compared but named with the settings that
// differ; the knobs that do not shape the workload (addresses, timeout,
// seed) do not count; the environment's differences are listed.
func TestCompareOnlyEqualSettings(t *testing.T) {
	a, b := resultstest.Quick(), resultstest.Quick()
	require.Len(t, a.Scenarios, 2)
	b.Scenarios[0].Load.Conns *= 2
	b.Scenarios[0].Server.Workers = 7
	b.Scenarios[1].Load.Seed, b.Scenarios[1].Load.Addr, b.Scenarios[1].Load.Timeout = 99, "127.0.0.1:1234", 3*time.Second
	b.Scenarios[1].Server.Addr = "127.0.0.1:4321"
	b.Env.Kernel, b.Env.ServerCPUs, b.Reps = "Linux 7.0", "0", 5

	c := results.Compare(a, b)
	assert.Equal(t, []results.Mismatch{{Scenario: a.Scenarios[0].Name, Settings: []string{"load.conns", "server.workers"}}}, c.NotComparable)
	require.NotEmpty(t, c.Rows)
	for _, r := range c.Rows {
		assert.Equal(t, a.Scenarios[1].Name, r.Scenario, "only the scenario with equal settings is compared")
	}
	assert.Equal(t, []results.EnvDiff{
		{Name: "server_cpus", Old: "unpinned", New: "0"},
		{Name: "kernel", Old: a.Env.Kernel, New: "Linux 7.0"},
		{Name: "reps", Old: "3", New: "5"},
	}, c.Env)

	same := results.Compare(a, resultstest.Quick())
	assert.Empty(t, same.NotComparable)
	assert.Empty(t, same.Env)
}

var tradeoffsFixture = resultstest.Tradeoffs

func TestKnees(t *testing.T) {
	ks := results.Knees(tradeoffsFixture())
	require.Len(t, ks, 1)
	k := ks[0]
	assert.Equal(t, "rs", k.Sweep)
	assert.InDelta(t, 1000, k.SLO, 1e-9)
	require.Len(t, k.Rows, 2)
	assert.Equal(t, results.Knee{Arch: "goroutine", Saturation: 100000, Knee: 50000, P99: 300, Step: "rs@50%"}, k.Rows[0])
	sel := k.Rows[1]
	assert.Equal(t, "select", sel.Arch)
	assert.InDelta(t, 40000, sel.Saturation, 1e-9)
	assert.True(t, math.IsNaN(sel.Knee), "a step with errors or over the SLO is no knee")

	r := tradeoffsFixture()
	r.SLO = 0
	assert.InDelta(t, float64(results.DefaultSLO.Microseconds()), r.SLOus(), 1e-9)
	r.SLO = 10 * time.Millisecond // goroutine's 100% step (92% of its offer) still falls short of 95%
	assert.InDelta(t, 50000, results.Knees(r)[0].Rows[0].Knee, 1e-9)
	r.Samples[3].Result.RPS = 99000 // now it keeps up
	assert.InDelta(t, 99000, results.Knees(r)[0].Rows[0].Knee, 1e-9)
}

func TestSweepTablesUseEachArchsTarget(t *testing.T) {
	for _, tb := range results.Summarize(tradeoffsFixture()) {
		if tb.Scenario.Name != "rs@100%" {
			continue
		}
		assert.True(t, tb.OpenLoop)
		require.Len(t, tb.Rows, 2)
		assert.Equal(t, "goroutine", tb.Rows[0].Arch)
		assert.InDelta(t, 0.92, tb.Rows[0].Ratio, 1e-9)
		assert.InDelta(t, 0.75, tb.Rows[1].Ratio, 1e-9)
		return
	}
	t.Fatal("no rs@100% table")
}

func TestIdleRSSPerConn(t *testing.T) {
	assert.InDelta(t, 8192, results.IdleRSSPerConn(18<<20, 10<<20, 1024), 1e-9)
	assert.True(t, math.IsNaN(results.IdleRSSPerConn(18<<20, 10<<20, 0)), "nothing held")
	assert.True(t, math.IsNaN(results.IdleRSSPerConn(18<<20, math.NaN(), 10)), "no baseline")

	for _, tb := range results.Summarize(tradeoffsFixture()) {
		if tb.Scenario.Name != "idle-1k" {
			continue
		}
		rows := map[string]results.Row{}
		for _, r := range tb.Rows {
			rows[r.Arch] = r
		}
		assert.InDelta(t, float64(8<<20)/1000, rows["goroutine"].RSSPerIdle, 1e-9)
		assert.InDelta(t, float64(1<<20)/1000, rows["select"].RSSPerIdle, 1e-9)
		assert.InDelta(t, 1000, rows["goroutine"].IdleHeld.Median, 1e-9)
		return
	}
	t.Fatal("no idle-1k table")
}
