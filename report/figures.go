package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/montanaflynn/stats"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"archbench/loadgen"
	"archbench/results"
)

// ticksPerHalfDistance is how finely a histogram's spectrum is sampled:
// this many points each time the distance to 100% halves (wrk2 uses 5).
const ticksPerHalfDistance = 5

// chart is one figure's data, ready to draw.
type chart struct {
	title          string
	xLabel, yLabel string
	x, y           axis
	series         []series
	glyphs         bool // mark each point (sweeps); spectra are lines only
}

// axis is an axis's range, scale and labelled ticks, in the units plotted.
type axis struct {
	log      bool
	min, max float64
	ticks    []plot.Tick
}

// series is one architecture's line.
type series struct {
	name  string
	style int // palette index, fixed per architecture across a run's figures
	pts   plotter.XYs
	// extra, where set (the sweeps' figures), runs parallel to pts: each
	// point's interval and whether its marker is hollow.
	extra []pointExtra
}

// pointExtra is what a sweep figure draws at a point beside its marker.
type pointExtra struct {
	lo, hi float64 // the y value's 95% interval, in the units plotted; NaN = none
	hollow bool    // the row had errors or starved connections
}

// addPoint appends (x, y) with its extra, unless x or y is not finite.
func (s *series) addPoint(x, y float64, e pointExtra) {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return
	}
	s.pts = append(s.pts, plotter.XY{X: x, Y: y})
	s.extra = append(s.extra, e)
}

// scaled is s with x times sx and y (and its intervals) times sy.
func (s series) scaled(sx, sy float64) series {
	s.pts = scaled(s.pts, sx, sy)
	if s.extra != nil {
		extra := make([]pointExtra, len(s.extra))
		for i, e := range s.extra {
			extra[i] = pointExtra{lo: e.lo * sy, hi: e.hi * sy, hollow: e.hollow}
		}
		s.extra = extra
	}
	return s
}

// extraOf is the interval and marker of a table row's point.
func extraOf(row results.Row, iv results.Interval) pointExtra {
	e := pointExtra{lo: math.NaN(), hi: math.NaN(), hollow: row.Errors > 0 || row.Starved > 0}
	if !iv.Unknown() {
		e.lo, e.hi = iv.Lo, iv.Hi
	}
	return e
}

// archStyles gives every architecture of r a palette index: r.Archs order,
// then any other architecture in order of appearance.
func archStyles(r *results.Run) (order []string, style map[string]int) {
	style = map[string]int{}
	add := func(a string) {
		if _, ok := style[a]; !ok {
			style[a] = len(order)
			order = append(order, a)
		}
	}
	for _, a := range r.Archs {
		add(a)
	}
	for _, s := range r.Samples {
		add(s.Arch)
	}
	return order, style
}

// measured returns the results of scenario on arch that measured latency.
func measured(r *results.Run, scenario, arch string) []*loadgen.Result {
	var out []*loadgen.Result
	for _, s := range r.Samples {
		if s.Scenario == scenario && s.Arch == arch && s.Result != nil && s.Result.Latency.Count > 0 {
			out = append(out, s.Result)
		}
	}
	return out
}

// spectrumLine is one architecture's latency spectrum, x = 1/(1-p), y in µs.
type spectrumLine struct {
	arch  string
	pts   plotter.XYs
	reps  int   // repetitions it is drawn from
	count int64 // latencies behind it
	// summary is why the line goes through the summary percentiles instead
	// of a merged histogram ("" when it comes from the histogram).
	summary string
}

// spectrum computes the latency spectrum of every architecture that
// measured latency in scenario.
func spectrum(r *results.Run, scenario string, archs []string) []spectrumLine {
	var out []spectrumLine
	for _, a := range archs {
		rs := measured(r, scenario, a)
		if len(rs) == 0 {
			continue
		}
		l := spectrumLine{arch: a, reps: len(rs)}
		h, err := merge(rs)
		if err == nil {
			l.pts, l.count = histogramPoints(h), h.TotalCount()
		} else {
			l.summary = err.Error()
			l.pts, l.count = summaryPoints(rs)
		}
		out = append(out, l)
	}
	return out
}

// merge decodes and merges the repetitions' histograms. It fails if any
// repetition has none, so that a line never mixes the two sources.
func merge(rs []*loadgen.Result) (*hdr.Histogram, error) {
	var hs []*hdr.Histogram
	var lowest, highest int64
	var sig int64
	for _, res := range rs {
		if len(res.Histogram) == 0 {
			return nil, fmt.Errorf("no histogram stored")
		}
		h, err := decode(res)
		if err != nil {
			return nil, err
		}
		if len(hs) == 0 || h.LowestTrackableValue() < lowest {
			lowest = h.LowestTrackableValue()
		}
		highest, sig = max(highest, h.HighestTrackableValue()), max(sig, h.SignificantFigures())
		hs = append(hs, h)
	}
	if lowest < 1 || highest < 2*lowest || sig < 1 || sig > 5 {
		return nil, fmt.Errorf("histogram with bad parameters (lowest %d, highest %d, %d significant figures)", lowest, highest, sig)
	}
	m := hdr.New(lowest, highest, int(sig))
	for _, h := range hs {
		if dropped := m.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("merging histograms dropped %d values", dropped)
		}
	}
	if m.TotalCount() == 0 {
		return nil, fmt.Errorf("empty histogram")
	}
	return m, nil
}

// decode decodes a stored histogram. hdrhistogram-go indexes into the
// encoded bytes without checking their length, so a corrupt results.json
// could panic it; that becomes an error here.
func decode(res *loadgen.Result) (h *hdr.Histogram, err error) {
	defer func() {
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("corrupt histogram: %v", p)
		}
	}()
	h, err = res.DecodeHistogram()
	if err != nil {
		return nil, fmt.Errorf("corrupt histogram: %w", err)
	}
	return h, nil
}

// histogramPoints samples h's percentile distribution. x = 1/(1-p) is
// capped at the count: beyond the 1-1/n quantile the data has only its max.
func histogramPoints(h *hdr.Histogram) plotter.XYs {
	n := float64(h.TotalCount())
	var pts plotter.XYs
	for _, b := range h.CumulativeDistributionWithTicks(ticksPerHalfDistance) {
		x := n
		if b.Quantile < 100 {
			x = min(n, 1/(1-b.Quantile/100))
		}
		pts = appendPoint(pts, max(1, x), float64(b.ValueAt))
	}
	return pts
}

// summaryPoints is the fallback spectrum through the stored percentiles
// (min, p50, p90, p99, p99.9, p99.99, max), each the median across
// repetitions, at the x each has; percentiles the count cannot resolve are
// left out.
func summaryPoints(rs []*loadgen.Result) (plotter.XYs, int64) {
	med := func(f func(*loadgen.Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		m, _ := stats.Median(v) // NaN for none
		return m
	}
	n := med(func(r *loadgen.Result) float64 { return float64(r.Latency.Count) })
	var pts plotter.XYs
	for _, p := range []struct {
		x float64
		f func(l loadgen.LatencyUS) float64
	}{
		{1, func(l loadgen.LatencyUS) float64 { return l.Min }},
		{2, func(l loadgen.LatencyUS) float64 { return l.P50 }},
		{10, func(l loadgen.LatencyUS) float64 { return l.P90 }},
		{100, func(l loadgen.LatencyUS) float64 { return l.P99 }},
		{1e3, func(l loadgen.LatencyUS) float64 { return l.P999 }},
		{1e4, func(l loadgen.LatencyUS) float64 { return l.P9999 }},
	} {
		if p.x < n || p.x == 1 {
			pts = appendPoint(pts, p.x, med(func(r *loadgen.Result) float64 { return p.f(r.Latency) }))
		}
	}
	pts = appendPoint(pts, max(1, n), med(func(r *loadgen.Result) float64 { return r.Latency.Max }))
	return pts, int64(n)
}

// appendPoint appends a finite point unless it repeats the last one.
func appendPoint(pts plotter.XYs, x, y float64) plotter.XYs {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return pts
	}
	if k := len(pts); k > 0 && pts[k-1].X == x && pts[k-1].Y == y {
		return pts
	}
	return append(pts, plotter.XY{X: x, Y: y})
}

// sweepKind is the one setting a sweep varies.
type sweepKind int

const (
	noSweep   sweepKind = iota
	connSweep           // load.conns
	rateSweep           // load.rate (open loop only), or a rate sweep's steps
)

// sweeps finds the scenarios that form sweeps of kind: groups of two or
// more whose server and load settings are equal except the swept one (and
// the generator's address, timeout and seed, which do not shape the load).
// A rate sweep's steps (results.Scenario.Sweep, each architecture offered a
// fraction of its own saturation rate) form a group of their own, by the
// sweep they belong to; its closed-loop saturation run is no step.
// Groups come in suite order, each sorted by the swept value; a scenario
// repeating a value already in its group is left out.
func sweeps(r *results.Run, kind sweepKind) [][]results.Scenario {
	var keys []string
	groups := map[string][]results.Scenario{}
	for _, sc := range r.Scenarios {
		var k string
		switch sw := sc.Sweep; {
		case sw != nil && kind == rateSweep:
			if sw.Fraction == 0 {
				continue
			}
			k = "rate sweep " + sw.Of
		case kind == rateSweep && !sc.OpenLoop():
			continue
		default:
			k = settingsKey(sc, kind)
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], sc)
	}
	var out [][]results.Scenario
	for _, k := range keys {
		g := slices.Clone(groups[k])
		slices.SortStableFunc(g, func(a, b results.Scenario) int {
			return cmp.Compare(sweepValue(a, kind), sweepValue(b, kind))
		})
		g = slices.CompactFunc(g, func(a, b results.Scenario) bool { return sweepValue(a, kind) == sweepValue(b, kind) })
		if len(g) >= 2 {
			out = append(out, g)
		}
	}
	return out
}

// settingsKey is sc's server and load settings, less the swept one and the
// generator's knobs that do not shape the load, and sc's place in a rate
// sweep: scenarios with equal keys form a sweep.
func settingsKey(sc results.Scenario, kind sweepKind) string {
	s, l := results.Workload(sc)
	switch kind {
	case connSweep:
		l.Conns = 0
	case rateSweep:
		l.Rate = 0
	}
	b, err := json.Marshal(struct {
		Server, Load any
		Sweep        *results.SweepStep
	}{s, l, sc.Sweep})
	if err != nil { // settings json cannot encode: a sweep of their own
		return "scenario " + sc.Name
	}
	return string(b)
}

func sweepValue(sc results.Scenario, kind sweepKind) float64 {
	if kind == rateSweep {
		if sc.Sweep != nil {
			return sc.Sweep.Fraction // rates relative to each architecture's saturation
		}
		return sc.Load.Rate
	}
	return float64(sc.Load.Conns)
}

// valueAxis is an axis for values (µs, msg/s, ...) already scaled to the
// unit shown: linear from 0, or logarithmic when allowed and the values
// span more than a factor of 50 (so that 20 µs and 1 s lines both show).
func valueAxis(vals []float64, allowLog bool) axis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v > 0 && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 1
	}
	if allowLog && hi/lo > 50 {
		return logAxis(lo, hi)
	}
	top := hi * 1.05
	return axis{min: 0, max: top, ticks: plot.DefaultTicks{}.Ticks(0, top)}
}

// logAxis spans [lo, hi] (both > 0) with ticks at 1, 2 and 5 times powers
// of ten, labelled all when the axis spans at most three decades, else only
// the powers of ten.
func logAxis(lo, hi float64) axis {
	steps := []float64{1, 2, 5}
	e := math.Floor(math.Log10(lo))
	var vals []float64
	for i := 0; ; i++ {
		v := steps[i%3] * math.Pow(10, e+float64(i/3))
		vals = append(vals, v)
		if v >= hi || len(vals) > 200 {
			break
		}
	}
	// The axis starts at the largest tick value not above lo.
	start := 0
	for i, v := range vals {
		if v <= lo*(1+1e-9) {
			start = i
		}
	}
	vals = vals[start:]
	a := axis{log: true, min: vals[0], max: vals[len(vals)-1]}
	all := a.max/a.min <= 1000
	for i, v := range vals {
		t := plot.Tick{Value: v}
		if all || (start+i)%3 == 0 {
			t.Label = strconv.FormatFloat(v, 'g', -1, 64)
		}
		a.ticks = append(a.ticks, t)
	}
	return a
}

// percentileAxis is the spectrum's x axis, 1/(1-p) on a log scale from 1
// (0%) to top, ticks at 0%, 50%, 90%, 99%, 99.9%, ...
func percentileAxis(top float64) axis {
	top = max(top, 10)
	a := axis{log: true, min: 1, max: top}
	a.ticks = append(a.ticks, plot.Tick{Value: 1, Label: "0%"}, plot.Tick{Value: 2, Label: "50%"})
	for k := 1; math.Pow(10, float64(k)) <= top*(1+1e-9); k++ {
		label := "90%"
		if k > 1 {
			label = "99." + strings.Repeat("9", k-2) + "%"
			label = strings.Replace(label, ".%", "%", 1)
		}
		a.ticks = append(a.ticks, plot.Tick{Value: math.Pow(10, float64(k)), Label: label})
	}
	return a
}

// latencyUnit picks µs or ms for latencies up to maxUS.
func latencyUnit(maxUS float64) (scale float64, name string) {
	if maxUS >= 1e4 {
		return 1e-3, "ms"
	}
	return 1, "µs"
}

// rateUnit picks msg/s, thousands or millions for rates up to top.
func rateUnit(top float64) (scale float64, name string) {
	switch {
	case top >= 1e7:
		return 1e-6, "million msg/s"
	case top >= 1e4:
		return 1e-3, "thousand msg/s"
	}
	return 1, "msg/s"
}

// scaled returns pts with x and y multiplied.
func scaled(pts plotter.XYs, sx, sy float64) plotter.XYs {
	out := make(plotter.XYs, len(pts))
	for i, p := range pts {
		out[i] = plotter.XY{X: p.X * sx, Y: p.Y * sy}
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName makes s safe as a file name.
func fileName(s string) string {
	s = strings.Trim(unsafeName.ReplaceAllString(s, "_"), "._")
	if s == "" {
		return "x"
	}
	return s
}
