package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"archbench/loadgen"
	"archbench/servers"
)

// Change is one metric of one scenario on one architecture, before and after.
type Change struct {
	Old, New Stat
	// Delta is New.Median/Old.Median - 1 (NaN when unmeasured).
	Delta float64
	// Ratio is New's median over Old's with its bootstrap interval, the
	// same bootstrap as the tiers (doc.go).
	Ratio Ratio
}

// Significant reports whether the change is a difference by the tiers'
// rule: the ratio's interval excludes 1 and the ratio is at least
// MinEffect away from 1 (Ratio.Separated).
func (c Change) Significant() bool { return c.Ratio.Separated() }

// Comparison is one scenario × architecture present in both runs.
type Comparison struct {
	Scenario, Arch string
	// External: arch is an external server in either run.
	External  bool
	MsgS, P99 Change
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
				Scenario: sc.Name, Arch: arch, External: a.IsExternal(arch) || b.IsExternal(arch),
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
	c := Change{Old: newStat(old), New: newStat(new), Delta: math.NaN()}
	if c.Old.N > 0 && c.New.N > 0 && c.Old.Median != 0 {
		c.Delta = c.New.Median/c.Old.Median - 1
	}
	c.Ratio = CompareMedians(new, old, Seed)
	return c
}
