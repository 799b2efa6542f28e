package report

import (
	"fmt"
	"math"
	"strings"

	"archbench/results"
)

// Verdict is results.md's and report.html's opening: one short section per
// scenario with its top tier, what separates it from the next, and the
// cells flagged (not clean, noisy, unsteady). The tables and figures follow.
func Verdict(r *results.Run) Document {
	d := Document{Heading{Level: 2, Text: "Verdict"}, Paragraph{Wrap: true, Spans: []Span{{Text: "Per scenario: the " +
		"architectures in the top tier, what separates them from the next tier, and the rows to read with " +
		"care. A tier boundary stands only where the rows on either side of it are told apart (a bootstrap " +
		"of the ratio of their medians over the repetitions excludes 1, with an effect of 5% or more) and " +
		"the groups above and below it differ by 10% or more (results/doc.go). With 3 repetitions the " +
		"test is weak: read a tier as \"not shown to differ\", not as \"equal\"."}}}}
	for _, t := range results.Summarize(r) {
		for i := range t.Rows { // named as the tables name them
			if r.IsExternal(t.Rows[i].Arch) {
				t.Rows[i].Arch += ExternalMark
			}
		}
		d = append(d, Heading{Level: 3, Text: t.Scenario.Name}, verdictList(t))
	}
	return d
}

func verdictList(t results.Table) List {
	var top []string
	tiers := 0
	for _, row := range t.Rows {
		tiers = max(tiers, row.Tier)
		if row.Tier == 1 {
			top = append(top, fmt.Sprintf("%s (%s)", row.Arch, verdictMetric(t, row)))
		}
	}
	if len(top) == 0 {
		return List{"No architecture measured anything."}
	}
	l := List{"Tier 1: " + strings.Join(top, ", ") + "."}
	if upper, lower, ratio, metric, ok := t.Separation(1); ok {
		l = append(l, separationText(t, upper, lower, ratio, metric))
	} else if len(t.Rows) > 1 {
		l = append(l, "No tier 2: the rest cannot be told apart from the best.")
	}
	if tiers > 2 {
		l[len(l)-1] += fmt.Sprintf(" %d tiers in all.", tiers)
	}
	if f := flagged(t); len(f) > 0 {
		l = append(l, "Flagged: "+strings.Join(f, "; ")+".")
	}
	return l
}

// verdictMetric is the value a row is ranked by, as the verdict quotes it.
func verdictMetric(t results.Table, r results.Row) string {
	if t.OpenLoop && !math.IsNaN(r.Ratio) && r.Ratio >= results.KeepsUp && !math.IsNaN(r.P90.Median) {
		return results.RankLatency + " " + fmtMicros(r.P90.Median) + fmtHalfWidth(r.P90.Median, r.P90CI)
	}
	if math.IsNaN(r.MsgS.Median) {
		return "unmeasured"
	}
	return fmtCount(r.MsgS.Median) + fmtHalfWidth(r.MsgS.Median, r.MsgSCI) + " msg/s"
}

func separationText(t results.Table, upper, lower results.Row, ratio results.Ratio, metric string) string {
	head := fmt.Sprintf("Tier 2 starts at %s", lower.Arch)
	switch metric {
	case "clean":
		return fmt.Sprintf("%s, ranked after the clean rows whatever its speed (%s).", head, uncleanReason(lower))
	case "keeps up":
		return fmt.Sprintf("%s, which does not keep up with its target rate (%.0f%% of it).", head, 100*lower.Ratio)
	case results.RankLatency:
		return fmt.Sprintf("%s: its %s is %s %s's.", head, results.RankLatency, ratioWords(ratio), upper.Arch)
	}
	return fmt.Sprintf("%s: its msg/s is %s %s's.", head, ratioWords(ratio), upper.Arch)
}

// ratioWords is "0.83× (95% interval 0.81–0.85)".
func ratioWords(r results.Ratio) string {
	if r.CI.Unknown() {
		return fmt.Sprintf("%.2f×", r.Median)
	}
	return fmt.Sprintf("%.2f× (95%% interval %.2f–%.2f)", r.Median, r.CI.Lo, r.CI.Hi)
}

// uncleanReason says why a row is not clean.
func uncleanReason(r results.Row) string {
	var why []string
	switch {
	case r.Errors == 1:
		why = append(why, "1 error")
	case r.Errors > 1:
		why = append(why, fmtCount(float64(r.Errors))+" errors")
	}
	if r.Crashes > 0 {
		why = append(why, fmt.Sprintf("crash %d/%d", r.Crashes, r.Runs))
	}
	if r.Hangs > 0 {
		why = append(why, fmt.Sprintf("hang %d/%d", r.Hangs, r.Runs))
	}
	if r.Starved > 0 {
		why = append(why, fmt.Sprintf("starved connections %d/%d", r.Starved, r.Measured))
	}
	return strings.Join(why, ", ")
}

// flagged lists the rows to read with care: not clean, noisy, unsteady.
func flagged(t results.Table) []string {
	var out []string
	for _, r := range t.Rows {
		var why []string
		if !r.Clean() {
			why = append(why, uncleanReason(r))
		}
		if r.MsgS.Noisy() {
			why = append(why, fmt.Sprintf("noisy msg/s, CV %.0f%%", 100*r.MsgS.CV))
		}
		if r.Steady == results.Unsteady {
			why = append(why, fmt.Sprintf("unsteady %d/%d (%s)", r.Unsteady, r.Measured, r.SteadyWhy))
		}
		if len(why) > 0 {
			out = append(out, r.Arch+": "+strings.Join(why, ", "))
		}
	}
	return out
}
