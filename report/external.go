package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"archbench/results"
)

// ExternalMark follows the name of an external server (a program archbench
// does not build, run from its command) in every table's arch column.
const ExternalMark = " (ext)"

// CBaseline is the shipped C baseline: a run that includes it gets a vs C
// column in every scenario table.
const CBaseline = "c-epoll"

// markExternal appends ExternalMark to the arch cell (the first column) of
// every row of an external server, and says what it means under the table.
func markExternal(t *Table, r *results.Run) *Table {
	marked := false
	for _, row := range t.Rows {
		if len(row) > 0 && r.IsExternal(row[0]) {
			row[0] += ExternalMark
			marked = true
		}
	}
	if marked {
		t.Notes = append(t.Notes, strings.TrimSpace(ExternalMark)+": an external server, run from its command "+
			"(results.json external) after passing the black-box conformance cases; its CPU and RSS cover its whole process tree.")
	}
	return t
}

// addVsC inserts a "vs C" column after the vs best (or vs target) column
// when the run includes the C baseline: each row's msg/s over c-epoll's
// in the same scenario ("-" where either is missing).
func addVsC(out *Table, t results.Table, r *results.Run) *Table {
	if !slices.Contains(r.Archs, CBaseline) {
		return out
	}
	col := slices.IndexFunc(out.Header, func(h string) bool { return h == "vs best" || h == "vs target" })
	if col < 0 || len(out.Rows) != len(t.Rows) {
		return out
	}
	c := math.NaN()
	for _, row := range t.Rows {
		if row.Arch == CBaseline {
			c = row.MsgS.Median
		}
	}
	out.Header = slices.Insert(slices.Clone(out.Header), col+1, "vs C")
	if len(out.Align) > col {
		out.Align = slices.Insert(slices.Clone(out.Align), col+1, Right)
	}
	for i, row := range t.Rows {
		v := "-"
		if m := row.MsgS.Median; c > 0 && !math.IsNaN(m) {
			v = fmt.Sprintf("%.2f", m/c)
		}
		out.Rows[i] = slices.Insert(out.Rows[i], col+1, v)
	}
	if math.IsNaN(c) || c <= 0 {
		out.Notes = append(out.Notes, "vs C: "+CBaseline+" has no msg/s in this scenario, so no row has a ratio to it.")
	}
	return out
}
