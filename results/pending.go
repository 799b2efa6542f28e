package results

// Cell is one scenario on one architecture: the unit that gets repetitions.
type Cell struct{ Scenario, Arch string }

// Pending lists the cells whose repetitions do not yet decide the ranking,
// in the order of Summarize's tables and rows; the runner's adaptive phase
// gives each of them another repetition while its budget lasts.
//
// Placeholder rule until the tiers from bootstrap intervals land: a cell is
// pending while it has fewer than 3 measured repetitions or a msg/s CV
// above NoisyCV (10%). An architecture that cannot run on this machine
// (Row.Unavailable) is never pending.
func Pending(r *Run) []Cell {
	var cells []Cell
	for _, t := range Summarize(r) {
		for _, row := range t.Rows {
			if row.Unavailable != "" {
				continue
			}
			if row.Measured < 3 || row.MsgS.Noisy() {
				cells = append(cells, Cell{Scenario: t.Scenario.Name, Arch: row.Arch})
			}
		}
	}
	return cells
}
