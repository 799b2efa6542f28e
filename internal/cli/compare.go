package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	if len(cs) == 0 {
		return fmt.Errorf("compare: the two runs share no scenario and architecture")
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
