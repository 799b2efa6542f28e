package report

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/montanaflynn/stats"

	"archbench/loadgen"
	"archbench/protocol"
	"archbench/results"
)

// The stacks table: scenarios that differ only in their stack (the
// server's framing, the load's protocol and multicall) set against their
// twin with raw framing on the byte protocol, as the stack suite asks:
// what does framing, or an RPC layer, cost against raw bytes?

// stackKey is sc's settings less its stack: scenarios with equal keys are
// the same work over different stacks.
func stackKey(sc results.Scenario) string {
	s, l := results.Workload(sc)
	s.Framing, l.Framing, l.Protocol, l.Multicall = 0, 0, "", 0
	b, _ := json.Marshal(struct{ S, L any }{s, l})
	return string(b)
}

// stackName says sc's stack: raw, line, length, xmlrpc, xmlrpc multicall 16.
func stackName(sc results.Scenario) string {
	switch {
	case sc.Load.Protocol == loadgen.ProtocolXMLRPC && sc.Load.Multicall > 0:
		return fmt.Sprintf("xmlrpc multicall %d", sc.Load.Multicall)
	case sc.Load.Protocol != "":
		return sc.Load.Protocol
	}
	return sc.Server.Framing.String()
}

func isRawBytes(sc results.Scenario) bool {
	return sc.Load.Protocol == "" && sc.Server.Framing == protocol.Raw && sc.Sweep == nil
}

// wirePerMsg is the median over arch's repetitions in scenario of the
// bytes on the wire per message, both ways (NaN when not recorded).
func wirePerMsg(r *results.Run, scenario, arch string) float64 {
	var v []float64
	for _, s := range r.Samples {
		if s.Scenario == scenario && s.Arch == arch && s.Result != nil && s.Result.WireOut > 0 && s.Result.Requests > 0 {
			v = append(v, s.Result.WireOut+s.Result.WireIn)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	m, _ := stats.Median(v)
	return m
}

// stackTable is the stacks table of r, or nil when no two scenarios are
// the same work over different stacks with a raw one among them.
func stackTable(r *results.Run, tables []results.Table) *Table {
	groups := map[string][]results.Table{}
	var order []string
	for _, t := range tables {
		if t.Scenario.Sweep != nil {
			continue
		}
		k := stackKey(t.Scenario)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], t)
	}
	out := &Table{
		Title: "Stacks: the same work over each framing and protocol, against raw framing",
		Intro: "Each scenario set against its twin with the same work (message size, connections, load) " +
			"on the byte protocol with raw framing; the architecture is each scenario's top-ranked one.",
		Header: []string{"scenario", "stack", "arch", "msg/s", "p50", "p99", "CPU-s/M", "B/msg", "msg/s ÷ raw", "CPU ÷ raw", "B/msg ÷ raw"},
		Align:  []Align{Left, Left, Left, Right, Right, Right, Right, Right, Right, Right, Right},
		Notes: []string{"B/msg is the bytes on the wire per message, both ways together, above TCP: " +
			"the payload and its framing, for XML-RPC the HTTP headers and the XML too (a multicall " +
			"request's bytes divided among its calls). The ratios are of medians; msg/s ÷ raw below 1 " +
			"and CPU ÷ raw above 1 are what the stack costs."},
	}
	for _, k := range order {
		g := groups[k]
		var raw *results.Table
		for i := range g {
			if isRawBytes(g[i].Scenario) {
				raw = &g[i]
				break
			}
		}
		if raw == nil || len(g) < 2 || len(raw.Rows) == 0 || raw.Rows[0].Measured == 0 {
			continue
		}
		base := raw.Rows[0]
		baseWire := wirePerMsg(r, raw.Scenario.Name, base.Arch)
		for _, t := range g {
			if len(t.Rows) == 0 || t.Rows[0].Measured == 0 {
				continue
			}
			row := t.Rows[0]
			wire := wirePerMsg(r, t.Scenario.Name, row.Arch)
			out.Rows = append(out.Rows, []string{
				t.Scenario.Name, stackName(t.Scenario), row.Arch,
				orDash(row.MsgS.Median, fmtCount), orDash(row.P50.Median, fmtMicros), orDash(row.P99.Median, fmtMicros),
				orDash(row.CPUPerM.Median, fmtCPU), orDash(wire, func(v float64) string { return fmt.Sprintf("%.0f", v) }),
				ratioOf(row.MsgS.Median, base.MsgS.Median), ratioOf(row.CPUPerM.Median, base.CPUPerM.Median), ratioOf(wire, baseWire),
			})
		}
	}
	if len(out.Rows) == 0 {
		return nil
	}
	return out
}

func orDash(v float64, f func(float64) string) string {
	if math.IsNaN(v) {
		return "-"
	}
	return f(v)
}

func ratioOf(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "-"
	}
	r := a / b
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.2f", r)
}
