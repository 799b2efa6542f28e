package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"archbench/results"
)

// Figure is one rendered figure; figures/NAME.svg and figures/NAME.png.
type Figure struct {
	Name    string // file name without extension, unique in the report
	Title   string
	Caption string // what the figure shows and how it was computed
	SVG     []byte
	PNG     []byte

	chart chart
}

// section is a group of figures of one kind under a heading.
type section struct {
	heading string
	intro   string // Markdown paragraph(s) before the figures
	figs    []*Figure
	outro   string // Markdown paragraph after the figures (notes), or ""
}

// buildSections computes every figure's data and caption from r alone.
func buildSections(r *results.Run) []section {
	order, style := archStyles(r)
	tables := map[string]results.Table{}
	for _, t := range results.Summarize(r) {
		tables[t.Scenario.Name] = t
	}
	names := map[string]bool{}
	unique := func(s string) string {
		s = fileName(s)
		n := s
		for i := 2; names[n]; i++ {
			n = fmt.Sprintf("%s-%d", s, i)
		}
		names[n] = true
		return n
	}

	conns := section{heading: "Throughput against connections"}
	for _, g := range sweeps(r, connSweep) {
		if f := connsFigure(g, tables, order, style); f != nil {
			f.Name = unique("throughput-" + g[0].Name)
			conns.figs = append(conns.figs, f)
		}
	}
	if len(conns.figs) == 0 {
		conns.intro = "This run has no connection sweep (two or more scenarios whose settings differ only " +
			"in the number of connections), so there is no throughput-against-connections figure."
	}

	rate := section{heading: "p99 latency against offered rate"}
	for _, g := range sweeps(r, rateSweep) {
		if f := rateFigure(g, tables, order, style); f != nil {
			f.Name = unique("p99-" + g[0].Name)
			rate.figs = append(rate.figs, f)
		}
	}
	if len(rate.figs) == 0 {
		rate.intro = "This run has no rate sweep (two or more open-loop scenarios whose settings differ only " +
			"in the offered rate), so there is no p99-against-rate figure."
	}

	spectra := section{
		heading: "Latency percentile spectra",
		intro: "One figure per scenario, in the manner of wrk2 and HdrHistogram's plotter: latency against " +
			"percentile, with the percentile on a log scale of 1/(1-p) so that each step right is ten times " +
			"rarer (50%, 90%, 99%, 99.9%, ...). Each line is the HdrHistogram of every latency an " +
			"architecture measured, merged over its repetitions, so its p99 can differ slightly from the " +
			"tables' p99, which is the median of the repetitions' p99.",
	}
	var empty []string
	for _, sc := range r.Scenarios {
		if f := spectrumFigure(r, sc, order, style); f != nil {
			f.Name = unique("spectrum-" + sc.Name)
			spectra.figs = append(spectra.figs, f)
		} else {
			empty = append(empty, sc.Name)
		}
	}
	if len(empty) > 0 {
		spectra.outro = fmt.Sprintf("No latency was measured in %s: no spectrum.", strings.Join(empty, ", "))
	}
	loss := section{heading: "Loss against offered rate (UDP)"}
	for _, g := range sweeps(r, rateSweep) {
		if !isUDP(g[0]) {
			continue
		}
		if f := lossFigure(r, g, order, style); f != nil { // udp.go
			f.Name = unique("loss-" + g[0].Name)
			loss.figs = append(loss.figs, f)
		}
	}
	if len(loss.figs) > 0 {
		return []section{conns, rate, loss, spectra}
	}
	return []section{conns, rate, spectra}
}

// spectrumFigure is scenario sc's latency spectrum, or nil if no
// architecture measured latency in it.
func spectrumFigure(r *results.Run, sc results.Scenario, order []string, style map[string]int) *Figure {
	lines := spectrum(r, sc.Name, order)
	if len(lines) == 0 {
		return nil
	}
	var topX float64
	var us []float64
	for _, l := range lines {
		for _, p := range l.pts {
			topX, us = max(topX, p.X), append(us, p.Y)
		}
	}
	y, scale, yLabel := latencyAxis(us)
	c := chart{
		title:  sc.Name + ": latency by percentile",
		xLabel: "percentile",
		yLabel: yLabel,
		x:      percentileAxis(topX),
		y:      y,
	}
	var from, fallback []string
	for _, l := range lines {
		c.series = append(c.series, series{name: l.arch, style: style[l.arch], pts: scaled(l.pts, 1, scale)})
		if l.summary == "" {
			from = append(from, fmt.Sprintf("%s: %s, %s latencies", l.arch, plural(l.reps, "repetition"), fmtCount(float64(l.count))))
		} else {
			fallback = append(fallback, fmt.Sprintf("%s (%s)", l.arch, l.summary))
		}
	}
	c.series = dropNonPositive(c.series, c.x, c.y)

	var b strings.Builder
	fmt.Fprintf(&b, "Latency by percentile in %s (%s), one line per architecture", sc.Name, settingsText(sc, brief, noSweep, 0))
	if len(from) > 0 {
		fmt.Fprintf(&b, "; each line is the HdrHistogram merged over the architecture's repetitions (%s)", strings.Join(from, "; "))
	}
	b.WriteString(".")
	if len(fallback) > 0 {
		fmt.Fprintf(&b, " Drawn through the stored summary percentiles (min, p50, p90, p99, p99.9, p99.99, max; "+
			"medians across repetitions) instead: %s.", strings.Join(fallback, "; "))
	}
	if sc.Load.Rate > 0 {
		b.WriteString(" Open loop: latency runs from each message's intended send time, so queueing " +
			"behind a stall counts (coordinated omission corrected).")
	}
	if c.y.log {
		b.WriteString(" The latency axis is logarithmic: the lines span more than a factor of 50.")
	}
	return &Figure{Title: c.title, Caption: b.String(), chart: c}
}

// connsFigure is throughput against connections over the sweep g, or nil
// if no architecture has a point.
func connsFigure(g []results.Scenario, tables map[string]results.Table, order []string, style map[string]int) *Figure {
	var xs, top []float64
	for _, sc := range g {
		xs = append(xs, float64(sc.Load.Conns))
	}
	var ss []series
	hollow := false
	for _, a := range order {
		s := series{name: a, style: style[a]}
		for _, sc := range g {
			if row, ok := tables[sc.Name].Row(a); ok {
				s.addPoint(float64(sc.Load.Conns), row.MsgS.Median, extraOf(row, row.MsgSCI))
			}
		}
		if len(s.pts) > 0 {
			ss = append(ss, s)
			for i, p := range s.pts {
				top = append(top, p.Y)
				hollow = hollow || s.extra[i].hollow
			}
		}
	}
	if len(ss) == 0 {
		return nil
	}
	scale, unit := rateUnit(slicesMax(top))
	for i := range ss {
		ss[i] = ss[i].scaled(1, scale)
	}
	c := chart{
		title:  "Throughput against connections",
		xLabel: "connections",
		yLabel: unit + " (median of repetitions)",
		x:      dataAxis(xs),
		glyphs: true,
		series: ss,
	}
	var ys []float64
	for _, s := range ss {
		for i, p := range s.pts {
			ys = appendPositive(append(ys, p.Y), s.extra[i].lo, s.extra[i].hi)
		}
	}
	c.y = valueAxis(ys, false)
	c.series = dropNonPositive(c.series, c.x, c.y)
	caption := fmt.Sprintf("Verified messages per second (median of the repetitions) against the number of "+
		"connections, one line per architecture, over the scenarios %s (%s; equal but for the connection count); "+
		"error bars are the 95%% bootstrap interval of each median. "+
		"Where a line flattens or falls, that design stops scaling; the tables give each point's errors and spread.",
		scenarioNames(g), settingsText(g[0], brief, connSweep, 0))
	if hollow {
		caption += " " + hollowNote
	}
	return &Figure{Title: c.title, Caption: caption, chart: c}
}

// rateFigure is p99 against achieved rate over the rate sweep g, or nil if
// no architecture has a point.
func rateFigure(g []results.Scenario, tables map[string]results.Table, order []string, style map[string]int) *Figure {
	var ss []series
	var rates, lats []float64
	hollow := false
	for _, a := range order {
		s := series{name: a, style: style[a]}
		for _, sc := range g {
			if row, ok := tables[sc.Name].Row(a); ok {
				s.addPoint(row.MsgS.Median, row.P99.Median, extraOf(row, row.P99CI))
			}
		}
		if len(s.pts) > 0 {
			ss = append(ss, s)
			for i, p := range s.pts {
				rates, lats = append(rates, p.X), appendPositive(append(lats, p.Y), s.extra[i].lo, s.extra[i].hi)
				hollow = hollow || s.extra[i].hollow
			}
		}
	}
	if len(ss) == 0 {
		return nil
	}
	var offered []string
	for _, sc := range g {
		if sc.Sweep != nil {
			offered = append(offered, fmt.Sprintf("%.0f%%", 100*sc.Sweep.Fraction))
		} else {
			offered = append(offered, fmtCount(sc.Load.Rate))
		}
	}
	offeredText := strings.Join(offered, ", ") + " msg/s"
	if g[0].Sweep != nil {
		offeredText = strings.Join(offered, ", ") + " of each architecture's own saturation rate (" +
			results.SweepName(g[0].Sweep.Of, 0) + ")"
	}
	rateScale, rateName := rateUnit(max(slicesMax(rates), g[len(g)-1].Load.Rate))
	y, latScale, yLabel := latencyAxis(lats)
	var xs []float64
	for i := range ss {
		ss[i] = ss[i].scaled(rateScale, latScale)
		for _, p := range ss[i].pts {
			xs = append(xs, p.X)
		}
	}
	c := chart{
		title:  "p99 latency against achieved rate",
		xLabel: "achieved rate (" + rateName + ")",
		yLabel: "p99 " + yLabel,
		x:      valueAxis(appendPositive(xs, g[len(g)-1].Load.Rate*rateScale), true),
		y:      y,
		glyphs: true,
		series: ss,
	}
	c.series = dropNonPositive(c.series, c.x, c.y)
	caption := fmt.Sprintf("p99 latency against the achieved rate (both medians of the repetitions), one line per "+
		"architecture, at offered rates of %s (scenarios %s; %s); error bars are the 95%% bootstrap interval "+
		"of each p99 median. Latency runs from each message's "+
		"intended send time. A line that turns up steeply has reached its saturation point; one that bends "+
		"back to the left could not deliver the rate offered.",
		offeredText, scenarioNames(g), settingsText(g[0], brief, rateSweep, 0))
	if hollow {
		caption += " " + hollowNote
	}
	if c.y.log {
		caption += " The latency axis is logarithmic."
	}
	return &Figure{Title: c.title, Caption: caption, chart: c}
}

// appendPositive appends each v above 0 to xs (a rate sweep's
// scenarios have no fixed rate).
func appendPositive(xs []float64, vs ...float64) []float64 {
	for _, v := range vs {
		if v > 0 {
			xs = append(xs, v)
		}
	}
	return xs
}

// latencyAxis is an axis for latencies given in µs, and the scale to
// apply to them: logarithmic in µs with labels that carry their unit (20µs,
// 1ms, 2s) when they span more than a factor of 50, else linear in µs or ms.
func latencyAxis(us []float64) (a axis, scale float64, label string) {
	if a = valueAxis(us, true); a.log {
		for i, t := range a.ticks {
			if t.Label != "" {
				a.ticks[i].Label = fmtLatency(t.Value)
			}
		}
		return a, 1, "latency"
	}
	scale, unit := latencyUnit(slicesMax(us))
	v := make([]float64, len(us))
	for i, x := range us {
		v[i] = x * scale
	}
	return valueAxis(v, false), scale, "latency (" + unit + ")"
}

// fmtLatency labels a tick at us microseconds: 20µs, 500µs, 1ms, 2s.
func fmtLatency(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'g', -1, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'g', -1, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'g', -1, 64) + "µs"
}

// dataAxis is an axis whose ticks are the data values themselves (the
// swept connection counts): logarithmic when they span a factor of 10.
func dataAxis(vals []float64) axis {
	lo, hi := slicesMin(vals), slicesMax(vals)
	var a axis
	if lo > 0 && hi/lo >= 10 {
		a = axis{log: true, min: lo / 1.25, max: hi * 1.25}
	} else {
		pad := max((hi-lo)*0.05, 0.5)
		a = axis{min: lo - pad, max: hi + pad}
	}
	for _, v := range vals {
		a.ticks = append(a.ticks, plot.Tick{Value: v, Label: fmtCount(v)})
	}
	return a
}

// dropNonPositive removes points a log axis cannot show and points outside
// the axes, and series left empty.
func dropNonPositive(ss []series, x, y axis) []series {
	var out []series
	for _, s := range ss {
		var pts plotter.XYs
		var extra []pointExtra
		for i, p := range s.pts {
			if (x.log && p.X <= 0) || (y.log && p.Y <= 0) {
				continue
			}
			pts = append(pts, p)
			if s.extra != nil {
				e := s.extra[i]
				if y.log && e.lo <= 0 { // no bar reaching zero on a log axis
					e.lo, e.hi = math.NaN(), math.NaN()
				}
				extra = append(extra, e)
			}
		}
		if len(pts) > 0 {
			s.pts, s.extra = pts, extra
			out = append(out, s)
		}
	}
	return out
}

// hollowNote explains the hollow markers of the sweeps' figures.
const hollowNote = "A hollow marker is a point whose architecture had load errors or starved connections " +
	"there (the tables mark it †): its value counts only the messages that were answered."

func scenarioNames(g []results.Scenario) string {
	var n []string
	for _, sc := range g {
		n = append(n, sc.Name)
	}
	return strings.Join(n, ", ")
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if !math.IsNaN(x) {
			m = max(m, x)
		}
	}
	if math.IsInf(m, -1) {
		return 0
	}
	return m
}

func slicesMin(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		if !math.IsNaN(x) {
			m = min(m, x)
		}
	}
	if math.IsInf(m, 1) {
		return 0
	}
	return m
}
