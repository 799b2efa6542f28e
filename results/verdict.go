package results

// SummaryEntry is one scenario on one architecture as results.json's
// "summary" holds it: the verdict a script can read without recomputing.
type SummaryEntry struct {
	Scenario string `json:"scenario"`
	Arch     string `json:"arch"`
	Reps     int    `json:"reps"` // repetitions with a load result
	// Tier is the row's tier, 1 the best (doc.go); 0 when unranked.
	Tier int `json:"tier"`
	// RPS is the median msg/s with its 95% bootstrap interval; P90us and
	// P99us the median p90 and p99 in µs with theirs (ci95 null with fewer
	// than two repetitions). Open-loop rows that keep up are tiered by
	// P90us (RankLatency), the rest by RPS.
	RPS   Estimate `json:"rps"`
	P90us Estimate `json:"p90_us"`
	P99us Estimate `json:"p99_us"`
	// Errors counts load errors over every repetition.
	Errors int64 `json:"errors"`
	// ConnsServed is the fewest connections a repetition served (0 = not
	// recorded); Conns the connections asked for.
	ConnsServed int `json:"conns_served"`
	Conns       int `json:"conns"`
	// Steady is "steady", "unsteady" or "unknown" (SteadinessOf).
	Steady Steadiness `json:"steady"`
	// Clean is Row.Clean: no errors, crashes, hangs or starved
	// connections. Crashes and Hangs count repetitions.
	Clean   bool `json:"clean"`
	Crashes int  `json:"crashes"`
	Hangs   int  `json:"hangs"`
}

// Estimate is a median and its 95% bootstrap interval.
type Estimate struct {
	Median float64  `json:"median"`
	CI95   Interval `json:"ci95"`
}

// Summaries computes the run's verdict from r alone: one entry per
// scenario and architecture, in the tables' order (best first). Medians
// that could not be measured are 0 (JSON has no NaN).
func Summaries(r *Run) []SummaryEntry {
	var out []SummaryEntry
	for _, t := range Summarize(r) {
		for _, row := range t.Rows {
			out = append(out, SummaryEntry{
				Scenario: t.Scenario.Name, Arch: row.Arch, Reps: row.Measured, Tier: row.Tier,
				RPS:    Estimate{Median: orZero(row.MsgS.Median), CI95: row.MsgSCI},
				P90us:  Estimate{Median: orZero(row.P90.Median), CI95: row.P90CI},
				P99us:  Estimate{Median: orZero(row.P99.Median), CI95: row.P99CI},
				Errors: row.Errors, ConnsServed: row.ConnsServed, Conns: row.Conns,
				Steady: row.Steady, Clean: row.Clean(), Crashes: row.Crashes, Hangs: row.Hangs,
			})
		}
	}
	return out
}

func orZero(v float64) float64 {
	if v != v {
		return 0
	}
	return v
}
