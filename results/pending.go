package results

// Cell is one scenario on one architecture.
type Cell struct{ Scenario, Arch string }

// MinReps is the fewest repetitions Pending judges a cell on.
const MinReps = 3

// Pending lists the cells whose further repetitions could change the
// ranking, for a runner with time left:
//
//   - a cell attempted fewer than MinReps times;
//   - both cells of a neighbouring pair of ranked rows (same table, same
//     group: clean, keeping up) whose ratio is Undecided — its interval
//     includes 1 or its effect is under MinEffect, yet the interval is not
//     wholly inside [1-MinEffect, 1+MinEffect] — when each has at least
//     MinReps measured repetitions;
//   - a cell with at least MinReps measured repetitions whose ranking
//     metric (msg/s, or p90 where an open loop keeps up) has a CV above
//     NoisyCV.
//
// A cell attempted MinReps times that still measured fewer (it crashes, it
// is unavailable here) is not pending: repeating it decides nothing. The
// result is empty when every neighbouring pair is separated or tied and no
// cell is noisy; cells are listed once, in table order.
func Pending(r *Run) []Cell {
	var out []Cell
	seen := map[Cell]bool{}
	add := func(sc, arch string) {
		c := Cell{sc, arch}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, t := range Summarize(r) {
		k := newRanking(&t)
		enough := func(row Row) bool { return row.Measured >= MinReps }
		for i, row := range t.Rows {
			if row.Runs < MinReps && row.Unavailable == "" {
				add(t.Scenario.Name, row.Arch)
				continue
			}
			if !enough(row) || row.Tier == 0 {
				continue
			}
			if v, _ := k.values(row); newStat(v).Noisy() {
				add(t.Scenario.Name, row.Arch)
			}
			if i == 0 {
				continue
			}
			prev := t.Rows[i-1]
			if prev.Tier == 0 || !enough(prev) || k.group(prev) != k.group(row) {
				continue
			}
			if k.vs(row, prev).Undecided() {
				add(t.Scenario.Name, prev.Arch)
				add(t.Scenario.Name, row.Arch)
			}
		}
	}
	return out
}
