package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"archbench/results"
)

// UDP scenarios (server network udp or udp6) get loss and drop columns in
// their tables and, for rate sweeps, a figure of loss against offered
// rate: the figure that shows what UDP does under overload (it drops).

// isUDP reports whether sc serves datagrams.
func isUDP(sc results.Scenario) bool {
	return sc.Server.Network == "udp" || sc.Server.Network == "udp6"
}

// udpRow is one architecture's UDP figures in one scenario: medians over
// its repetitions (NaN where none recorded it), and sums for the share of
// the loss the drop counters explain.
type udpRow struct {
	loss, srvDrops, cliDrops, jitter, retx, giveUps float64
	lost, accounted                                 int64 // sums over the repetitions with both counters
	late                                            int64 // replies after the timeout, summed
	reps                                            int
}

func udpRowOf(r *results.Run, scenario, arch string) (udpRow, bool) {
	var loss, srv, cli, jit, retx, gu []float64
	var row udpRow
	for _, s := range r.Samples {
		if s.Scenario != scenario || s.Arch != arch || s.Result == nil || s.Result.UDP == nil {
			continue
		}
		u := s.Result.UDP
		row.reps++
		if settled := u.Answered + u.Lost + u.Mismatched; settled > 0 {
			loss = append(loss, 100*float64(u.Lost)/float64(settled))
		}
		if u.ServerDrops != nil {
			srv = append(srv, float64(*u.ServerDrops))
		}
		if u.ClientDrops != nil {
			cli = append(cli, float64(*u.ClientDrops))
		}
		if u.Answered >= 2 {
			jit = append(jit, u.JitterUS)
		}
		retx = append(retx, float64(u.Retransmissions))
		gu = append(gu, float64(u.GiveUps))
		row.late += u.Late
		if a := u.DropsAccounted(); a >= 0 {
			row.lost += u.Lost
			row.accounted += a
		}
	}
	row.loss, row.srvDrops, row.cliDrops = medianOf(loss), medianOf(srv), medianOf(cli)
	row.jitter, row.retx, row.giveUps = medianOf(jit), medianOf(retx), medianOf(gu)
	return row, row.reps > 0
}

// medianOf is the median of v, NaN when empty.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// addUDPColumns adds loss, the drop counters and jitter (and, with a retry
// policy, retransmissions and give-ups) to the table of a UDP scenario,
// before its notes column; other tables are left as they are.
func addUDPColumns(r *results.Run, t results.Table, tbl *Table) {
	sc := t.Scenario
	if !isUDP(sc) {
		return
	}
	retry := !sc.Load.Retry.IsZero()
	head := []string{"loss", "srv drops", "cli drops", "jitter"}
	if retry {
		head = append(head, "retx", "give-ups")
	}
	at := len(tbl.Header)
	if at > 0 && tbl.Header[at-1] == "notes" {
		at--
	}
	tbl.Header = slices.Insert(tbl.Header, at, head...)
	for range head {
		tbl.Align = slices.Insert(tbl.Align, at, Right)
	}
	count := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmtCount(v)
	}
	for i, row := range tbl.Rows {
		u, ok := udpRowOf(r, sc.Name, row[0])
		cells := make([]string, len(head))
		for k := range cells {
			cells[k] = "-"
		}
		if ok {
			if !math.IsNaN(u.loss) {
				cells[0] = fmtPercent(u.loss)
			}
			cells[1], cells[2] = count(u.srvDrops), count(u.cliDrops)
			if !math.IsNaN(u.jitter) {
				cells[3] = fmtMicros(u.jitter)
			}
			if retry {
				cells[4], cells[5] = count(u.retx), count(u.giveUps)
			}
		}
		tbl.Rows[i] = slices.Insert(row, at, cells...)
	}
}

// The legend's entries for the UDP columns, shown when a table has them.
func init() {
	legend = append(legend,
		struct{ key, text string }{"loss", "UDP tables, medians over the repetitions: loss is the share of the " +
			"requests settled (answered, lost or mismatched; not those still in flight at the end) that got no " +
			"reply within the timeout (or, with a retry policy, before its give-up time); srv drops and cli " +
			"drops are the datagrams the kernel dropped because the server's or the client's socket receive " +
			"queue was full (the drops column of /proc/net/udp; the server's over its whole life, warm-up " +
			"included); jitter is RFC 3550's interarrival jitter of the round-trip times."},
		struct{ key, text string }{"retx", "retx and give-ups count the retry policy's retransmissions and " +
			"the requests it gave up (server_down)."})
}

func fmtPercent(p float64) string {
	switch {
	case p == 0:
		return "0%"
	case p < 0.01:
		return "<0.01%"
	case p < 10:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.0f%%", p)
	}
}

// lossFigure is loss against offered rate for a UDP rate sweep g, one line
// per architecture; nil when no architecture recorded UDP results in it.
func lossFigure(r *results.Run, g []results.Scenario, order []string, style map[string]int) *Figure {
	var ss []series
	var xs, ys []float64
	var lost, accounted, late int64
	relative := g[0].Sweep != nil
	for _, a := range order {
		s := series{name: a, style: style[a]}
		for _, sc := range g {
			u, ok := udpRowOf(r, sc.Name, a)
			if !ok {
				continue
			}
			x := sc.Load.Rate
			if relative {
				x = 100 * sc.Sweep.Fraction
			}
			s.addPoint(x, u.loss, pointExtra{lo: math.NaN(), hi: math.NaN()})
			lost += u.lost
			accounted += u.accounted
			late += u.late
		}
		if len(s.pts) > 0 {
			ss = append(ss, s)
			for _, p := range s.pts {
				xs, ys = append(xs, p.X), append(ys, p.Y)
			}
		}
	}
	if len(ss) == 0 {
		return nil
	}
	xLabel := "offered rate (msg/s)"
	if relative {
		xLabel = "offered rate (% of each architecture's saturation, " + results.SweepName(g[0].Sweep.Of, 0) + ")"
	}
	c := chart{
		title:  "loss against offered rate",
		xLabel: xLabel,
		yLabel: "loss (% of requests settled)",
		x:      valueAxis(xs, false),
		y:      valueAxis(append(ys, 1), false),
		glyphs: true,
		series: ss,
	}
	caption := fmt.Sprintf("Loss (requests with no reply within the timeout, %% of those settled: answered, lost "+
		"or mismatched, not those in flight at the end; median of the "+
		"repetitions) against the offered rate, one line per architecture (scenarios %s; %s). "+
		"Where the server falls behind (past its saturation, or while it is descheduled) its socket "+
		"receive queue overflows and the kernel drops what does not fit, instead of slowing the sender "+
		"down as TCP would.",
		scenarioNames(g), settingsText(g[0], brief, rateSweep, 0))
	if lost > 0 {
		caption += fmt.Sprintf(" The drop counters of the server's and the client's sockets account for %.1f%% of "+
			"the %s requests lost (over every step and repetition with both counters); the rest were lost "+
			"elsewhere or answered after the timeout (late: %s).", 100*float64(accounted)/float64(lost), fmtCount(float64(lost)), fmtCount(float64(late)))
	}
	return &Figure{Title: c.title, Caption: strings.TrimSpace(caption), chart: c}
}
