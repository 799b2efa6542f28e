package report

import (
	"bytes"
	"fmt"
	"html"
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

// page is report.html: the same parts as results.md, the Markdown turned
// into HTML and each figure's SVG inline, so that the page works offline
// and alone.
func page(title string, parts []part) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", html.EscapeString(title), css)
	for _, p := range parts {
		if p.fig == nil {
			mdToHTML(&b, p.md)
			continue
		}
		f := p.fig
		fmt.Fprintf(&b, "<figure id=\"%s\">\n%s<figcaption><strong>Figure %d.</strong> %s</figcaption>\n</figure>\n",
			html.EscapeString(f.Name), inlineSVG(f.SVG, f.Title), p.num, html.EscapeString(f.Caption))
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return []byte(b.String())
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

// mdToHTML converts the Markdown that results.WriteMarkdown and this package
// write: headings, paragraphs (a paragraph wholly in *...* is emphasised),
// "- " lists, pipe tables with an alignment row, and `code` spans. Anything
// else is kept as escaped text.
func mdToHTML(b *strings.Builder, md string) {
	var para, list []string
	var table [][]string
	flush := func() {
		switch {
		case len(para) > 0:
			text := strings.Join(para, " ")
			if len(text) > 2 && strings.HasPrefix(text, "*") && strings.HasSuffix(text, "*") && !strings.HasSuffix(text, `\*`) {
				fmt.Fprintf(b, "<p><em>%s</em></p>\n", inline(text[1:len(text)-1]))
			} else {
				fmt.Fprintf(b, "<p>%s</p>\n", inline(text))
			}
		case len(list) > 0:
			b.WriteString("<ul>\n")
			for _, it := range list {
				fmt.Fprintf(b, "<li>%s</li>\n", inline(it))
			}
			b.WriteString("</ul>\n")
		case len(table) > 0:
			writeTable(b, table)
		}
		para, list, table = nil, nil, nil
	}
	for _, ln := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(ln)
		switch {
		case trimmed == "":
			flush()
		case headingLevel(ln) > 0:
			flush()
			n := headingLevel(ln)
			fmt.Fprintf(b, "<h%d>%s</h%d>\n", n, inline(strings.TrimSpace(ln[n+1:])), n)
		case strings.HasPrefix(ln, "- "):
			if len(para) > 0 || len(table) > 0 {
				flush()
			}
			list = append(list, strings.TrimSpace(ln[2:]))
		case len(list) > 0 && strings.HasPrefix(ln, "  "):
			list[len(list)-1] += " " + trimmed
		case strings.HasPrefix(trimmed, "|"):
			if len(para) > 0 || len(list) > 0 {
				flush()
			}
			table = append(table, splitRow(trimmed))
		default:
			if len(list) > 0 || len(table) > 0 {
				flush()
			}
			para = append(para, trimmed)
		}
	}
	flush()
}

func headingLevel(ln string) int {
	n := 0
	for n < len(ln) && n < 6 && ln[n] == '#' {
		n++
	}
	if n == 0 || n >= len(ln) || ln[n] != ' ' {
		return 0
	}
	return n
}

func splitRow(ln string) []string {
	ln = strings.TrimSuffix(strings.TrimPrefix(ln, "|"), "|")
	cells := strings.Split(ln, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	return cells
}

var alignCell = regexp.MustCompile(`^:?-+:?$`)

// writeTable writes a pipe table: a header row, an alignment row, data rows.
// Rows that do not look like that are written as plain rows.
func writeTable(b *strings.Builder, rows [][]string) {
	var align []string
	header := 0
	if len(rows) >= 2 && isAlignRow(rows[1]) {
		header = 1
		for _, c := range rows[1] {
			switch {
			case strings.HasPrefix(c, ":") && strings.HasSuffix(c, ":"):
				align = append(align, "c")
			case strings.HasSuffix(c, ":"):
				align = append(align, "r")
			default:
				align = append(align, "l")
			}
		}
	}
	cell := func(tag string, i int, text string) {
		if i < len(align) {
			fmt.Fprintf(b, "<%s class=\"%s\">%s</%s>", tag, align[i], inline(text), tag)
		} else {
			fmt.Fprintf(b, "<%s>%s</%s>", tag, inline(text), tag)
		}
	}
	b.WriteString("<table>\n")
	if header == 1 {
		b.WriteString("<thead><tr>")
		for i, c := range rows[0] {
			cell("th", i, c)
		}
		b.WriteString("</tr></thead>\n")
		rows = rows[2:]
	}
	b.WriteString("<tbody>\n")
	for _, r := range rows {
		b.WriteString("<tr>")
		for i, c := range r {
			cell("td", i, c)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
}

func isAlignRow(cells []string) bool {
	for _, c := range cells {
		if !alignCell.MatchString(c) {
			return false
		}
	}
	return len(cells) > 0
}

var mdUnescaper = strings.NewReplacer(`\\`, `\`, `\*`, "*", `\_`, "_", `\[`, "[", `\]`, "]", "\\`", "`", `\|`, "|")

// inline escapes text for HTML, with `code` spans and Markdown's backslash
// escapes undone.
func inline(s string) string {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // an unmatched backtick: no code spans
		return html.EscapeString(mdUnescaper.Replace(s))
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			fmt.Fprintf(&b, "<code>%s</code>", html.EscapeString(p))
		} else {
			b.WriteString(html.EscapeString(mdUnescaper.Replace(p)))
		}
	}
	return b.String()
}
