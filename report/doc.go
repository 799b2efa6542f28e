// Package report renders a finished run (results.Run, read from
// results.json) into a report people can read: results.md with the tables
// and figures, the figures themselves as SVG and PNG under figures/, and one
// self-contained HTML page (report.html: inline CSS and inline SVG, no
// scripts, no external resources) with the same content.
//
// Everything is computed from the Run alone; nothing is measured again.
// Rendering is deterministic: the same results.json gives byte-identical
// results.md, report.html and figures.
//
// The figures:
//
//   - a latency percentile spectrum per scenario, in the manner of wrk2 and
//     HdrHistogram's plotter: x is the percentile on a log scale of
//     1/(1-p) (50%, 90%, 99%, 99.9%, ...), y the latency, one line per
//     architecture drawn from the HdrHistogram merged over its repetitions
//     (or, for a run stored without histograms, through the summary
//     percentiles, medians across repetitions);
//   - throughput against connections, for each connection sweep: scenarios
//     whose settings are equal except the number of connections;
//   - p99 against achieved rate, for each rate sweep: open-loop scenarios
//     whose settings are equal except the offered rate.
//
// A sweep ignores the load generator's own knobs that do not shape the
// workload (the server address, the per-operation timeout and the content
// seed). A run without sweeps simply has no sweep figures.
package report
