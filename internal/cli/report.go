package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"archbench/report"
	"archbench/results"
)

func init() {
	register("report", "render a results folder's results.json into results.md, figures/, report.html, results.csv and results.bench.txt", runReport)
}

func runReport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "DIR   (a results folder holding results.json)", stderr)
	if err := parseWithArgs(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usagef("report: want one results folder (holding results.json), got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		if filepath.Base(dir) != results.FileJSON {
			return usagef("report: %s is not a folder (want a results folder holding %s)", dir, results.FileJSON)
		}
		dir = filepath.Dir(dir) // results.json itself: its folder
	}
	r, err := loadRun(dir)
	if err != nil {
		return err
	}
	if len(r.Samples) == 0 {
		return fmt.Errorf("report: %s holds no samples: the run measured nothing (nothing written)", filepath.Join(dir, results.FileJSON))
	}
	// The verdict is derived from the samples: a results.json written by
	// an older method (or before "summary" existed) gets this build's.
	fresh := results.Summaries(r)
	was, _ := json.Marshal(r.Summary)
	now, _ := json.Marshal(fresh)
	write := report.Write
	if !bytes.Equal(was, now) {
		r.Summary = fresh
		write = report.WriteRun
		fmt.Fprintf(stdout, "recomputed the summary in %s from its samples (this build's tiers)\n", filepath.Join(dir, results.FileJSON))
	}
	if err := write(dir, r); err != nil {
		return fmt.Errorf("report: %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "wrote %s, %s and %s/ (and %s, %s) in %s\n", results.FileMD, report.FileHTML, report.DirFigures,
		results.FileCSV, results.FileBench, dir)
	return nil
}
