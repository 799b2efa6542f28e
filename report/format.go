package report

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"archbench/internal/settings"
	"archbench/protocol"
	"archbench/results"
	"archbench/servers"
)

// The formatters of every output: tables, captions, figure ticks.

// fmtCount: 950, 12.3k, 1.23M.
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a < 1e3:
		return fmt.Sprintf("%.0f", v)
	case a < 1e4:
		return fmt.Sprintf("%.2fk", v/1e3)
	case a < 1e6:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.2fM", v/1e6)
	}
}

// fmtRate formats a scheduled rate in msg/s: as fmtCount from 1,000 up,
// and below that with the digits it has (0.001, 12.5, 500), never
// rounded to 0.
func fmtRate(v float64) string {
	if math.Abs(v) >= 1e3 {
		return fmtCount(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// fmtMicros formats a latency in microseconds: 8.5µs, 95µs, 1.25ms, 12.5ms, 250ms, 1.50s.
func fmtMicros(us float64) string {
	switch {
	case us < 10:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1e3:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e4:
		return fmt.Sprintf("%.2fms", us/1e3)
	case us < 1e5:
		return fmt.Sprintf("%.1fms", us/1e3)
	case us < 1e6:
		return fmt.Sprintf("%.0fms", us/1e3)
	default:
		return fmt.Sprintf("%.2fs", us/1e6)
	}
}

func fmtCPU(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtBytes: 16 B, 16 KiB, 1.5 MiB.
func fmtBytes(v float64) string {
	switch {
	case v < 1<<10:
		return fmt.Sprintf("%.0f B", v)
	case v < 1<<20:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<10))) + " KiB"
	case v < 1<<30:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<20))) + " MiB"
	default:
		return trimZero(fmt.Sprintf("%.1f", v/(1<<30))) + " GiB"
	}
}

// fmtSignedBytes is fmtBytes for a difference, which can be negative.
func fmtSignedBytes(v float64) string {
	if v < 0 {
		return "-" + fmtBytes(-v)
	}
	return fmtBytes(v)
}

// BulkSize is the message size from which tables show MB/s.

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// wrap breaks s into lines of at most width runes at spaces, indenting
// every line after the first.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		n := len([]rune(word))
		if i > 0 {
			if line+1+n > width {
				b.WriteString("\n" + indent)
				line = len(indent)
			} else {
				b.WriteByte(' ')
				line++
			}
		} else {
			b.WriteString(indent)
			line = len(indent)
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// The settings settingsText phrases itself, or leaves out as the
// generator's own knobs (loops, seed), by key; any other setting that is
// set is given as "key value" by otherSettings, so a new setting shows in
// every table without a line here.
var (
	phrasedServer = keySet("network", "addr", "framing", "work.cpu", "work.sleep")
	phrasedLoad   = keySet("network", "addr", "framing", "conns", "depth", "rate", "size", "content",
		"warmup", "duration", "timeout", "loops", "seed", "slow_conns", "slow_interval", "idle_conns", "churn")
)

func keySet(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// otherSettings lists the settings of cfg (a servers.Config or
// loadgen.Config) that are set (not zero) and not phrased, in declaration
// order, as "max conns 100", "out cap 4 MiB", "idle timeout 5s". A server's
// max_msg is left out under raw framing, where nothing is framed.
func otherSettings(cfg any, phrased map[string]bool) []string {
	v := reflect.ValueOf(cfg)
	var parts []string
	for _, f := range settings.Fields(v.Type()) {
		fv := v.FieldByIndex(f.Index)
		if phrased[f.Key] || fv.IsZero() {
			continue
		}
		if s, ok := cfg.(servers.Config); ok && f.Key == "max_msg" && s.Framing == protocol.Raw {
			continue
		}
		value := fmt.Sprint(fv.Interface())
		if f.Size {
			value = fmtBytes(float64(fv.Int()))
		}
		parts = append(parts, strings.NewReplacer("_", " ", ".", " ").Replace(f.Key)+" "+value)
	}
	return parts
}

// form is how much of a scenario's settings settingsText gives.
type form int

const (
	// full: every setting, for the tables' headings.
	full form = iota
	// brief: the load, the messages and the handler's work, for figure
	// captions (the tables give the rest).
	brief
)

// settingsText describes sc's settings in the form asked for, leaving out
// the setting a sweep varies (swept; noSweep for none); reps is given in
// the full form.
func settingsText(sc results.Scenario, f form, swept sweepKind, reps int) string {
	l, s := sc.Load, sc.Server
	var parts []string
	conns := plural(l.Conns, "conn")
	switch sw := sc.Sweep; {
	case sw != nil && sw.Fraction > 0 && swept == rateSweep:
		parts = append(parts, "open loop over "+conns)
	case sw != nil && sw.Fraction > 0:
		parts = append(parts, fmt.Sprintf("open loop at %.0f%% of each architecture's %s msg/s over %s", 100*sw.Fraction, results.SweepName(sw.Of, 0), conns))
	case l.Churn:
		parts = append(parts, fmt.Sprintf("a new connection per message, %s", plural(l.Conns, "client")))
	case l.Rate > 0 && swept == rateSweep:
		parts = append(parts, "open loop over "+conns)
	case l.Rate > 0 && swept == connSweep:
		parts = append(parts, fmt.Sprintf("open loop at %s msg/s", fmtRate(l.Rate)))
	case l.Rate > 0:
		parts = append(parts, fmt.Sprintf("open loop at %s msg/s over %s", fmtRate(l.Rate), conns))
	case swept == connSweep:
		parts = append(parts, fmt.Sprintf("closed loop, depth %d", l.Depth))
	default:
		parts = append(parts, fmt.Sprintf("closed loop, %s x depth %d", conns, l.Depth))
	}
	if f == full && l.SlowConns > 0 {
		parts = append(parts, fmt.Sprintf("%d slow conns (a byte every %v)", l.SlowConns, l.SlowInterval))
	}
	if f == full && l.IdleConns > 0 {
		parts = append(parts, fmt.Sprintf("%d idle conns", l.IdleConns))
	}
	parts = append(parts, fmt.Sprintf("%s %s messages", fmtBytes(float64(l.Size)), l.Content), s.Framing.String()+" framing")
	if s.Work.CPU > 0 {
		parts = append(parts, fmt.Sprintf("%v CPU per message", s.Work.CPU))
	}
	if s.Work.Sleep > 0 {
		parts = append(parts, fmt.Sprintf("%v sleep per message", s.Work.Sleep))
	}
	if f == brief {
		return strings.Join(parts, ", ")
	}
	parts = append(parts, otherSettings(s, phrasedServer)...)
	parts = append(parts, otherSettings(l, phrasedLoad)...)
	parts = append(parts, fmt.Sprintf("%v warm-up + %v measured, timeout %v", l.Warmup, l.Duration, l.Timeout))
	parts = append(parts, fmt.Sprintf("%d reps", reps))
	if len(sc.Archs) > 0 {
		parts = append(parts, "only "+strings.Join(sc.Archs, ", "))
	}
	return strings.Join(parts, "; ")
}
