package results

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/montanaflynn/stats"
)

// The bootstrap behind tiers, intervals, Pending and Compare; results/doc.go
// states the method and its limits.
const (
	// Resamples is the number of bootstrap resamples.
	Resamples = 2000
	// Confidence is the coverage of every interval.
	Confidence = 0.95
	// MinEffect is the smallest ratio of medians, away from 1, that counts
	// as a difference: 5%.
	MinEffect = 0.05
	// Seed seeds every bootstrap, so a run always renders the same.
	Seed = 1
)

// Interval is a confidence interval; both ends NaN when unknown.
type Interval struct{ Lo, Hi float64 }

// Unknown reports whether the interval could not be computed.
func (iv Interval) Unknown() bool { return math.IsNaN(iv.Lo) || math.IsNaN(iv.Hi) }

// Contains reports whether v is inside the closed interval.
func (iv Interval) Contains(v float64) bool { return !iv.Unknown() && iv.Lo <= v && v <= iv.Hi }

// MarshalJSON writes [lo, hi], or null when unknown.
func (iv Interval) MarshalJSON() ([]byte, error) {
	if iv.Unknown() || math.IsInf(iv.Lo, 0) || math.IsInf(iv.Hi, 0) {
		return []byte("null"), nil
	}
	return json.Marshal([2]float64{iv.Lo, iv.Hi})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var v *[2]float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v == nil {
		*iv = unknownInterval
		return nil
	}
	*iv = Interval{v[0], v[1]}
	return nil
}

var unknownInterval = Interval{math.NaN(), math.NaN()}

// MedianCI is the percentile-bootstrap Confidence interval of the median
// of v: Resamples resamples of v with replacement, the median of each, and
// the 2.5th and 97.5th percentiles of those medians. Unknown with fewer
// than two values.
func MedianCI(v []float64, seed uint64) Interval {
	if len(v) < 2 {
		return unknownInterval
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	meds := make([]float64, Resamples)
	buf := make([]float64, len(v))
	for i := range meds {
		meds[i] = resampleMedian(rng, v, buf)
	}
	return percentiles(meds)
}

// Ratio is the ratio of the medians of two sets of repetitions, A over B,
// with its bootstrap interval.
type Ratio struct {
	Median float64 // median(A)/median(B); NaN if either is empty or B's is 0
	CI     Interval
	NA, NB int // repetitions on each side
}

// CompareMedians bootstraps median(a)/median(b): each of Resamples times it
// resamples a and b (each with replacement, each its own size) and takes
// the ratio of the two medians; the interval is the 2.5th and 97.5th
// percentiles of those ratios. The interval is unknown when either side has
// fewer than two repetitions.
func CompareMedians(a, b []float64, seed uint64) Ratio {
	r := Ratio{Median: math.NaN(), CI: unknownInterval, NA: len(a), NB: len(b)}
	if len(a) == 0 || len(b) == 0 {
		return r
	}
	ma, _ := stats.Median(a)
	mb, _ := stats.Median(b)
	if mb == 0 {
		return r
	}
	r.Median = ma / mb
	if len(a) < 2 || len(b) < 2 {
		return r
	}
	bufA, bufB := make([]float64, len(a)), make([]float64, len(b))
	r.CI = ratioInterval(seed, func(rng *rand.Rand) (float64, float64) {
		return resampleMedian(rng, a, bufA), resampleMedian(rng, b, bufB)
	})
	return r
}

// ratioInterval is the percentile interval of Resamples ratios num/den,
// each pair drawn by draw from one seeded source (unknown when more than
// half the denominators are 0).
func ratioInterval(seed uint64, draw func(*rand.Rand) (num, den float64)) Interval {
	rng := rand.New(rand.NewPCG(seed, 0))
	ratios := make([]float64, 0, Resamples)
	for range Resamples {
		if num, den := draw(rng); den != 0 {
			ratios = append(ratios, num/den)
		}
	}
	if len(ratios) < Resamples/2 {
		return unknownInterval
	}
	return percentiles(ratios)
}

// Separated reports whether A and B are distinguishable: the interval
// excludes 1 and the median ratio is at least MinEffect away from 1. Never
// with fewer than two repetitions on a side (the interval is unknown).
func (r Ratio) Separated() bool {
	if r.CI.Unknown() || math.IsNaN(r.Median) {
		return false
	}
	return !r.CI.Contains(1) && math.Abs(r.Median-1) >= MinEffect-1e-12
}

// Tied reports whether A and B are equal at the stated effect size: the
// whole interval lies inside [1-MinEffect, 1+MinEffect].
func (r Ratio) Tied() bool {
	return !r.CI.Unknown() && r.CI.Lo >= 1-MinEffect && r.CI.Hi <= 1+MinEffect
}

// Undecided reports whether more repetitions could decide the pair: neither
// separated nor tied.
func (r Ratio) Undecided() bool { return !r.Separated() && !r.Tied() }

// resampleMedian draws len(buf) values of v with replacement into buf and
// returns their median. It sorts buf in place rather than call
// stats.Median, which copies its input: this runs 2000 times per interval,
// and the copies were most of Summarize's allocations.
func resampleMedian(rng *rand.Rand, v, buf []float64) float64 {
	for i := range buf {
		buf[i] = v[rng.IntN(len(v))]
	}
	slices.Sort(buf)
	n := len(buf)
	if n%2 == 1 {
		return buf[n/2]
	}
	return (buf[n/2-1] + buf[n/2]) / 2
}

func percentiles(v []float64) Interval {
	tail := 100 * (1 - Confidence) / 2
	lo, err1 := stats.Percentile(v, tail)
	hi, err2 := stats.Percentile(v, 100-tail)
	if err1 != nil || err2 != nil {
		return unknownInterval
	}
	return Interval{lo, hi}
}

// CompareGroups is CompareMedians for two groups of architectures (each
// a list of rows' repetitions): the statistic of a group is the median of
// its rows' medians, and each resample draws every row's repetitions with
// replacement (a stratified bootstrap), so a row with more repetitions
// does not weigh more than one with fewer.
func CompareGroups(a, b [][]float64, seed uint64) Ratio {
	r := Ratio{Median: math.NaN(), CI: unknownInterval}
	for _, g := range [][][]float64{a, b} {
		for _, v := range g {
			if len(v) < 2 {
				return r // a row without a spread: no interval
			}
		}
	}
	if len(a) == 0 || len(b) == 0 {
		return r
	}
	ma, mb := groupMedian(a, nil, nil), groupMedian(b, nil, nil)
	if mb == 0 {
		return r
	}
	r.Median, r.NA, r.NB = ma/mb, len(a), len(b)
	meds := make([]float64, 0, max(len(a), len(b)))
	r.CI = ratioInterval(seed, func(rng *rand.Rand) (float64, float64) {
		return groupMedian(a, rng, meds[:0]), groupMedian(b, rng, meds[:0])
	})
	return r
}

// groupMedian is the median of the rows' medians; with rng, of medians of
// resampled repetitions.
func groupMedian(g [][]float64, rng *rand.Rand, meds []float64) float64 {
	for _, v := range g {
		if rng == nil {
			m, _ := stats.Median(v)
			meds = append(meds, m)
			continue
		}
		meds = append(meds, resampleMedian(rng, v, make([]float64, len(v))))
	}
	m, _ := stats.Median(meds)
	return m
}
