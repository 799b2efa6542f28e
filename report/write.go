package report

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// A Reporter writes one output; each output has exactly one.
type Reporter func(io.Writer) error

// textWidth is where the terminal text, and Markdown paragraphs that ask
// for it, break lines.
const textWidth = 100

// tableHeading is the heading level of a table's title.
const tableHeading = 3

// WriteText writes d for a terminal: text wrapped at 100 columns, tables
// drawn with box characters, blocks separated by a blank line. Figures are
// named by their SVG file.
func (d Document) WriteText(w io.Writer) error {
	return d.eachBlock(w, func(ew *errWriter, b Block) {
		switch b := b.(type) {
		case Heading:
			fmt.Fprintln(ew, wrap(b.Text, textWidth, ""))
		case Paragraph:
			fmt.Fprintln(ew, wrap(b.plain(), textWidth, ""))
		case List:
			for _, it := range b {
				fmt.Fprintln(ew, wrap("- "+it, textWidth, "  "))
			}
		case *Table:
			switch {
			case b.Intro != "":
				fmt.Fprintln(ew, wrap(b.Title+": "+b.Intro, textWidth, ""))
			case b.Title != "":
				fmt.Fprintln(ew, wrap(b.Title, textWidth, ""))
			}
			if b.Detail != "" {
				fmt.Fprintln(ew, wrap(b.Detail, textWidth, "  "))
			}
			if ew.err == nil {
				ew.err = drawTable(ew, b, renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)}), func(s string) string { return s })
			}
			for _, n := range b.Notes {
				fmt.Fprintln(ew, wrap(n, textWidth, ""))
			}
		case FigureRef:
			fmt.Fprintln(ew, wrap(fmt.Sprintf("Figure %d. %s (%s/%s.svg)", b.Num, b.Figure.Caption, DirFigures, b.Figure.Name), textWidth, ""))
		}
	})
}

// eachBlock writes d's blocks with write, a blank line between two, and
// returns the first write error.
func (d Document) eachBlock(w io.Writer, write func(*errWriter, Block)) error {
	ew := &errWriter{w: w}
	for i, b := range d {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		write(ew, b)
	}
	return ew.err
}

// WriteMarkdown writes d as GitHub-flavoured Markdown, blocks separated by
// a blank line; a figure is its PNG with its caption and a link to its SVG.
func (d Document) WriteMarkdown(w io.Writer) error {
	return d.eachBlock(w, func(ew *errWriter, b Block) {
		switch b := b.(type) {
		case Heading:
			fmt.Fprintf(ew, "%s %s\n", strings.Repeat("#", b.Level), mdEscape(b.Text))
		case Paragraph:
			var s strings.Builder
			for _, sp := range b.Spans {
				if sp.Code {
					s.WriteString("`" + sp.Text + "`")
				} else {
					s.WriteString(mdEscape(sp.Text))
				}
			}
			p := s.String()
			if b.Wrap {
				p = wrap(p, textWidth, "")
			}
			if b.Emphasis {
				p = "*" + p + "*"
			}
			fmt.Fprintln(ew, p)
		case List:
			for _, it := range b {
				fmt.Fprintf(ew, "- %s\n", mdEscape(it))
			}
		case *Table:
			if b.Title != "" {
				fmt.Fprintf(ew, "%s %s\n\n", strings.Repeat("#", tableHeading), mdEscape(b.Title))
			}
			if b.Intro != "" {
				fmt.Fprintf(ew, "%s\n\n", mdEscape(b.Intro))
			}
			if b.Detail != "" {
				fmt.Fprintf(ew, "*%s*\n\n", mdEscape(b.Detail))
			}
			if ew.err == nil {
				ew.err = drawTable(ew, b, renderer.NewMarkdown(), mdCell)
			}
			for _, n := range b.Notes {
				fmt.Fprintf(ew, "\n%s\n", mdEscape(n))
			}
		case FigureRef:
			f := b.Figure
			fmt.Fprintf(ew, "![%s](%s/%s.png)\n\n", mdEscape(f.Title), DirFigures, f.Name)
			fmt.Fprintf(ew, "*Figure %d. %s* ([SVG](%s/%s.svg))\n", b.Num, mdEscape(f.Caption), DirFigures, f.Name)
		}
	})
}

// drawTable draws t's rows (or says t.Empty) with tablewriter, each cell
// passed through cell first.
func drawTable(w io.Writer, t *Table, rend tw.Renderer, cell func(string) string) error {
	if len(t.Rows) == 0 && t.Empty != "" {
		_, err := fmt.Fprintln(w, t.Empty)
		return err
	}
	align := make(tw.Alignment, len(t.Header))
	for i := range align {
		align[i] = tw.AlignLeft
		if i < len(t.Align) && t.Align[i] == Right {
			align[i] = tw.AlignRight
		}
	}
	tbl := tablewriter.NewTable(w,
		tablewriter.WithRenderer(rend),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithAlignment(align),
	)
	cells := func(row []string) []string {
		out := make([]string, len(row))
		for i, c := range row {
			out[i] = cell(c)
		}
		return out
	}
	tbl.Header(cells(t.Header))
	for _, row := range t.Rows {
		if err := tbl.Append(cells(row)); err != nil {
			return fmt.Errorf("report: table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("report: table: %w", err)
	}
	return nil
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "[", `\[`, "]", `\]`, "`", "\\`", "<", `\<`, "&", `\&`)

// mdEscape keeps text literal in Markdown: a backslash before each
// character Markdown would read as markup, and before an underscore that
// could start or end emphasis (one not inside a word, as in epoll_ctl).
func mdEscape(s string) string {
	s = mdEscaper.Replace(s)
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && !(i > 0 && isWordByte(s[i-1]) && i+1 < len(s) && isWordByte(s[i+1])) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// mdCell is a table cell in Markdown: escaped, and its | too.
func mdCell(s string) string { return strings.ReplaceAll(mdEscape(s), "|", `\|`) }

// writeHTML writes d as the body of report.html; every text is escaped,
// a figure's SVG is inline.
func (d Document) writeHTML(w io.Writer) error {
	ew := &errWriter{w: w}
	esc := html.EscapeString
	para := func(p Paragraph) string {
		var s strings.Builder
		for _, sp := range p.Spans {
			if sp.Code {
				fmt.Fprintf(&s, "<code>%s</code>", esc(sp.Text))
			} else {
				s.WriteString(esc(sp.Text))
			}
		}
		if p.Emphasis {
			return "<p><em>" + s.String() + "</em></p>\n"
		}
		return "<p>" + s.String() + "</p>\n"
	}
	for _, b := range d {
		switch b := b.(type) {
		case Heading:
			fmt.Fprintf(ew, "<h%d>%s</h%d>\n", b.Level, esc(b.Text), b.Level)
		case Paragraph:
			fmt.Fprint(ew, para(b))
		case List:
			fmt.Fprint(ew, "<ul>\n")
			for _, it := range b {
				fmt.Fprintf(ew, "<li>%s</li>\n", esc(it))
			}
			fmt.Fprint(ew, "</ul>\n")
		case *Table:
			if b.Title != "" {
				fmt.Fprintf(ew, "<h%d>%s</h%d>\n", tableHeading, esc(b.Title), tableHeading)
			}
			if b.Intro != "" {
				fmt.Fprint(ew, para(text(b.Intro)))
			}
			if b.Detail != "" {
				fmt.Fprint(ew, para(Paragraph{Spans: []Span{{Text: b.Detail}}, Emphasis: true}))
			}
			if len(b.Rows) == 0 && b.Empty != "" {
				fmt.Fprint(ew, para(text(b.Empty)))
			} else {
				writeHTMLTable(ew, b)
			}
			for _, n := range b.Notes {
				fmt.Fprint(ew, para(text(n)))
			}
		case FigureRef:
			f := b.Figure
			fmt.Fprintf(ew, "<figure id=\"%s\">\n%s<figcaption><strong>Figure %d.</strong> %s</figcaption>\n</figure>\n",
				esc(f.Name), inlineSVG(f.SVG, f.Title), b.Num, esc(f.Caption))
		}
	}
	return ew.err
}

// writeHTMLTable writes t's header and rows; a cell's class is its
// column's alignment, its text trimmed of the padding that lines up the
// noise marks in text.
func writeHTMLTable(w io.Writer, t *Table) {
	class := func(i int) string {
		if i < len(t.Align) && t.Align[i] == Right {
			return "r"
		}
		return "l"
	}
	row := func(tag string, cells []string) {
		fmt.Fprint(w, "<tr>")
		for i, c := range cells {
			fmt.Fprintf(w, "<%s class=\"%s\">%s</%s>", tag, class(i), html.EscapeString(strings.TrimSpace(c)), tag)
		}
		fmt.Fprint(w, "</tr>")
	}
	fmt.Fprint(w, "<table>\n<thead>")
	row("th", t.Header)
	fmt.Fprint(w, "</thead>\n<tbody>\n")
	for _, r := range t.Rows {
		row("td", r)
		fmt.Fprint(w, "\n")
	}
	fmt.Fprint(w, "</tbody>\n</table>\n")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
