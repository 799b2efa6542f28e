package loadgen

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Threshold is a pass/fail criterion on a Result, as k6 has: a run that
// misses any threshold exits nonzero, for use in CI. Its text form is
// METRIC OP VALUE, e.g. "p99<2ms", "rps>=50000", "errors==0".
//
// Metrics: the latency percentiles p50, p90, p99, p999, p9999 and min,
// mean, max (VALUE is a duration: 250us, 2ms, 1s); rps (messages per
// second); errors (all kinds) and mismatches (counts). OP is one of
// < <= > >= ==.
type Threshold struct {
	Metric string
	Op     string
	Value  float64 // microseconds for latency metrics
	Text   string  // as given
}

var thresholdRE = regexp.MustCompile(`^\s*([a-z0-9_]+)\s*(<=|>=|==|<|>)\s*(\S+)\s*$`)

var latencyMetrics = map[string]func(LatencyUS) float64{
	"min": func(l LatencyUS) float64 { return l.Min }, "mean": func(l LatencyUS) float64 { return l.Mean },
	"p50": func(l LatencyUS) float64 { return l.P50 }, "p90": func(l LatencyUS) float64 { return l.P90 },
	"p99": func(l LatencyUS) float64 { return l.P99 }, "p999": func(l LatencyUS) float64 { return l.P999 },
	"p9999": func(l LatencyUS) float64 { return l.P9999 }, "max": func(l LatencyUS) float64 { return l.Max },
}

// ParseThreshold parses METRIC OP VALUE.
func ParseThreshold(s string) (Threshold, error) {
	m := thresholdRE.FindStringSubmatch(s)
	if m == nil {
		return Threshold{}, fmt.Errorf("threshold %q: want METRIC OP VALUE, e.g. p99<2ms or rps>=10000", s)
	}
	t := Threshold{Metric: m[1], Op: m[2], Text: strings.TrimSpace(s)}
	switch {
	case latencyMetrics[t.Metric] != nil:
		d, err := time.ParseDuration(m[3])
		if err != nil {
			return Threshold{}, fmt.Errorf("threshold %q: %s needs a duration with a unit (e.g. 2ms, 500us)", s, t.Metric)
		}
		t.Value = float64(d) / float64(time.Microsecond)
	case t.Metric == "rps" || t.Metric == "errors" || t.Metric == "mismatches":
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return Threshold{}, fmt.Errorf("threshold %q: %s needs a number", s, t.Metric)
		}
		t.Value = v
	default:
		return Threshold{}, fmt.Errorf("threshold %q: unknown metric %q (want p50, p90, p99, p999, p9999, min, mean, max, rps, errors or mismatches)", s, t.Metric)
	}
	return t, nil
}

// Measure returns the threshold's metric in r (microseconds for latency).
func (t Threshold) Measure(r *Result) float64 {
	if f := latencyMetrics[t.Metric]; f != nil {
		return f(r.Latency)
	}
	switch t.Metric {
	case "rps":
		return r.RPS
	case "mismatches":
		return float64(r.Mismatches)
	default:
		var n int64
		for _, v := range r.Errors {
			n += v
		}
		return float64(n)
	}
}

// Check reports nil when r meets the threshold, else what it measured.
// A latency threshold on a run that verified no reply fails: its
// percentiles are absent, not 0.
func (t Threshold) Check(r *Result) error {
	if latencyMetrics[t.Metric] != nil && r.Requests == 0 {
		return fmt.Errorf("threshold %s missed: no verified reply: %s is absent", t.Text, t.Metric)
	}
	v := t.Measure(r)
	ok := false
	switch t.Op {
	case "<":
		ok = v < t.Value
	case "<=":
		ok = v <= t.Value
	case ">":
		ok = v > t.Value
	case ">=":
		ok = v >= t.Value
	case "==":
		ok = v == t.Value
	}
	if ok {
		return nil
	}
	unit := ""
	if latencyMetrics[t.Metric] != nil {
		unit = "us"
	}
	return fmt.Errorf("threshold %s missed: %s was %.6g%s", t.Text, t.Metric, v, unit)
}
