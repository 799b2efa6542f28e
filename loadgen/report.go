package loadgen

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes r as a readable summary in the manner of wrk2.
func WriteText(w io.Writer, r *Result) error {
	c := r.Config
	var b strings.Builder
	how := fmt.Sprintf("%s framing", c.Framing)
	if c.Protocol == ProtocolXMLRPC {
		how = "XML-RPC upper calls, one per request"
		if c.Multicall > 0 {
			how = fmt.Sprintf("XML-RPC upper calls, system.multicall of %d per request", c.Multicall)
		}
	}
	fmt.Fprintf(&b, "Running %s test @ %s %s (%s)\n", secs(c.Duration.Seconds()), c.Network, c.Addr, how)
	loop := fmt.Sprintf("closed loop, depth %d", c.Depth)
	if c.Rate > 0 {
		loop = fmt.Sprintf("open loop at %s msg/s", strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	fmt.Fprintf(&b, "  %d connections, %s, %d loop(s); %d-byte %s messages", c.Conns, loop, c.Loops, c.Size, c.Content)
	if c.Warmup > 0 {
		fmt.Fprintf(&b, "; warm-up %s excluded", secs(c.Warmup.Seconds()))
	}
	b.WriteString("\n")
	l := r.Latency
	// An empty histogram has no percentiles: "-", not 0us.
	us := func(v float64) string {
		if l.Count == 0 {
			return "-"
		}
		return us(v)
	}
	fmt.Fprintf(&b, "  Latency    %9s %9s %9s %9s\n", "min", "mean", "max", "count")
	fmt.Fprintf(&b, "             %9s %9s %9s %9d\n", us(l.Min), us(l.Mean), us(l.Max), l.Count)
	fmt.Fprintf(&b, "  Latency Distribution (HdrHistogram, µs resolution")
	if c.Rate > 0 {
		b.WriteString(", from each message's intended send time")
	}
	b.WriteString(")\n")
	for _, p := range []struct {
		name string
		v    float64
	}{{"50.000%", l.P50}, {"90.000%", l.P90}, {"99.000%", l.P99}, {"99.900%", l.P999}, {"99.990%", l.P9999}, {"100.000%", l.Max}} {
		fmt.Fprintf(&b, "  %8s %9s\n", p.name, us(p.v))
	}
	if c.Rate > 0 {
		s := r.SendLag
		fmt.Fprintf(&b, "  Send lag (generator behind schedule): p50 %s, p99 %s, max %s\n", us(s.P50), us(s.P99), us(s.Max))
	}
	fmt.Fprintf(&b, "  %d replies verified in %.2fs, %.2f MB/s payload each way\n", r.Requests, r.Elapsed, r.MBps)
	if t := r.Target; t != nil {
		worked := t.Addr
		if worked == "" {
			worked = "none connected"
		}
		fmt.Fprintf(&b, "  Target: %s → %s (of %s), resolve %.1fus, connect %.1fus\n", t.Host, worked, strings.Join(t.Addrs, " "), t.ResolveUS, t.ConnectUS)
	}
	if r.WireOut > 0 {
		fmt.Fprintf(&b, "  Bytes on the wire per message: %.1f out, %.1f in\n", r.WireOut, r.WireIn)
	}
	fmt.Fprintf(&b, "  Errors: ")
	sep := ""
	for _, k := range kindNames {
		if n, ok := r.Errors[k]; ok { // a result from before a kind existed lacks it
			fmt.Fprintf(&b, "%s%s %d", sep, k, n)
			sep = ", "
		}
	}
	b.WriteString("\n")
	if r.Unsent > 0 || r.Abandoned > 0 {
		fmt.Fprintf(&b, "  Unsent (connection down or queue full; in the latency at their age at the end): %d; abandoned in flight on failed connections (in the latency at their age): %d\n", r.Unsent, r.Abandoned)
	}
	if f := r.Fairness; f != nil {
		fmt.Fprintf(&b, "  conns served: %d/%d, fairness (Jain) %.2f, replies per conn min/median/max %d/%d/%d\n",
			r.ConnsServed, c.Conns, f.JainIndex, f.Min, f.Median, f.Max)
	}
	fmt.Fprintf(&b, "Requests/sec: %12.2f\n", r.RPS)
	if c.Rate > 0 {
		fmt.Fprintf(&b, "Target/sec:   %12.2f\n", r.TargetRPS)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHgrm writes r's latency percentile distribution in HdrHistogram's
// .hgrm text format, values in milliseconds (as wrk2 and the HdrHistogram
// plotter expect).
func WriteHgrm(w io.Writer, r *Result) error {
	h, err := r.DecodeHistogram()
	if err != nil {
		return err
	}
	if _, err := h.PercentilesPrint(w, 5, 1000); err != nil {
		return fmt.Errorf("loadgen: write hgrm: %w", err)
	}
	return nil
}

// us formats microseconds with a readable unit.
func us(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return fmt.Sprintf("%.0fus", v)
	}
}

func secs(s float64) string { return fmt.Sprintf("%gs", s) }
