package report

// The document model. Every output that shows tables or text (the terminal
// tables, results.md, report.html, compare's output) is built as a
// Document first and then written by one writer per format (text.go,
// markdown.go, html.go), so the formats cannot disagree on a cell.

// Document is a list of blocks, written in order.
type Document []Block

// Block is a Heading, Paragraph, List, *Table or FigureRef.
type Block interface{ block() }

// Heading is a section title; Level 1 is the document's title.
type Heading struct {
	Level int
	Text  string
}

// Paragraph is running text.
type Paragraph struct {
	Spans []Span
	// Emphasis sets the whole paragraph in italics.
	Emphasis bool
	// Wrap breaks the Markdown source into lines of at most 100 columns
	// (the terminal text is always wrapped).
	Wrap bool
}

// Span is a piece of a paragraph: plain text or code.
type Span struct {
	Text string
	Code bool
}

// List is a bulleted list.
type List []string

// Align is a column's alignment.
type Align int

const (
	Left Align = iota
	Right
)

// Table is a table with its heading: Title, then Intro (a sentence or
// two), then Detail (the settings, emphasised), then the header and rows,
// then Notes.
type Table struct {
	Title  string
	Intro  string
	Detail string
	Header []string
	Align  []Align // one per column
	Rows   [][]string
	// Empty is said instead of the table when it has no rows.
	Empty string
	Notes []string
}

// FigureRef places a figure, numbered from 1 in document order.
type FigureRef struct {
	Figure *Figure
	Num    int
}

func (Heading) block()   {}
func (Paragraph) block() {}
func (List) block()      {}
func (*Table) block()    {}
func (FigureRef) block() {}

// text is a paragraph of plain text.
func text(s string) Paragraph { return Paragraph{Spans: []Span{{Text: s}}} }

// plain is the paragraph's text with code spans as they read.
func (p Paragraph) plain() string {
	var s string
	for _, sp := range p.Spans {
		s += sp.Text
	}
	return s
}
