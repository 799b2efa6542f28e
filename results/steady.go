package results

import (
	"fmt"
	"math"

	"github.com/montanaflynn/stats"

	"archbench/loadgen"
)

// Steadiness says whether a run's rate held after its warm-up.
type Steadiness string

const (
	// Steady: at least MinSteadySeconds full seconds, no stall, no trend.
	Steady Steadiness = "steady"
	// Unsteady: a stall or a trend (see SteadinessOf).
	Unsteady Steadiness = "unsteady"
	// SteadyUnknown: too few full seconds to tell; never read as steady.
	SteadyUnknown Steadiness = "unknown"
)

// Thresholds of SteadinessOf.
const (
	// MinSteadySeconds is the fewest full measured seconds SteadinessOf
	// judges; with fewer it says SteadyUnknown.
	MinSteadySeconds = 3
	// StallShare: a second under this share of the run's median
	// per-second rate, while others were served, is a stall.
	StallShare = 0.10
	// TrendShare: the second half's mean rate differing from the first
	// half's by more than this share is a trend.
	TrendShare = 0.25
)

// SteadinessOf judges one load result from its per-second series. Only
// full seconds count (a last, partial second is dropped: the series holds
// ceil(Elapsed) entries). With fewer than MinSteadySeconds of them it is
// SteadyUnknown. It is Unsteady when
//
//   - a stall: some second served under StallShare of the median
//     per-second count while the median is above zero; or
//   - a trend: the mean of the last ⌊n/2⌋ seconds differs from the mean of
//     the first ⌊n/2⌋ by more than TrendShare of the first (with 3 seconds,
//     the last against the first).
//
// The reason ("stall at 4 s", "trend +31%") is returned with it.
func SteadinessOf(res *loadgen.Result) (Steadiness, string) {
	if res == nil {
		return SteadyUnknown, "no result"
	}
	full := int(math.Floor(res.Elapsed + 1e-6))
	var per []float64
	for _, s := range res.Series {
		if s.T < full {
			per = append(per, float64(s.Requests))
		}
	}
	if len(per) < MinSteadySeconds {
		return SteadyUnknown, "too short to tell"
	}
	med, _ := stats.Median(per)
	if med > 0 {
		for i, v := range per {
			if v < StallShare*med {
				return Unsteady, fmt.Sprintf("stall at %d s", i)
			}
		}
	}
	half := len(per) / 2
	first, _ := stats.Mean(per[:half])
	last, _ := stats.Mean(per[len(per)-half:])
	if first > 0 {
		if d := last/first - 1; math.Abs(d) > TrendShare {
			return Unsteady, fmt.Sprintf("trend %+.0f%%", 100*d)
		}
	} else if last > 0 {
		return Unsteady, "trend from zero"
	}
	return Steady, ""
}
