package results

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// DefaultSLO is the p99 objective a rate sweep's knee is measured against
// when the run sets none: 1 ms, about ten loopback round trips on a busy
// 2-core machine, well above every architecture's unloaded p99 and well
// below the 10-100 ms where queueing has run away.
const DefaultSLO = time.Millisecond

// SLOus is the run's p99 objective in microseconds (Run.SLO or DefaultSLO).
func (r *Run) SLOus() float64 {
	if r.SLO > 0 {
		return r.SLO
	}
	return float64(DefaultSLO.Microseconds())
}

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
				row, ok := findRow(tables[sc.Name], sr.Arch)
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

// writeKnees writes the knee tables, the headline of a run with rate sweeps.
func writeKnees(w io.Writer, r *Run, style Style) error {
	for _, kt := range Knees(r) {
		title := fmt.Sprintf("Knee of %s: the highest achieved rate that kept up with the offered rate with p99 under %s and no errors", kt.Sweep, fmtMicros(kt.SLO))
		if style == Markdown {
			fmt.Fprintf(w, "### %s\n\n", title)
		} else {
			fmt.Fprintf(w, "%s\n", wrap(title, 100, ""))
		}
		var rend tw.Renderer = renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)})
		if style == Markdown {
			rend = renderer.NewMarkdown()
		}
		tbl := tablewriter.NewTable(w,
			tablewriter.WithRenderer(rend),
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithTrimSpace(tw.Off),
			tablewriter.WithRowAutoWrap(tw.WrapNone),
			tablewriter.WithAlignment(tw.Alignment{tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}),
		)
		tbl.Header([]string{"arch", "saturation msg/s", "knee msg/s", "knee/saturation", "p99 at knee", "step"})
		for _, k := range kt.Rows {
			cells := []string{k.Arch, "-", "-", "-", "-", "none under the SLO"}
			if !math.IsNaN(k.Saturation) {
				cells[1] = fmtCount(k.Saturation)
			}
			if !math.IsNaN(k.Knee) {
				cells[2], cells[4], cells[5] = fmtCount(k.Knee), fmtMicros(k.P99), k.Step
				if k.Saturation > 0 {
					cells[3] = fmt.Sprintf("%.0f%%", 100*k.Knee/k.Saturation)
				}
			}
			if err := tbl.Append(cells); err != nil {
				return fmt.Errorf("results: table: %w", err)
			}
		}
		if err := tbl.Render(); err != nil {
			return fmt.Errorf("results: table: %w", err)
		}
		fmt.Fprintln(w)
	}
	return nil
}
