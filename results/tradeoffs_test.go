package results

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/servers"
)

// tradeoffsFixture has a rate sweep (two architectures, one of which never
// meets the SLO), idle connections with their baseline, and bulk messages.
func tradeoffsFixture() *Run {
	load := loadgen.Config{Network: "tcp", Conns: 16, Depth: 1, Size: 16, Content: loadgen.ASCII,
		Warmup: 250 * time.Millisecond, Duration: time.Second, Timeout: time.Second, Seed: 1}
	r := &Run{Schema: SchemaVersion, Suite: "tradeoffs", Start: t0, Archs: []string{"goroutine", "select"}, Reps: 1, SLO: 1000}
	sc := func(name string, l loadgen.Config, sw *SweepStep) {
		r.Scenarios = append(r.Scenarios, Scenario{Name: name, Description: name + " shows something.",
			Server: servers.Config{Network: "tcp"}, Load: l, Sweep: sw})
	}
	add := func(name, arch string, res *loadgen.Result, rss int64) {
		r.Samples = append(r.Samples, Sample{Scenario: name, Arch: arch, Rep: 1, Start: t0, Wall: 1.5,
			Result: res, ServerCPU: 0.1, ServerPeakRSS: rss, Exit: ExitClean})
	}
	// Rate sweep: goroutine saturates at 100k, select at 40k.
	sc("rs@sat", load, &SweepStep{Of: "rs"})
	for _, f := range []float64{0.5, 1} {
		sc(SweepName("rs", f), load, &SweepStep{Of: "rs", Fraction: f})
	}
	add("rs@sat", "goroutine", result(100000, 100, 400, 800, nil), 10<<20)
	add("rs@sat", "select", result(40000, 100, 400, 800, nil), 10<<20)
	open := func(target, rps, p99 float64, errs map[string]int64) *loadgen.Result {
		res := result(rps, p99/4, p99, p99*2, errs)
		res.TargetRPS = target
		return res
	}
	add("rs@50%", "goroutine", open(50000, 50000, 300, nil), 10<<20)
	add("rs@100%", "goroutine", open(100000, 92000, 5000, nil), 10<<20)                      // over the SLO
	add("rs@50%", "select", open(20000, 20000, 600, map[string]int64{"timeout": 3}), 10<<20) // errors disqualify
	add("rs@100%", "select", open(40000, 30000, 9000, nil), 10<<20)

	// Idle connections: goroutine holds all 1,000 (+8 MiB), select 1,000 of
	// them too but refuses the active ones.
	sc("idle-0", load, nil)
	idle := load
	idle.IdleConns = 1000
	sc("idle-1k", idle, nil)
	add("idle-0", "goroutine", result(60000, 200, 500, 900, nil), 10<<20)
	add("idle-0", "select", result(50000, 200, 500, 900, nil), 8<<20)
	withIdle := func(res *loadgen.Result, held int) *loadgen.Result {
		res.Side = &loadgen.SideResult{Idle: &loadgen.IdleResult{Conns: 1000, Opened: 1000, Held: held, Errors: map[string]int64{"short_read": int64(1000 - held)}}}
		return res
	}
	add("idle-1k", "goroutine", withIdle(result(59000, 200, 520, 900, nil), 1000), 18<<20)
	add("idle-1k", "select", withIdle(result(0, 0, 0, 0, map[string]int64{"short_read": 16}), 1000), 9<<20)

	// Bulk: MB/s.
	bulk := load
	bulk.Size, bulk.Conns = 1<<20, 4
	sc("bulk-1m", bulk, nil)
	b := result(900, 4000, 9000, 12000, nil)
	b.MBps = 900 * (1 << 20) / 1e6
	add("bulk-1m", "goroutine", b, 30<<20)
	return r
}

func TestKnees(t *testing.T) {
	ks := Knees(tradeoffsFixture())
	require.Len(t, ks, 1)
	k := ks[0]
	assert.Equal(t, "rs", k.Sweep)
	assert.InDelta(t, 1000, k.SLO, 1e-9)
	require.Len(t, k.Rows, 2)
	assert.Equal(t, Knee{Arch: "goroutine", Saturation: 100000, Knee: 50000, P99: 300, Step: "rs@50%"}, k.Rows[0])
	sel := k.Rows[1]
	assert.Equal(t, "select", sel.Arch)
	assert.InDelta(t, 40000, sel.Saturation, 1e-9)
	assert.True(t, math.IsNaN(sel.Knee), "a step with errors or over the SLO is no knee")

	r := tradeoffsFixture()
	r.SLO = 0
	assert.InDelta(t, float64(DefaultSLO.Microseconds()), r.SLOus(), 1e-9)
	r.SLO = 10000 // 10 ms: goroutine's 100% step (92% of its offer) still falls short of 95%
	assert.InDelta(t, 50000, Knees(r)[0].Rows[0].Knee, 1e-9)
	r.Samples[3].Result.RPS = 99000 // now it keeps up
	assert.InDelta(t, 99000, Knees(r)[0].Rows[0].Knee, 1e-9)
}

func TestSweepTablesUseEachArchsTarget(t *testing.T) {
	for _, tb := range Summarize(tradeoffsFixture()) {
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
	assert.InDelta(t, 8192, IdleRSSPerConn(18<<20, 10<<20, 1024), 1e-9)
	assert.True(t, math.IsNaN(IdleRSSPerConn(18<<20, 10<<20, 0)), "nothing held")
	assert.True(t, math.IsNaN(IdleRSSPerConn(18<<20, math.NaN(), 10)), "no baseline")

	for _, tb := range Summarize(tradeoffsFixture()) {
		if tb.Scenario.Name != "idle-1k" {
			continue
		}
		rows := map[string]Row{}
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

func TestTradeoffsTablesGolden(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, tradeoffsFixture()))
	golden(t, filepath.Join("testdata", "tradeoffs.md.golden"), buf.Bytes())
}
