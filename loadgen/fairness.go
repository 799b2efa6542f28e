package loadgen

import "slices"

// Fairness is how evenly the verified replies of the measured window were
// spread over the connection slots (Config.Conns of them: a slot is one
// connection and every replacement of it after an error; in a churn run,
// one client goroutine). A server that starves some connections shows here
// even when the replies it does give are fast.
type Fairness struct {
	// JainIndex is Jain's fairness index of the per-slot reply counts x_i
	// over the n slots: (Σx)² / (n·Σx²). 1 means every slot got the same
	// number of replies; k/n means k slots got equal shares and the rest
	// nothing (1/n: one slot got everything). 0 when no slot got a reply,
	// where the index is undefined (so no table shows a dead server as
	// fair).
	JainIndex float64 `json:"jain"`
	// Min, Median and Max are per-slot reply counts; Median is the lower
	// middle one when the number of slots is even (a count some slot had).
	Min    int64 `json:"min"`
	Median int64 `json:"median"`
	Max    int64 `json:"max"`
}

// fairness returns how many slots got at least one verified reply and how
// evenly the replies were spread; perSlot holds each slot's count, in any
// order. It runs once per run, not per message.
func fairness(perSlot []int64) (served int, f *Fairness) {
	f = &Fairness{}
	if len(perSlot) == 0 {
		return 0, f
	}
	sorted := slices.Clone(perSlot)
	slices.Sort(sorted)
	var sum, sumSq float64 // float: Σx² of large counts overflows int64
	for _, x := range sorted {
		if x > 0 {
			served++
		}
		sum += float64(x)
		sumSq += float64(x) * float64(x)
	}
	if sumSq > 0 {
		f.JainIndex = sum * sum / (float64(len(sorted)) * sumSq)
	}
	f.Min, f.Median, f.Max = sorted[0], sorted[(len(sorted)-1)/2], sorted[len(sorted)-1]
	return served, f
}
