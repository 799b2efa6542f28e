package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"archbench/report"
	"archbench/results"
)

func init() {
	register("compare", "compare two runs: change in msg/s and p99, new over old with a 95% bootstrap interval", runCompare)
}

func runCompare(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "OLD NEW   (each a results folder or its results.json)", stderr)
	if err := parseWithArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 2 {
		return usagef("compare: want two runs (results folders or results.json files), got %d", fs.NArg())
	}
	old, err := loadRun(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := loadRun(fs.Arg(1))
	if err != nil {
		return err
	}
	cs := results.Compare(old, cur)
	if len(cs.Rows) == 0 {
		why := "they share no scenario and architecture"
		if n := len(cs.NotComparable); n > 0 {
			why = fmt.Sprintf("%d scenario(s) of the same name have different settings (first: %s: %s)",
				n, cs.NotComparable[0].Scenario, strings.Join(cs.NotComparable[0].Settings, ", "))
		}
		return usagef("compare: nothing comparable in the two runs: %s; compare runs of the same suite", why)
	}
	return report.NewComparisonReporter(cs)(stdout)
}

// loadRun reads a results.json, or the one inside a results folder.
func loadRun(path string) (*results.Run, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer f.Close()
	r, err := results.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
