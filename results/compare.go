package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"archbench/loadgen"
	"archbench/servers"
)

// Alpha is the significance level the Mann-Whitney p-value of a Change is
// read against (MinP: with 3 repetitions a side it cannot pass).
const Alpha = 0.05

// Change is one metric of one scenario on one architecture, before and after.
type Change struct {
	Old, New Stat
	// Delta is New.Median/Old.Median - 1 (NaN when unmeasured).
	Delta float64
	// Ratio is New's median over Old's with its bootstrap interval, the
	// same bootstrap as the tiers (doc.go).
	Ratio Ratio
	// P is the two-sided Mann-Whitney U p-value (NaN without samples),
	// kept for scripts; Significant does not use it.
	P float64
}

// Significant reports whether the change is a difference by the tiers'
// rule: the ratio's interval excludes 1 and the ratio is at least
// MinEffect away from 1 (Ratio.Separated).
func (c Change) Significant() bool { return c.Ratio.Separated() }

// Comparison is one scenario × architecture present in both runs.
type Comparison struct {
	Scenario, Arch string
	MsgS, P99      Change
}

// Comparisons is Compare's result: the rows, what kept a scenario out, and
// how the two runs' machines and repetitions differ.
type Comparisons struct {
	// Env lists each difference of environment or repetitions between the
	// runs, in EnvDiff's order.
	Env  []EnvDiff
	Rows []Comparison
	// NotComparable lists the scenarios of the same name whose workload
	// settings differ: their numbers measure different things.
	NotComparable []Mismatch
}

// EnvDiff is one setting of the runs' environment (or repetitions) that
// differs: its json name and its two values.
type EnvDiff struct{ Name, Old, New string }

// Mismatch is a scenario in both runs under one name with different
// settings, named as in results.json ("load.rate", "server.workers").
type Mismatch struct {
	Scenario string
	Settings []string
}

// Compare pairs every scenario and architecture that both runs measured
// with equal workload settings (Workload) and tests each metric's change
// across repetitions with the bootstrap of the ratio of medians
// (Change.Significant).
func Compare(a, b *Run) Comparisons {
	out := Comparisons{Env: envDiffs(a, b)}
	for _, sc := range a.Scenarios {
		if i := slices.IndexFunc(b.Scenarios, func(o Scenario) bool { return o.Name == sc.Name }); i >= 0 {
			if diff := settingsDiff(sc, b.Scenarios[i]); len(diff) > 0 {
				out.NotComparable = append(out.NotComparable, Mismatch{Scenario: sc.Name, Settings: diff})
				continue
			}
		}
		for _, arch := range archOrder(a, sc.Name) {
			oldMsg, oldP99 := metric(a, sc.Name, arch)
			newMsg, newP99 := metric(b, sc.Name, arch)
			if len(newMsg) == 0 && len(oldMsg) == 0 {
				continue
			}
			if !hasSamples(b, sc.Name, arch) {
				continue
			}
			out.Rows = append(out.Rows, Comparison{
				Scenario: sc.Name, Arch: arch,
				MsgS: change(oldMsg, newMsg),
				P99:  change(oldP99, newP99),
			})
		}
	}
	return out
}

// Workload is sc's server and load settings less the load generator's
// knobs that do not shape the workload: the addresses, the per-operation
// timeout, the content seed (and the server's logger). Two scenarios with
// equal workloads (and sweep steps) measure the same thing.
func Workload(sc Scenario) (servers.Config, loadgen.Config) {
	l, s := sc.Load, sc.Server
	l.Addr, l.Timeout, l.Seed = "", 0, 0
	s.Addr, s.Logger = "", nil
	return s, l
}

// settingsDiff names the workload settings in which a and b differ, by
// their json names.
func settingsDiff(a, b Scenario) []string {
	flat := func(sc Scenario) map[string]string {
		s, l := Workload(sc)
		m := map[string]string{}
		for prefix, v := range map[string]any{"server": s, "load": l, "rate_sweep": sc.Sweep} {
			var fields map[string]json.RawMessage
			raw, err := json.Marshal(v)
			if err != nil || json.Unmarshal(raw, &fields) != nil {
				m[prefix] = string(raw) // null, or not an object: the whole value
				continue
			}
			for k, f := range fields {
				m[prefix+"."+k] = string(f)
			}
		}
		return m
	}
	ma, mb := flat(a), flat(b)
	var diff []string
	for k, v := range ma {
		if w, ok := mb[k]; !ok || v != w {
			diff = append(diff, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			diff = append(diff, k)
		}
	}
	slices.Sort(diff)
	return diff
}

// envDiffs lists the environment settings and repetitions that differ
// between a and b.
func envDiffs(a, b *Run) []EnvDiff {
	var out []EnvDiff
	add := func(name string, old, new any) {
		if o, n := fmt.Sprint(old), fmt.Sprint(new); o != n {
			out = append(out, EnvDiff{Name: name, Old: o, New: n})
		}
	}
	ea, eb := a.Env, b.Env
	add("server_cpus", ea.ServerCPUs, eb.ServerCPUs)
	add("client_cpus", ea.ClientCPUs, eb.ClientCPUs)
	add("cpu_model", ea.CPUModel, eb.CPUModel)
	add("cores", ea.Cores, eb.Cores)
	add("gomaxprocs", ea.GOMAXPROCS, eb.GOMAXPROCS)
	add("kernel", ea.Kernel, eb.Kernel)
	add("go_version", ea.GoVersion, eb.GoVersion)
	add("reps", a.Reps, b.Reps)
	add("max_reps", a.MaxReps, b.MaxReps)
	return out
}

func hasSamples(r *Run, scenario, arch string) bool {
	return slices.ContainsFunc(r.Samples, func(s Sample) bool { return s.Scenario == scenario && s.Arch == arch })
}

func metric(r *Run, scenario, arch string) (msgs, p99 []float64) {
	for _, s := range r.Samples {
		if s.Scenario == scenario && s.Arch == arch && s.Result != nil {
			msgs = append(msgs, s.Result.RPS)
			p99 = append(p99, s.Result.Latency.P99)
		}
	}
	return msgs, p99
}

func change(old, new []float64) Change {
	c := Change{Old: newStat(old), New: newStat(new), Delta: math.NaN(), P: math.NaN()}
	if c.Old.N > 0 && c.New.N > 0 && c.Old.Median != 0 {
		c.Delta = c.New.Median/c.Old.Median - 1
	}
	c.Ratio = CompareMedians(new, old, Seed)
	if len(old) > 0 && len(new) > 0 {
		c.P = MannWhitneyP(old, new)
	}
	return c
}

// MinP is the smallest two-sided p-value the Mann-Whitney U test can give
// for samples of sizes n and m: with 3 repetitions each it is 0.10, so no
// change can be significant at 0.05 — run 5 or more repetitions to compare.
func MinP(n, m int) float64 {
	return math.Min(1, 2/binom(n+m, n))
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// MannWhitneyP is the two-sided p-value of the Mann-Whitney U test of x
// against y (the method benchstat uses). Without ties and with small
// samples it is exact; otherwise it uses the normal approximation with tie
// and continuity corrections.
func MannWhitneyP(x, y []float64) float64 {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return math.NaN()
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Mid-ranks, and the tie correction term sum(t^3 - t).
	var r1, tieSum float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		i = j
	}
	u1 := r1 - float64(n1*(n1+1))/2
	u := math.Min(u1, float64(n1*n2)-u1)
	if !ties && n1+n2 <= 40 {
		return math.Min(1, 2*exactCDF(int(u), n1, n2))
	}
	n := float64(n1 + n2)
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) / 12 * ((n + 1) - tieSum/(n*(n-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	if z < 0 {
		return 1
	}
	return math.Min(1, math.Erfc(z/math.Sqrt2))
}

// exactCDF is P(U <= u) for sample sizes n1, n2 under the null hypothesis,
// by counting the arrangements (the recurrence of Mann and Whitney).
func exactCDF(u, n1, n2 int) float64 {
	maxU := n1 * n2
	// f[i][j][k]: arrangements of i x's and j y's with U = k.
	prev := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // zero x's: U = 0
	}
	for i := 1; i <= n1; i++ {
		cur := make([][]float64, n2+1)
		for j := range cur {
			cur[j] = make([]float64, maxU+1)
		}
		cur[0][0] = 1
		for j := 1; j <= n2; j++ {
			for k := 0; k <= maxU; k++ {
				// Last element is an x (it beats all j y's) or a y.
				v := cur[j-1][k]
				if k >= j {
					v += prev[j][k-j]
				}
				cur[j][k] = v
			}
		}
		prev = cur
	}
	var le, total float64
	for k, c := range prev[n2] {
		total += c
		if k <= u {
			le += c
		}
	}
	return le / total
}
