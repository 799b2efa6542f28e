package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"archbench/results"
)

// Files and the folder Write creates in a results folder (results.md is
// results.FileMD).
const (
	FileHTML   = "report.html"
	DirFigures = "figures"
)

// Report is a run rendered: the Markdown and HTML documents and the figures.
type Report struct {
	Markdown []byte // results.md
	HTML     []byte // report.html
	Figures  []*Figure
}

// ErrNoRun: Render or Write was given no run.
var ErrNoRun = errors.New("report: no run")

// part is a piece of the document: Markdown text, or a figure.
type part struct {
	md  string
	fig *Figure
	num int // the figure's number
}

// Render renders r (from results.json alone) in memory.
func Render(r *results.Run) (*Report, error) {
	if r == nil {
		return nil, ErrNoRun
	}
	var tables bytes.Buffer
	if err := results.WriteMarkdown(&tables, r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep := &Report{}
	parts := []part{{md: tables.String()}, {md: "## Figures\n\n" +
		"Rendered by `archbench report` from results.json alone; every figure is also in figures/ as SVG " +
		"and PNG. An architecture has the same colour in every figure.\n"}}
	for _, s := range buildSections(r) {
		parts = append(parts, part{md: "### " + s.heading + "\n"})
		if s.intro != "" {
			parts = append(parts, part{md: s.intro + "\n"})
		}
		for _, f := range s.figs {
			rep.Figures = append(rep.Figures, f)
			parts = append(parts, part{fig: f, num: len(rep.Figures)})
		}
		if s.outro != "" {
			parts = append(parts, part{md: s.outro + "\n"})
		}
	}
	if err := renderFigures(rep.Figures); err != nil {
		return nil, err
	}
	rep.Markdown = markdown(parts)
	rep.HTML = page(title(tables.String()), parts)
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

// Write renders r and writes results.md, report.html and figures/*.svg,
// *.png into dir, creating them. Files of earlier renders that this one
// does not produce are left alone.
func Write(dir string, r *results.Run) error {
	rep, err := Render(r)
	if err != nil {
		return err
	}
	figs := filepath.Join(dir, DirFigures)
	if err := os.MkdirAll(figs, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, f := range rep.Figures {
		if err := writeFile(filepath.Join(figs, f.Name+".svg"), f.SVG); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(figs, f.Name+".png"), f.PNG); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, results.FileMD), rep.Markdown); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, FileHTML), rep.HTML)
}

func writeFile(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// markdown joins the parts into results.md; a figure is its PNG with its
// caption and a link to its SVG.
func markdown(parts []part) []byte {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\n")
		}
		if p.fig == nil {
			b.WriteString(p.md)
			continue
		}
		f := p.fig
		fmt.Fprintf(&b, "![%s](%s/%s.png)\n\n", mdEscape(f.Title), DirFigures, f.Name)
		fmt.Fprintf(&b, "*Figure %d. %s* ([SVG](%s/%s.svg))\n", p.num, mdEscape(f.Caption), DirFigures, f.Name)
	}
	return []byte(b.String())
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`")

func mdEscape(s string) string { return mdEscaper.Replace(s) }

// title is the document's title: the first top-level heading in md.
func title(md string) string {
	for _, l := range strings.Split(md, "\n") {
		if t, ok := strings.CutPrefix(l, "# "); ok {
			return strings.TrimSpace(t)
		}
	}
	return "archbench results"
}

// portableFonts lets an SVG fall back from Liberation Sans to the fonts it
// is metrically equal to.
func portableFonts(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}
