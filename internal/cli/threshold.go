package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"archbench/loadgen"
	"archbench/results"
)

// thresholdsFlag collects repeatable --threshold 'p99<2ms' flags.
type thresholdsFlag struct{ list *[]loadgen.Threshold }

func (f thresholdsFlag) String() string {
	if f.list == nil {
		return ""
	}
	var s []string
	for _, t := range *f.list {
		s = append(s, t.Text)
	}
	return strings.Join(s, ", ")
}

func (f thresholdsFlag) Set(v string) error {
	t, err := loadgen.ParseThreshold(v)
	if err != nil {
		return err
	}
	*f.list = append(*f.list, t)
	return nil
}

const thresholdHelp = "fail (exit 1) unless every measurement meets this, e.g. 'p99<2ms', 'rps>=50000', 'errors==0' (repeatable)"

// ErrThresholds: a run missed one of its --threshold criteria.
var ErrThresholds = errors.New("thresholds missed")

// checkRunThresholds checks every measured repetition of run; each miss is
// one line on w.
func checkRunThresholds(w io.Writer, run *results.Run, ths []loadgen.Threshold) error {
	missed := 0
	for _, s := range run.Samples {
		if s.Result == nil {
			continue
		}
		for _, th := range ths {
			if err := th.Check(s.Result); err != nil {
				missed++
				fmt.Fprintf(w, "threshold: %s/%s rep %d: %v\n", s.Scenario, s.Arch, s.Rep, err)
			}
		}
	}
	if missed > 0 {
		return fmt.Errorf("%w: %d misses", ErrThresholds, missed)
	}
	return nil
}
