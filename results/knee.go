package results

import (
	"math"
	"time"
)

// DefaultSLO is the p99 objective a rate sweep's knee is measured against
// when the run sets none: 1 ms, about ten loopback round trips on a busy
// 2-core machine, well above every architecture's unloaded p99 and well
// below the 10-100 ms where queueing has run away.
const DefaultSLO = time.Millisecond

// SLODuration is the run's p99 objective: Run.SLO, or DefaultSLO when the
// run sets none.
func (r *Run) SLODuration() time.Duration {
	if r.SLO > 0 {
		return r.SLO
	}
	return DefaultSLO
}

// SLOus is SLODuration in microseconds, the unit of the latencies.
func (r *Run) SLOus() float64 { return Micros(r.SLODuration()) }

// Micros is d in microseconds, the unit of the latencies.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Knee is one architecture's result in a rate sweep.
type Knee struct {
	Arch       string
	Saturation float64 // closed-loop msg/s (median over repetitions); NaN if unmeasured
	// Knee is the highest achieved msg/s of a step that delivered 95% of
	// its offered rate and whose p99 (median) met the SLO without a single
	// error; NaN if no step did. Step names it.
	Knee float64
	P99  float64 // at the knee, µs
	Step string
}

// KneeTable is a rate sweep's knees, highest first.
type KneeTable struct {
	Sweep string  // the suite's scenario
	SLO   float64 // µs
	Rows  []Knee
}

// Knees computes the knee of every rate sweep in r, from r alone.
func Knees(r *Run) []KneeTable {
	tables := map[string]Table{}
	var order []string
	for _, t := range Summarize(r) {
		tables[t.Scenario.Name] = t
		if sw := t.Scenario.Sweep; sw != nil && sw.Fraction == 0 {
			order = append(order, sw.Of)
		}
	}
	slo := r.SLOus()
	var out []KneeTable
	for _, of := range order {
		kt := KneeTable{Sweep: of, SLO: slo}
		sat := tables[SweepName(of, 0)]
		for _, sr := range sat.Rows {
			k := Knee{Arch: sr.Arch, Saturation: sr.MsgS.Median, Knee: math.NaN(), P99: math.NaN()}
			for _, sc := range r.Scenarios {
				if sc.Sweep == nil || sc.Sweep.Of != of || sc.Sweep.Fraction == 0 {
					continue
				}
				row, ok := tables[sc.Name].Row(sr.Arch)
				// A step counts if it delivered the rate offered (KeepsUp),
				// with no error and p99 within the SLO.
				if !ok || row.Measured == 0 || row.Errors > 0 || math.IsNaN(row.P99.Median) || row.P99.Median > slo ||
					!(row.MsgS.Median >= KeepsUp*row.Target) {
					continue
				}
				if math.IsNaN(k.Knee) || row.MsgS.Median > k.Knee {
					k.Knee, k.P99, k.Step = row.MsgS.Median, row.P99.Median, sc.Name
				}
			}
			kt.Rows = append(kt.Rows, k)
		}
		sortKnees(kt.Rows)
		out = append(out, kt)
	}
	return out
}

func sortKnees(ks []Knee) {
	for i := 1; i < len(ks); i++ { // insertion sort: stable, NaN last
		for j := i; j > 0 && kneeLess(ks[j], ks[j-1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func kneeLess(a, b Knee) bool {
	switch {
	case math.IsNaN(a.Knee):
		return false
	case math.IsNaN(b.Knee):
		return true
	}
	return a.Knee > b.Knee
}
