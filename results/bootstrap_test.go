package results_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
	"archbench/results"
)

// normal draws n values from N(mean, (sd·mean)²).
func normal(rng *rand.Rand, n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = mean * (1 + sd*rng.NormFloat64())
	}
	return v
}

func TestBootstrapEqualDistributionsTie(t *testing.T) {
	// 5 repetitions each from the same normal (5% noise): not separated in
	// at least 90% of 200 seeded trials.
	rng := rand.New(rand.NewPCG(7, 7))
	separated := 0
	for trial := range 200 {
		a, b := normal(rng, 5, 100e3, 0.05), normal(rng, 5, 100e3, 0.05)
		if results.CompareMedians(a, b, uint64(trial)).Separated() {
			separated++
		}
	}
	t.Logf("equal distributions separated in %d of 200 trials", separated)
	assert.LessOrEqual(t, separated, 20)
}

func TestBootstrapShiftSeparates(t *testing.T) {
	// A 20% shift with 2% noise, 5 repetitions each: separated in at
	// least 95% of 200 trials, with the ratio's interval around 0.8.
	rng := rand.New(rand.NewPCG(8, 8))
	separated := 0
	for trial := range 200 {
		a, b := normal(rng, 5, 80e3, 0.02), normal(rng, 5, 100e3, 0.02)
		r := results.CompareMedians(a, b, uint64(trial))
		if r.Separated() {
			separated++
		}
		assert.Less(t, r.CI.Lo, r.CI.Hi)
	}
	t.Logf("20%% shift separated in %d of 200 trials", separated)
	assert.GreaterOrEqual(t, separated, 190)
}

func TestBootstrapSingleRepetitionNeverSeparates(t *testing.T) {
	for _, b := range [][]float64{{1}, {1, 1, 1}, {50, 51, 52}} {
		r := results.CompareMedians([]float64{100}, b, results.Seed)
		assert.False(t, r.Separated(), "n=1 against %v", b)
		assert.False(t, r.Tied())
		assert.True(t, r.CI.Unknown())
		assert.True(t, results.MedianCI([]float64{100}, results.Seed).Unknown())
	}
	assert.True(t, math.IsNaN(results.CompareMedians(nil, []float64{1}, 1).Median))
}

func TestBootstrapDeterministic(t *testing.T) {
	a, b := []float64{98, 103, 101, 99}, []float64{91, 97, 94}
	r1, r2 := results.CompareMedians(a, b, 42), results.CompareMedians(a, b, 42)
	assert.Equal(t, r1, r2)
	assert.Equal(t, results.MedianCI(a, 42), results.MedianCI(a, 42))
	rng := rand.New(rand.NewPCG(1, 2))
	a, b = normal(rng, 15, 100, 0.1), normal(rng, 15, 100, 0.1)
	assert.NotEqual(t, results.CompareMedians(a, b, 42).CI, results.CompareMedians(a, b, 43).CI, "the seed matters")
}

func TestRatioDecisions(t *testing.T) {
	tests := []struct {
		name                       string
		r                          results.Ratio
		separated, tied, undecided bool
	}{
		{name: "clear", r: results.Ratio{Median: 0.8, CI: results.Interval{Lo: 0.75, Hi: 0.85}}, separated: true},
		{name: "excludes 1 but under 5%", r: results.Ratio{Median: 0.97, CI: results.Interval{Lo: 0.96, Hi: 0.98}}, tied: true},
		{name: "excludes 1, effect 5% or more, interval reaching the tie band", r: results.Ratio{Median: 0.94, CI: results.Interval{Lo: 0.90, Hi: 0.97}}, separated: true},
		{name: "wide", r: results.Ratio{Median: 0.9, CI: results.Interval{Lo: 0.7, Hi: 1.1}}, undecided: true},
		{name: "narrow around 1", r: results.Ratio{Median: 1.01, CI: results.Interval{Lo: 0.98, Hi: 1.04}}, tied: true},
		{name: "under 5%, interval leaves the band", r: results.Ratio{Median: 1.02, CI: results.Interval{Lo: 0.99, Hi: 1.09}}, undecided: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.separated, tt.r.Separated())
			assert.Equal(t, tt.tied, tt.r.Tied())
			assert.Equal(t, tt.undecided, tt.r.Undecided())
		})
	}
}

func TestMedianCI(t *testing.T) {
	v := []float64{90, 100, 110}
	iv := results.MedianCI(v, results.Seed)
	assert.InDelta(t, 90, iv.Lo, 1e-9, "with 3 repetitions the interval of the median is their range")
	assert.InDelta(t, 110, iv.Hi, 1e-9)
	assert.True(t, results.MedianCI([]float64{5, 5}, results.Seed).Contains(5))
}

// series is a result with one full second per rate (and a partial last one).
func series(rates ...int64) *loadgen.Result {
	res := &loadgen.Result{Elapsed: float64(len(rates)) + 0.25}
	for i, r := range rates {
		res.Series = append(res.Series, loadgen.Second{T: i, Requests: r, RPS: float64(r)})
	}
	res.Series = append(res.Series, loadgen.Second{T: len(rates), Requests: 1})
	return res
}

func TestSteadiness(t *testing.T) {
	tests := []struct {
		name string
		res  *loadgen.Result
		want results.Steadiness
	}{
		{name: "flat", res: series(1000, 1020, 990, 1005), want: results.Steady},
		{name: "one second", res: series(1000), want: results.SteadyUnknown},
		{name: "two seconds", res: series(1000, 10), want: results.SteadyUnknown},
		{name: "stall", res: series(1000, 1000, 50, 1000, 1000), want: results.Unsteady},
		{name: "rising", res: series(600, 700, 900, 1000), want: results.Unsteady},
		{name: "three seconds, falling", res: series(1000, 900, 700), want: results.Unsteady},
		{name: "noisy but level", res: series(1000, 1150, 900, 1100, 950, 1050), want: results.Steady},
		{name: "nothing served", res: series(0, 0, 0), want: results.Steady},
		{name: "no result", res: nil, want: results.SteadyUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := results.SteadinessOf(tt.res)
			assert.Equal(t, tt.want, got, why)
			if got == results.Unsteady {
				assert.NotEmpty(t, why)
			}
		})
	}
	// A last partial second is not read as a stall.
	res := series(1000, 1000, 1000)
	res.Series[3].Requests = 0
	got, _ := results.SteadinessOf(res)
	assert.Equal(t, results.Steady, got)
}

// synthetic is a closed-loop run of one scenario: each architecture's
// msg/s per repetition.
func synthetic(reps map[string][]float64, archs ...string) *results.Run {
	r := &results.Run{Schema: results.SchemaVersion, Suite: "synthetic", Archs: archs, Reps: 3,
		Scenarios: []results.Scenario{{Name: "s", Load: loadgen.Config{Conns: 4, Duration: time.Second}}}}
	for _, a := range archs {
		for i, v := range reps[a] {
			res := &loadgen.Result{Config: loadgen.Config{Conns: 4}, Elapsed: 1, Requests: int64(v), RPS: v,
				Latency: loadgen.LatencyUS{P50: 100, P99: 1e9 / v, P999: 1e9 / v}}
			r.Samples = append(r.Samples, results.Sample{Scenario: "s", Arch: a, Rep: i + 1, Result: res, Exit: results.ExitClean})
		}
	}
	return r
}

func TestTiers(t *testing.T) {
	r := synthetic(map[string][]float64{
		"a": {100, 101, 99},
		"b": {99, 100, 101}, // ties a
		"c": {80, 81, 79},   // 20% below a: tier 2
		"d": {77, 78, 79},   // within 5% of c, the best of tier 2
		"e": {60, 62, 61},
	}, "e", "d", "c", "b", "a")
	tb := results.Summarize(r)[0]
	got := map[string]int{}
	for _, row := range tb.Rows {
		got[row.Arch] = row.Tier
	}
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 2, "d": 2, "e": 3}, got)
	upper, lower, ratio, metric, ok := tb.Separation(1)
	require.True(t, ok)
	assert.Equal(t, "msg/s", metric)
	assert.Equal(t, 1, upper.Tier)
	assert.Equal(t, "c", lower.Arch)
	assert.InDelta(t, 0.8, ratio.Median, 0.01)
	assert.True(t, ratio.Separated())
	_, _, _, _, ok = tb.Separation(3)
	assert.False(t, ok, "no tier 4")

	// One repetition each: nothing separates, one tier.
	one := synthetic(map[string][]float64{"a": {100}, "b": {50}}, "a", "b")
	for _, row := range results.Summarize(one)[0].Rows {
		assert.Equal(t, 1, row.Tier, row.Arch)
	}
}

func TestTiersErrorsRankLast(t *testing.T) {
	r := synthetic(map[string][]float64{"fast": {200, 201, 199}, "slow": {100, 101, 99}}, "fast", "slow")
	r.Samples[0].Result.Errors = map[string]int64{loadgen.ErrTimeout: 1}
	tb := results.Summarize(r)[0]
	assert.Equal(t, []string{"slow", "fast"}, archs(tb))
	assert.Equal(t, []int{1, 2}, []int{tb.Rows[0].Tier, tb.Rows[1].Tier})
	assert.InDelta(t, 2, tb.Rows[1].VsBest.Median, 1e-9, "vs best is over the top-ranked row")
	_, _, _, metric, ok := tb.Separation(1)
	require.True(t, ok)
	assert.Equal(t, "clean", metric)
}

func TestPending(t *testing.T) {
	tests := []struct {
		name string
		reps map[string][]float64
		want []results.Cell
	}{
		{name: "separated", reps: map[string][]float64{"a": {100, 101, 99}, "b": {80, 81, 79}}},
		{name: "tied", reps: map[string][]float64{"a": {100, 101, 100}, "b": {100, 100.5, 99.5}}},
		{name: "undecided pair", reps: map[string][]float64{"a": {100, 108, 96}, "b": {95, 101, 90}},
			want: []results.Cell{{"s", "a"}, {"s", "b"}}},
		{name: "noisy cell", reps: map[string][]float64{"a": {100, 140, 70}, "b": {30, 30, 30}},
			want: []results.Cell{{"s", "a"}}},
		{name: "too few repetitions", reps: map[string][]float64{"a": {100, 101}, "b": {50, 51, 49}},
			want: []results.Cell{{"s", "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := results.Pending(synthetic(tt.reps, "a", "b"))
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestSummaries(t *testing.T) {
	r := synthetic(map[string][]float64{"a": {100, 101, 99}, "b": {50}}, "a", "b")
	s := results.Summaries(r)
	require.Len(t, s, 2)
	assert.Equal(t, "a", s[0].Arch)
	assert.Equal(t, 1, s[0].Tier)
	assert.Equal(t, 3, s[0].Reps)
	assert.InDelta(t, 100, s[0].RPS.Median, 1e-9)
	assert.InDelta(t, 99, s[0].RPS.CI95.Lo, 1e-9)
	assert.Equal(t, results.SteadyUnknown, s[0].Steady, "1-s runs cannot be judged")
	assert.True(t, s[1].RPS.CI95.Unknown(), "one repetition: no interval")

	r.Summary = s
	b, err := json.Marshal(r)
	require.NoError(t, err, "no NaN reaches JSON")
	var raw struct {
		Summary []map[string]any `json:"summary"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, key := range []string{"scenario", "arch", "reps", "tier", "rps", "p90_us", "p99_us", "errors", "conns_served", "steady"} {
		assert.Contains(t, raw.Summary[0], key)
	}
	assert.Equal(t, map[string]any{"median": 100.0, "ci95": []any{99.0, 101.0}}, raw.Summary[0]["rps"])
	assert.Nil(t, raw.Summary[1]["rps"].(map[string]any)["ci95"])
	back, err := results.ReadJSON(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, s[0], back.Summary[0])
}

// A cell tried MinReps times that measured fewer (it crashes, or cannot
// run here) is not pending: repeating it decides nothing.
func TestPendingSkipsCellsThatCannotMeasure(t *testing.T) {
	r := synthetic(map[string][]float64{"a": {100, 101, 99}}, "a")
	for rep := 1; rep <= 3; rep++ {
		r.Samples = append(r.Samples, results.Sample{Scenario: "s", Arch: "iouring", Rep: rep,
			Error: "unavailable", Unavailable: "io_uring disabled", Exit: results.ExitNone})
		r.Samples = append(r.Samples, results.Sample{Scenario: "s", Arch: "crashy", Rep: rep, Exit: results.ExitCrash})
	}
	assert.Empty(t, results.Pending(r))
	r.Samples = r.Samples[:len(r.Samples)-1] // crashy tried only twice
	assert.Equal(t, []results.Cell{{"s", "crashy"}}, results.Pending(r))
}

// Tiers on synthetic runs with known answers: six rows from one
// distribution (5% noise, 4 repetitions) form one tier in at least 90% of
// 100 seeded trials; three rows 20% below three others (2% noise) form a
// second tier in at least 95%; a slope of small steps (100, 96, ... 81.6,
// each 4% below the last, under MinEffect) is never cut, since no two
// neighbours are told apart; a slope of 12% steps is cut at every step.
func TestTiersKnownAnswers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	tiers := func(means []float64, sd float64) map[string]int {
		m := map[string][]float64{}
		var names []string
		for i, mean := range means {
			name := string(rune('a' + i))
			m[name], names = normal(rng, 4, mean, sd), append(names, name)
		}
		got := map[string]int{}
		for _, row := range results.Summarize(synthetic(m, names...))[0].Rows {
			got[row.Arch] = row.Tier
		}
		return got
	}
	oneTier, twoTiers := 0, 0
	for range 100 {
		got := tiers([]float64{100, 100, 100, 100, 100, 100}, 0.05)
		if got["a"] == 1 && got["b"] == 1 && got["c"] == 1 && got["d"] == 1 && got["e"] == 1 && got["f"] == 1 {
			oneTier++
		}
		got = tiers([]float64{100, 100, 100, 80, 80, 80}, 0.02)
		if got["a"] == 1 && got["b"] == 1 && got["c"] == 1 && got["d"] == 2 && got["e"] == 2 && got["f"] == 2 {
			twoTiers++
		}
	}
	t.Logf("equal rows in one tier: %d/100; a 20%% shift in two tiers: %d/100", oneTier, twoTiers)
	assert.GreaterOrEqual(t, oneTier, 90)
	assert.GreaterOrEqual(t, twoTiers, 95)

	got := tiers([]float64{100, 96, 92.2, 88.5, 85, 81.6}, 0.005)
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}, got, "steps of 4% are not cut")
	got = tiers([]float64{100, 88, 77.4, 68.1}, 0.005)
	assert.Equal(t, map[string]int{"a": 1, "b": 2, "c": 3, "d": 4}, got, "steps of 12% are")
}

// Open-loop rows that keep up are ranked and tiered by p90
// (results.RankLatency), not by p99: here p99 orders the rows one way and
// p90 the other, and the table follows p90; the summary carries both.
func TestOpenLoopRanksByP90(t *testing.T) {
	r := &results.Run{Schema: results.SchemaVersion, Archs: []string{"a", "b"}}
	r.Scenarios = []results.Scenario{{Name: "open", Load: loadgen.Config{Conns: 16, Rate: 1000}}}
	for i, v := range map[string][3][2]float64{
		"a": {{200, 250}, {202, 260}, {198, 255}}, // {p90, p99} µs per repetition
		"b": {{100, 900}, {101, 950}, {99, 920}},  // p90 100 µs: ranked first though its p99 is worse
	} {
		for rep, pv := range v {
			res := &loadgen.Result{Requests: 1000, RPS: 1000, TargetRPS: 1000, Errors: map[string]int64{},
				Latency: loadgen.LatencyUS{P50: 50, P90: pv[0], P99: pv[1], P999: pv[1]}}
			r.Samples = append(r.Samples, results.Sample{Scenario: "open", Arch: i, Rep: rep + 1, Result: res, Exit: results.ExitClean})
		}
	}
	tb := results.Summarize(r)[0]
	require.True(t, tb.OpenLoop)
	assert.Equal(t, []string{"b", "a"}, archs(tb))
	assert.Equal(t, []int{1, 2}, []int{tb.Rows[0].Tier, tb.Rows[1].Tier})
	_, _, ratio, metric, ok := tb.Separation(1)
	require.True(t, ok)
	assert.Equal(t, "p90", metric)
	assert.InDelta(t, 2, ratio.Median, 0.01)
	s := results.Summaries(r)
	assert.InDelta(t, 100, s[0].P90us.Median, 1e-9)
	assert.InDelta(t, 920, s[0].P99us.Median, 1e-9)
}
