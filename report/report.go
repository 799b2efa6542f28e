package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"archbench/results"
)

// Files and the folder Write creates in a results folder (beside
// results.FileMD, results.FileCSV and results.FileBench).
const (
	FileHTML   = "report.html"
	DirFigures = "figures"
)

// Report is a run rendered: the document, its Markdown and HTML, and the
// figures.
type Report struct {
	Doc      Document
	Markdown []byte // results.md
	HTML     []byte // report.html
	Figures  []*Figure
}

// ErrNoRun: Render or Write was given no run.
var ErrNoRun = errors.New("report: no run")

// Render renders r (from results.json alone) in memory.
func Render(r *results.Run) (*Report, error) {
	if r == nil {
		return nil, ErrNoRun
	}
	rep := &Report{}
	doc := append(runHeading(r), Verdict(r)...)
	doc = append(doc, Heading{Level: 2, Text: "Tables"})
	doc = append(doc, Tables(r)...)
	doc = append(doc, Heading{Level: 2, Text: "Figures"}, Paragraph{Spans: []Span{
		{Text: "Rendered by "}, {Text: "archbench report", Code: true},
		{Text: " from results.json alone; every figure is also in figures/ as SVG and PNG. " +
			"An architecture has the same colour in every figure."}}})
	for _, s := range buildSections(r) {
		doc = append(doc, Heading{Level: 3, Text: s.heading})
		if s.intro != "" {
			doc = append(doc, text(s.intro))
		}
		for _, f := range s.figs {
			rep.Figures = append(rep.Figures, f)
			doc = append(doc, FigureRef{Figure: f, Num: len(rep.Figures)})
		}
		if s.outro != "" {
			doc = append(doc, text(s.outro))
		}
	}
	if err := renderFigures(rep.Figures); err != nil {
		return nil, err
	}
	rep.Doc = doc
	var md, page bytes.Buffer
	if err := doc.WriteMarkdown(&md); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if err := doc.WritePage(&page); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep.Markdown, rep.HTML = md.Bytes(), page.Bytes()
	return rep, nil
}

// renderFigures draws every figure as SVG and PNG, GOMAXPROCS at a time
// (each figure is independent, so the output does not depend on the order).
func renderFigures(figs []*Figure) error {
	errs := make([]error, len(figs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range figs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var err error
			if f.SVG, err = f.chart.render("svg"); err != nil {
				errs[i] = fmt.Errorf("report: %w", err)
				return
			}
			f.SVG = portableFonts(f.SVG)
			if f.PNG, err = f.chart.render("png"); err != nil {
				errs[i] = fmt.Errorf("report: %w", err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Write renders r and writes every output of a results folder but
// results.json into dir, creating it: results.md, report.html, figures/
// (SVG and PNG), results.csv and results.bench.txt. Files of earlier renders
// that this one does not produce are left alone.
func Write(dir string, r *results.Run) error {
	rep, err := Render(r)
	if err != nil {
		return err
	}
	figs := filepath.Join(dir, DirFigures)
	if err := os.MkdirAll(figs, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	files := []file{
		{filepath.Join(dir, results.FileMD), bytesOf(rep.Markdown)},
		{filepath.Join(dir, FileHTML), bytesOf(rep.HTML)},
		{filepath.Join(dir, results.FileCSV), NewCSVReporter(r)},
		{filepath.Join(dir, results.FileBench), NewBenchReporter(r)},
	}
	for _, f := range rep.Figures {
		files = append(files, file{filepath.Join(figs, f.Name+".svg"), bytesOf(f.SVG)},
			file{filepath.Join(figs, f.Name+".png"), bytesOf(f.PNG)})
	}
	for _, f := range files {
		if err := writeFile(f.path, f.write); err != nil {
			return err
		}
	}
	return nil
}

// file is one output file and its writer.
type file struct {
	path  string
	write Reporter
}

// bytesOf is the Reporter of an output rendered already.
func bytesOf(b []byte) Reporter {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// WriteRun writes results.json, then everything Write renders from it:
// a whole results folder, as `archbench run` leaves it.
func WriteRun(dir string, r *results.Run) error {
	if r == nil {
		return ErrNoRun
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := writeFile(filepath.Join(dir, results.FileJSON), func(w io.Writer) error { return results.WriteJSON(w, r) }); err != nil {
		return err
	}
	return Write(dir, r)
}

// writeFile writes path with write atomically: into a temporary file in
// the same directory, renamed over path only once whole, so a killed or
// failed write leaves the old file or the new one, never a truncated one.
func writeFile(path string, write Reporter) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return nil
}

// portableFonts lets an SVG fall back from Liberation Sans to the fonts it
// is metrically equal to.
func portableFonts(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}
