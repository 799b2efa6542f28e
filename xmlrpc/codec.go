package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Fault codes (xmlrpc-epi's interoperability specification).
const (
	FaultParse       = -32700 // not well-formed XML, or over a nesting or element bound
	FaultEncoding    = -32701 // an encoding other than UTF-8
	FaultInvalid     = -32600 // well-formed XML that is not an XML-RPC call
	FaultMethod      = -32601 // no such method
	FaultParams      = -32602 // wrong parameter count or type
	FaultInternal    = -32603 // the server failed
	FaultApplication = -32500 // the method refused its arguments
	FaultTooLarge    = -32001 // the body is over the server's --max-msg
)

// Fault is an XML-RPC fault: the <fault> struct of a methodResponse. It is an
// error, so a call's result and its fault come back as Go's (value, error).
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("<Fault %d: %q>", f.Code, f.String) }

// Faultf builds a fault with a formatted faultString.
func Faultf(code int, format string, a ...any) *Fault {
	return &Fault{Code: code, String: fmt.Sprintf(format, a...)}
}

// Errors of the encoder.
var (
	// ErrNotXMLText: a string that is not valid UTF-8 of XML characters.
	ErrNotXMLText = errors.New("xmlrpc: string is not valid XML text (invalid UTF-8 or a control character); send bytes as base64")
	// ErrType: a Go value with no XML-RPC type.
	ErrType = errors.New("xmlrpc: no XML-RPC type for value")
)

// Limits bound what the decoder accepts.
type Limits struct {
	MaxBytes    int // document size (0 = 1 MiB)
	MaxDepth    int // element nesting depth (0 = 64)
	MaxElements int // elements in the document (0 = 1<<20)
}

// Defaults of Limits' zero values.
const (
	DefaultMaxBytes    = 1 << 20
	DefaultMaxDepth    = 64
	DefaultMaxElements = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	return l
}

// Call is a decoded methodCall.
type Call struct {
	Method string
	Params []any
}

// DecodeCall reads one methodCall document. Every failure is a *Fault with
// the code a server sends back.
func DecodeCall(r io.Reader, lim Limits) (Call, error) {
	p := newParser(r, lim)
	var c Call
	if err := p.expectStart("methodCall"); err != nil {
		return c, err
	}
	if err := p.expectStart("methodName"); err != nil {
		return c, err
	}
	name, err := p.text()
	if err != nil {
		return c, err
	}
	c.Method = strings.TrimSpace(name)
	if c.Method == "" {
		return c, Faultf(FaultInvalid, "empty methodName")
	}
	t, err := p.next()
	if err != nil {
		return c, err
	}
	if isStart(t, "params") {
		if c.Params, err = p.params(); err != nil {
			return c, err
		}
		if t, err = p.next(); err != nil {
			return c, err
		}
	}
	if !isEnd(t) {
		return c, Faultf(FaultInvalid, "unexpected %s in methodCall", describe(t))
	}
	return c, p.end()
}

// DecodeResponse reads one methodResponse document: its value, or its fault
// as a *Fault error. Other failures are *Fault errors too (code -32700 or
// -32600), which a client reports as a malformed response.
func DecodeResponse(r io.Reader, lim Limits) (any, error) {
	p := newParser(r, lim)
	if err := p.expectStart("methodResponse"); err != nil {
		return nil, err
	}
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	var v any
	var fault *Fault
	switch {
	case isStart(t, "params"):
		ps, err := p.params()
		if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, Faultf(FaultInvalid, "methodResponse has %d params, want 1", len(ps))
		}
		v = ps[0]
	case isStart(t, "fault"):
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		fv, err := p.value()
		if err != nil {
			return nil, err
		}
		if fault, err = faultOf(fv); err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
	default:
		return nil, Faultf(FaultInvalid, "unexpected %s in methodResponse", describe(t))
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	if fault != nil {
		return nil, fault
	}
	return v, nil
}

func faultOf(v any) (*Fault, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Faultf(FaultInvalid, "fault value is not a struct")
	}
	code, ok1 := m["faultCode"].(int64)
	str, ok2 := m["faultString"].(string)
	if !ok1 || !ok2 || len(m) != 2 {
		return nil, Faultf(FaultInvalid, "fault struct wants exactly faultCode (int) and faultString (string)")
	}
	return &Fault{Code: int(code), String: str}, nil
}

// parser walks the token stream with the bounds of Limits.
type parser struct {
	d      *xml.Decoder
	cr     *countingReader
	lim    Limits
	depth  int
	elems  int
	peeked xml.Token
}

type countingReader struct {
	r    io.Reader
	n    int
	max  int
	over bool
}

func (c *countingReader) Read(b []byte) (int, error) {
	if c.n >= c.max {
		// One more byte would be over the bound: is there one?
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.over = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if len(b) > c.max-c.n {
		b = b[:c.max-c.n]
	}
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

var errTooLarge = errors.New("xmlrpc: document too large")

func newParser(r io.Reader, lim Limits) *parser {
	lim = lim.withDefaults()
	cr := &countingReader{r: r, max: lim.MaxBytes}
	d := xml.NewDecoder(cr)
	d.Strict = true
	d.Entity = nil // only &lt; &gt; &amp; &apos; &quot; and character references
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, Faultf(FaultEncoding, "encoding %q: only UTF-8 is supported", label)
	}
	return &parser{d: d, cr: cr, lim: lim}
}

// raw returns the next token that matters: comments are skipped, character
// data is returned (callers skip whitespace), a directive is an error.
func (p *parser) raw() (xml.Token, error) {
	if t := p.peeked; t != nil {
		p.peeked = nil
		return t, nil
	}
	for {
		t, err := p.d.Token()
		if err != nil {
			return nil, p.fault(err)
		}
		switch t := t.(type) {
		case xml.Comment:
			continue
		case xml.ProcInst:
			if t.Target == "xml" && p.elems == 0 {
				continue
			}
			return nil, Faultf(FaultParse, "processing instruction <?%s?> not allowed", t.Target)
		case xml.Directive:
			return nil, Faultf(FaultParse, "directive <!%s> not allowed (no DTDs, no entities)", trunc(string(t), 20))
		case xml.StartElement:
			p.elems++
			p.depth++
			if p.elems > p.lim.MaxElements {
				return nil, Faultf(FaultParse, "more than %d elements", p.lim.MaxElements)
			}
			if p.depth > p.lim.MaxDepth {
				return nil, Faultf(FaultParse, "nested deeper than %d elements", p.lim.MaxDepth)
			}
			return t, nil
		case xml.EndElement:
			p.depth--
			return t, nil
		case xml.CharData:
			return t, nil
		}
	}
}

// next is raw without whitespace-only character data.
func (p *parser) next() (xml.Token, error) {
	for {
		t, err := p.raw()
		if err != nil {
			return nil, err
		}
		if cd, ok := t.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) == 0 {
				continue
			}
			if p.elems == 0 { // text outside a root element: not XML at all
				return nil, Faultf(FaultParse, "malformed XML: text %q before the root element", trunc(string(cd), 20))
			}
			return nil, Faultf(FaultInvalid, "unexpected text %q", trunc(string(cd), 20))
		}
		return t, nil
	}
}

func (p *parser) fault(err error) error {
	var f *Fault
	switch {
	case errors.As(err, &f):
		return f
	case p.cr.over || errors.Is(err, errTooLarge):
		return Faultf(FaultTooLarge, "document over %d bytes", p.lim.MaxBytes)
	case err == io.EOF:
		return Faultf(FaultParse, "document ends early")
	}
	return Faultf(FaultParse, "malformed XML: %v", err)
}

func (p *parser) expectStart(name string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if !isStart(t, name) {
		return Faultf(FaultInvalid, "want <%s>, got %s", name, describe(t))
	}
	return nil
}

func (p *parser) expectEnd() error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if !isEnd(t) {
		return Faultf(FaultInvalid, "unexpected %s", describe(t))
	}
	return nil
}

// end checks that nothing but comments and whitespace follow the root.
func (p *parser) end() error {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return p.fault(err)
		}
		switch t := t.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Faultf(FaultParse, "text after the document")
			}
		default:
			return Faultf(FaultParse, "content after the document: %s", describe(t))
		}
	}
}

// text reads character data up to the current element's end.
func (p *parser) text() (string, error) {
	var sb strings.Builder
	for {
		t, err := p.raw()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			return sb.String(), nil
		default:
			return "", Faultf(FaultInvalid, "unexpected %s in text", describe(t))
		}
	}
}

// params reads <param><value>…</value></param>… up to </params>.
func (p *parser) params() ([]any, error) {
	ps := []any{}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if isEnd(t) {
			return ps, nil
		}
		if !isStart(t, "param") {
			return nil, Faultf(FaultInvalid, "want <param>, got %s", describe(t))
		}
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		ps = append(ps, v)
	}
}

// value reads what follows <value> up to and including </value>.
func (p *parser) value() (any, error) {
	var text []byte
	for {
		t, err := p.raw()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.EndElement:
			return string(text), nil // bare text is a string
		case xml.StartElement:
			if len(bytes.TrimSpace(text)) != 0 {
				return nil, Faultf(FaultInvalid, "text and <%s> mixed in a value", t.Name.Local)
			}
			v, err := p.typed(t.Name.Local)
			if err != nil {
				return nil, err
			}
			return v, p.expectEnd()
		}
	}
}

const dateLayout = "20060102T15:04:05"

// typed reads the typed element name (its start already read) to its end.
func (p *parser) typed(name string) (any, error) {
	switch name {
	case "array":
		return p.array()
	case "struct":
		return p.structure()
	case "nil":
		return nil, p.expectEnd()
	}
	s, err := p.text()
	if err != nil {
		return nil, err
	}
	bad := func(want string) error {
		return Faultf(FaultInvalid, "<%s>%s</%s>: not %s", name, trunc(s, 20), name, want)
	}
	switch name {
	case "string":
		return s, nil
	case "int", "i4":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, bad("a 32-bit integer")
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, bad("0 or 1")
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad("a finite number")
		}
		return f, nil
	case "dateTime.iso8601":
		tm, err := time.Parse(dateLayout, strings.TrimSpace(s))
		if err != nil {
			return nil, bad("a date as 20060102T15:04:05")
		}
		return tm, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, bad("base64")
		}
		return b, nil
	}
	return nil, Faultf(FaultInvalid, "unknown value type <%s>", name)
}

func (p *parser) array() ([]any, error) {
	if err := p.expectStart("data"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if isEnd(t) {
			break
		}
		if !isStart(t, "value") {
			return nil, Faultf(FaultInvalid, "want <value> in <data>, got %s", describe(t))
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
	return a, p.expectEnd()
}

func (p *parser) structure() (map[string]any, error) {
	m := map[string]any{}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if isEnd(t) {
			return m, nil
		}
		if !isStart(t, "member") {
			return nil, Faultf(FaultInvalid, "want <member> in <struct>, got %s", describe(t))
		}
		if err := p.expectStart("name"); err != nil {
			return nil, err
		}
		name, err := p.text()
		if err != nil {
			return nil, err
		}
		if err := p.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		m[name] = v
	}
}

func isStart(t xml.Token, name string) bool {
	s, ok := t.(xml.StartElement)
	return ok && s.Name.Local == name && s.Name.Space == ""
}

func isEnd(t xml.Token) bool {
	_, ok := t.(xml.EndElement)
	return ok
}

func describe(t xml.Token) string {
	switch t := t.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	case xml.CharData:
		return fmt.Sprintf("text %q", trunc(string(t), 20))
	}
	return fmt.Sprintf("%T", t)
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// AppendCall appends a methodCall document for method(params...) to dst.
func AppendCall(dst []byte, method string, params ...any) ([]byte, error) {
	dst = append(dst, `<?xml version="1.0"?>`+"\n<methodCall><methodName>"...)
	var err error
	if dst, err = appendText(dst, method); err != nil {
		return nil, err
	}
	dst = append(dst, "</methodName><params>"...)
	for _, p := range params {
		dst = append(dst, "<param>"...)
		if dst, err = AppendValue(dst, p); err != nil {
			return nil, err
		}
		dst = append(dst, "</param>"...)
	}
	return append(dst, "</params></methodCall>\n"...), nil
}

// AppendResponse appends a methodResponse document carrying v to dst.
func AppendResponse(dst []byte, v any) ([]byte, error) {
	dst = append(dst, `<?xml version="1.0"?>`+"\n<methodResponse><params><param>"...)
	dst, err := AppendValue(dst, v)
	if err != nil {
		return nil, err
	}
	return append(dst, "</param></params></methodResponse>\n"...), nil
}

// AppendFault appends a methodResponse document carrying f to dst.
func AppendFault(dst []byte, f *Fault) []byte {
	dst = append(dst, `<?xml version="1.0"?>`+"\n<methodResponse><fault>"...)
	dst, _ = AppendValue(dst, faultStruct(f)) // always encodable: the string is made valid first
	return append(dst, "</fault></methodResponse>\n"...)
}

// faultStruct is f as its <fault> struct value, its string made valid XML
// text (the replacement character for anything that is not).
func faultStruct(f *Fault) map[string]any {
	s := f.String
	if !isXMLText(s) {
		s = strings.Map(func(r rune) rune {
			if !isXMLChar(r) {
				return utf8.RuneError
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	return map[string]any{"faultCode": int64(f.Code), "faultString": s}
}

// AppendValue appends <value>…</value> for v to dst. Struct members are
// written in sorted order, so that the encoding is deterministic.
func AppendValue(dst []byte, v any) ([]byte, error) {
	dst = append(dst, "<value>"...)
	var err error
	switch v := v.(type) {
	case nil:
		dst = append(dst, "<nil/>"...)
	case string:
		dst = append(dst, "<string>"...)
		if dst, err = appendText(dst, v); err != nil {
			return nil, err
		}
		dst = append(dst, "</string>"...)
	case int:
		return appendInt(dst, int64(v))
	case int64:
		return appendInt(dst, v)
	case int32:
		return appendInt(dst, int64(v))
	case bool:
		if v {
			dst = append(dst, "<boolean>1</boolean>"...)
		} else {
			dst = append(dst, "<boolean>0</boolean>"...)
		}
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%w: %v is not a finite double", ErrType, v)
		}
		dst = append(dst, "<double>"...)
		dst = strconv.AppendFloat(dst, v, 'f', -1, 64)
		dst = append(dst, "</double>"...)
	case time.Time:
		dst = append(dst, "<dateTime.iso8601>"...)
		dst = v.AppendFormat(dst, dateLayout)
		dst = append(dst, "</dateTime.iso8601>"...)
	case []byte:
		dst = append(dst, "<base64>"...)
		dst = base64.StdEncoding.AppendEncode(dst, v)
		dst = append(dst, "</base64>"...)
	case []any:
		dst = append(dst, "<array><data>"...)
		for _, e := range v {
			if dst, err = AppendValue(dst, e); err != nil {
				return nil, err
			}
		}
		dst = append(dst, "</data></array>"...)
	case []string:
		dst = append(dst, "<array><data>"...)
		for _, e := range v {
			if dst, err = AppendValue(dst, e); err != nil {
				return nil, err
			}
		}
		dst = append(dst, "</data></array>"...)
	case []float64:
		dst = append(dst, "<array><data>"...)
		for _, e := range v {
			if dst, err = AppendValue(dst, e); err != nil {
				return nil, err
			}
		}
		dst = append(dst, "</data></array>"...)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, "<struct>"...)
		for _, k := range keys {
			dst = append(dst, "<member><name>"...)
			if dst, err = appendText(dst, k); err != nil {
				return nil, err
			}
			dst = append(dst, "</name>"...)
			if dst, err = AppendValue(dst, v[k]); err != nil {
				return nil, err
			}
			dst = append(dst, "</member>"...)
		}
		dst = append(dst, "</struct>"...)
	default:
		return nil, fmt.Errorf("%w: %T", ErrType, v)
	}
	return append(dst, "</value>"...), nil
}

func appendInt(dst []byte, n int64) ([]byte, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d is outside the 32-bit <int> range", ErrType, n)
	}
	dst = append(dst, "<int>"...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "</int></value>"...), nil
}

// appendText appends s escaped as XML character data.
func appendText(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case c >= 0x20 || c == '\n' || c == '\t':
				dst = append(dst, c)
			default:
				return nil, ErrNotXMLText
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
			return nil, ErrNotXMLText
		}
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return dst, nil
}

// isXMLChar reports whether r is a Char of XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isXMLText reports whether s can travel in an XML string.
func isXMLText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !isXMLChar(r) {
			return false
		}
	}
	return true
}
