package report

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
)

// css is the page's only style: inline, no web fonts.
const css = `body{margin:0;background:#fff;color:#1f2328;font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:16px 24px 48px}
h1,h2{border-bottom:1px solid #d0d7de;padding-bottom:.3em}
h1{font-size:1.7em}h2{font-size:1.35em;margin-top:2em}h3{font-size:1.1em;margin-top:1.8em}
table{border-collapse:collapse;margin:.5em 0 1em;display:block;overflow-x:auto;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:3px 10px;white-space:nowrap}
th{background:#f6f8fa}tr:nth-child(even) td{background:#fafbfc}
.l{text-align:left}.r{text-align:right}.c{text-align:center}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#f6f8fa;padding:.1em .3em;border-radius:4px}
figure{margin:1.2em 0 2em}
figure svg{display:block;width:100%;max-width:960px;height:auto}
figcaption{max-width:960px;font-size:.92em;color:#57606a}
`

// WritePage writes d as report.html: one self-contained page, its title
// the first level-1 heading, inline CSS, each figure's SVG inline, so that
// the page works offline and alone.
func (d Document) WritePage(w io.Writer) error {
	title := "archbench results"
	for _, b := range d {
		if h, ok := b.(Heading); ok && h.Level == 1 {
			title = h.Text
			break
		}
	}
	ew := &errWriter{w: w}
	fmt.Fprint(ew, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
	fmt.Fprint(ew, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
	fmt.Fprintf(ew, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", html.EscapeString(title), css)
	if err := d.writeHTML(ew); err != nil {
		return err
	}
	fmt.Fprint(ew, "</main>\n</body>\n</html>\n")
	return ew.err
}

var svgNamespaces = regexp.MustCompile(`\s+xmlns(:xlink)?="[^"]*"`)

// inlineSVG prepares a standalone SVG document for embedding in HTML: no
// XML prolog or comment, no namespace declarations (HTML's parser supplies
// the SVG namespace), and a label for screen readers.
func inlineSVG(svg []byte, label string) string {
	if i := bytes.Index(svg, []byte("<svg")); i >= 0 {
		svg = svg[i:]
	}
	s := svgNamespaces.ReplaceAllString(string(svg), "")
	return strings.Replace(s, "<svg", fmt.Sprintf("<svg role=\"img\" aria-label=\"%s\"", html.EscapeString(label)), 1)
}
