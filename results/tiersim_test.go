package results_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/montanaflynn/stats"

	"archbench/results"
)

// TestTierSim measures issue 7's acceptance check, (a) and (b) of
// scripts/tier-agreement.py, for the tier rule as built, without running
// the suite: it draws pairs of runs from the repetitions of real ones. It
// runs only when TIERSIM names result folders (comma-separated absolute
// paths, each holding results.json; runs of one suite):
//
//	TIERSIM=$PWD/results/runs/A,$PWD/results/runs/B go test ./results -run TierSim -v
//
// Each cell's repetitions are pooled over the runs, after each run's drift
// common to all architectures is removed (a closed loop's msg/s divided by
// the geometric mean of that run's cell medians in the scenario). A
// simulated run draws TIERSIM_N repetitions per cell (default 4; a
// scenario's own with TIERSIM_N_<scenario, '-' as '_'>) with replacement
// from the pool; TIERSIM_INFLATE (default 1) scales each drawn value's
// distance from its cell's median in log space, to model shorter runs'
// extra noise. TIERSIM_PAIRS pairs of simulated runs (default 30) are
// compared. TIERSIM_REAL=1 compares every pair of the real runs instead.
// results/doc.go ("The limit, measured") quotes its figures.
func TestTierSim(t *testing.T) {
	dirs := os.Getenv("TIERSIM")
	if dirs == "" {
		t.Skip("set TIERSIM to result folders to simulate pairs of runs")
	}
	var runs []*results.Run
	for _, d := range strings.Split(dirs, ",") {
		f, err := os.Open(d + "/results.json")
		if err != nil {
			t.Fatal(err)
		}
		r, err := results.ReadJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	envInt := func(k string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
			return n
		}
		return def
	}
	inflate := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("TIERSIM_INFLATE"), 64); err == nil && v > 0 {
		inflate = v
	}
	base := runs[0]
	open := map[string]bool{}
	for _, sc := range base.Scenarios {
		open[sc.Name] = sc.OpenLoop()
	}
	type cell struct{ sc, arch string }
	pool := map[cell][]results.Sample{}
	for _, r := range runs {
		meds := map[cell][]float64{}
		for _, s := range r.Samples {
			if s.Result != nil {
				c := cell{s.Scenario, s.Arch}
				meds[c] = append(meds[c], s.Result.RPS)
			}
		}
		logSum, n := map[string]float64{}, map[string]int{}
		for c, v := range meds {
			m, _ := stats.Median(v)
			if m > 0 {
				logSum[c.sc] += math.Log(m)
				n[c.sc]++
			}
		}
		for _, s := range r.Samples {
			if s.Result == nil {
				continue
			}
			res := *s.Result
			if !open[s.Scenario] && n[s.Scenario] > 0 {
				res.RPS /= math.Exp(logSum[s.Scenario] / float64(n[s.Scenario]))
			}
			s.Result = &res
			pool[cell{s.Scenario, s.Arch}] = append(pool[cell{s.Scenario, s.Arch}], s)
		}
	}
	center := func(v []results.Sample, get func(*results.Sample) *float64) float64 {
		var x []float64
		for i := range v {
			x = append(x, *get(&v[i]))
		}
		m, _ := stats.Median(x)
		return m
	}
	rps := func(s *results.Sample) *float64 { return &s.Result.RPS }
	p90 := func(s *results.Sample) *float64 { return &s.Result.Latency.P90 }
	rng := rand.New(rand.NewPCG(7, 7))
	simulate := func() []results.SummaryEntry {
		r := &results.Run{Schema: results.SchemaVersion, Suite: base.Suite, Archs: base.Archs, Scenarios: base.Scenarios}
		for _, sc := range base.Scenarios {
			reps := envInt("TIERSIM_N_"+strings.ReplaceAll(sc.Name, "-", "_"), envInt("TIERSIM_N", 4))
			for _, a := range base.Archs {
				p := pool[cell{sc.Name, a}]
				if len(p) == 0 {
					continue
				}
				get := rps
				if open[sc.Name] {
					get = p90
				}
				mid := center(p, get)
				for i := range reps {
					s := p[rng.IntN(len(p))]
					res := *s.Result
					s.Result, s.Rep = &res, i+1
					if v := get(&s); inflate != 1 && mid > 0 && *v > 0 {
						*v = mid * math.Pow(*v/mid, inflate)
					}
					r.Samples = append(r.Samples, s)
				}
			}
		}
		return results.Summaries(r)
	}
	var pairs [][2][]results.SummaryEntry
	if os.Getenv("TIERSIM_REAL") != "" {
		for i := range runs {
			for j := i + 1; j < len(runs); j++ {
				pairs = append(pairs, [2][]results.SummaryEntry{results.Summaries(runs[i]), results.Summaries(runs[j])})
			}
		}
	} else {
		for range envInt("TIERSIM_PAIRS", 30) {
			pairs = append(pairs, [2][]results.SummaryEntry{simulate(), simulate()})
		}
	}
	if len(pairs) == 0 {
		t.Fatal("TIERSIM_REAL needs at least two run folders to compare")
	}
	var bSum float64
	withA := 0
	for _, p := range pairs {
		a, b := agreement(p[0], p[1], open)
		if math.IsNaN(b) {
			t.Fatal("a pair of runs has no pair of architectures 15% apart in both: (b) is undefined, not 100%")
		}
		bSum += b
		if a > 0 {
			withA++
		}
	}
	fmt.Printf("TIERSIM: %d pairs of runs (n=%s, inflate %.2f, real %v): (b) %.1f%% on average; (a) > 0 in %d of %d pairs\n",
		len(pairs), os.Getenv("TIERSIM_N"), inflate, os.Getenv("TIERSIM_REAL") != "", 100*bSum/float64(len(pairs)), withA, len(pairs))
}

// agreement is scripts/tier-agreement.py's check of two runs' summaries:
// (a) the pairs of architectures in strictly ordered tiers in opposite
// orders, and (b) the share of the pairs whose ranking metric (msg/s, p90
// in an open loop) differs by 15% or more in both runs that both put in
// different tiers (NaN if there are none).
func agreement(x, y []results.SummaryEntry, open map[string]bool) (opposite int, separated float64) {
	type cell struct{ sc, arch string }
	index := func(s []results.SummaryEntry) map[cell]results.SummaryEntry {
		m := map[cell]results.SummaryEntry{}
		for _, e := range s {
			m[cell{e.Scenario, e.Arch}] = e
		}
		return m
	}
	a, b := index(x), index(y)
	metric := func(e results.SummaryEntry) float64 {
		if open[e.Scenario] {
			return e.P90us.Median
		}
		return e.RPS.Median
	}
	apart := func(e, f results.SummaryEntry) bool {
		u, v := metric(e), metric(f)
		return math.Min(u, v) > 0 && math.Abs(u-v)/math.Min(u, v) >= 0.15
	}
	ok, total := 0, 0
	for c1, ea := range a {
		for c2, fa := range a {
			if c1.sc != c2.sc || c1.arch >= c2.arch {
				continue
			}
			eb, okE := b[c1]
			fb, okF := b[c2]
			if !okE || !okF || ea.Tier == 0 || fa.Tier == 0 || eb.Tier == 0 || fb.Tier == 0 {
				continue
			}
			da, db := ea.Tier-fa.Tier, eb.Tier-fb.Tier
			if da*db < 0 {
				opposite++
			}
			if apart(ea, fa) && apart(eb, fb) {
				total++
				if da != 0 && db != 0 {
					ok++
				}
			}
		}
	}
	return opposite, float64(ok) / float64(total)
}
