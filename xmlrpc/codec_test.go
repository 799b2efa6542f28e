package xmlrpc

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	when := time.Date(2026, 12, 6, 23, 45, 52, 0, time.UTC)
	params := []any{
		int64(42), int64(-7), true, false, "hé <&> \r\n\t中", 2.5, when, []byte{0, 0xff, 'a'},
		[]any{int64(1), "x", []any{}}, map[string]any{"a": int64(1), "b <": []any{nil}}, nil, "",
	}
	doc, err := AppendCall(nil, "do.it", params...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCall(bytes.NewReader(doc), Limits{})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if c.Method != "do.it" || !reflect.DeepEqual(c.Params, params) {
		t.Fatalf("got %q %#v\nwant %#v", c.Method, c.Params, params)
	}
	for _, v := range params {
		doc, err := AppendResponse(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeResponse(bytes.NewReader(doc), Limits{})
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Fatalf("response %#v: got %#v, %v", v, got, err)
		}
	}
}

func TestFaultRoundTrip(t *testing.T) {
	doc := AppendFault(nil, &Fault{Code: FaultMethod, String: "no \xff such\x01 method"})
	_, err := DecodeResponse(bytes.NewReader(doc), Limits{})
	var f *Fault
	if !errors.As(err, &f) || f.Code != FaultMethod || f.String != "no \uFFFD such\uFFFD method" {
		t.Fatalf("got %v", err)
	}
}

// TestSpecDocuments decodes the forms the specification and Python write.
func TestSpecDocuments(t *testing.T) {
	call := `<?xml version="1.0"?>
<!-- a comment -->
<methodCall>
  <methodName>examples.getStateName</methodName>
  <params><param><value><i4>41</i4></value></param>
  <param><value>bare text</value></param>
  <param><value> <string></string> </value></param>
  <param><value><base64>
   aGVs
   bG8=
  </base64></value></param>
  <param><value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value></param>
  </params>
</methodCall>`
	c, err := DecodeCall(strings.NewReader(call), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(41), "bare text", "", []byte("hello"), time.Date(1998, 7, 17, 14, 8, 55, 0, time.UTC)}
	if c.Method != "examples.getStateName" || !reflect.DeepEqual(c.Params, want) {
		t.Fatalf("got %#v", c)
	}
	noParams := `<methodCall><methodName>system.listMethods</methodName></methodCall>`
	if c, err := DecodeCall(strings.NewReader(noParams), Limits{}); err != nil || len(c.Params) != 0 {
		t.Fatalf("got %#v %v", c, err)
	}
	fault := `<?xml version='1.0'?>
<methodResponse><fault><value><struct>
<member><name>faultCode</name><value><int>4</int></value></member>
<member><name>faultString</name><value><string>Too many parameters.</string></value></member>
</struct></value></fault></methodResponse>`
	_, err = DecodeResponse(strings.NewReader(fault), Limits{})
	var f *Fault
	if !errors.As(err, &f) || f.Code != 4 || f.String != "Too many parameters." {
		t.Fatalf("got %v", err)
	}
}

func faultCode(t *testing.T, err error) int {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("want a *Fault, got %v", err)
	}
	return f.Code
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		code      int
	}{
		{"empty", ``, FaultParse},
		{"not xml", `hello`, FaultParse},
		{"unclosed", `<methodCall><methodName>a</methodName>`, FaultParse},
		{"mismatched", `<methodCall><methodName>a</methodNam></methodCall>`, FaultParse},
		{"wrong root", `<methodResponse/>`, FaultInvalid},
		{"no name", `<methodCall><methodName> </methodName></methodCall>`, FaultInvalid},
		{"bad int", `<methodCall><methodName>a</methodName><params><param><value><int>x</int></value></param></params></methodCall>`, FaultInvalid},
		{"int over 32 bits", `<methodCall><methodName>a</methodName><params><param><value><int>2147483648</int></value></param></params></methodCall>`, FaultInvalid},
		{"unknown type", `<methodCall><methodName>a</methodName><params><param><value><i8>1</i8></value></param></params></methodCall>`, FaultInvalid},
		{"bad boolean", `<methodCall><methodName>a</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>`, FaultInvalid},
		{"nan", `<methodCall><methodName>a</methodName><params><param><value><double>NaN</double></value></param></params></methodCall>`, FaultInvalid},
		{"bad base64", `<methodCall><methodName>a</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>`, FaultInvalid},
		{"trailing element", `<methodCall><methodName>a</methodName></methodCall><x/>`, FaultParse},
		{"invalid utf-8", "<methodCall><methodName>a\xff</methodName></methodCall>", FaultParse},
		{"control char", "<methodCall><methodName>a\x01</methodName></methodCall>", FaultParse},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>a</methodName></methodCall>`, FaultEncoding},
		{"unknown entity", `<methodCall><methodName>&foo;</methodName></methodCall>`, FaultParse},
		{"external entity", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>&e;</methodName></methodCall>`, FaultParse},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeCall(strings.NewReader(c.doc), Limits{})
			if got := faultCode(t, err); got != c.code {
				t.Fatalf("code %d (%v), want %d", got, err, c.code)
			}
		})
	}
}

// billionLaughs is the classic entity bomb: 10 levels of 10 references.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
	for i := 1; i <= 9; i++ {
		b.WriteString(`<!ENTITY lol` + string(rune('0'+i)) + ` "`)
		prev := "lol"
		if i > 1 {
			prev = "lol" + string(rune('0'+i-1))
		}
		b.WriteString(strings.Repeat("&"+prev+";", 10) + `">`)
	}
	b.WriteString(`]><methodCall><methodName>upper</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>`)
	return b.String()
}

func TestBillionLaughs(t *testing.T) {
	_, err := DecodeCall(strings.NewReader(billionLaughs()), Limits{})
	if code := faultCode(t, err); code != FaultParse {
		t.Fatalf("code %d: %v", code, err)
	}
	// Without the DOCTYPE guard, encoding/xml itself would not expand it:
	// the reference alone is an unknown entity.
	doc := `<methodCall><methodName>upper</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>`
	if _, err := DecodeCall(strings.NewReader(doc), Limits{}); faultCode(t, err) != FaultParse {
		t.Fatalf("entity reference accepted: %v", err)
	}
}

func nested(depth int) string {
	return `<methodCall><methodName>a</methodName><params><param>` +
		strings.Repeat("<value><array><data>", depth) + strings.Repeat("</data></array></value>", depth) +
		`</param></params></methodCall>`
}

func TestBounds(t *testing.T) {
	if _, err := DecodeCall(strings.NewReader(nested(20)), Limits{}); err != nil {
		t.Fatalf("depth 60 rejected: %v", err)
	}
	_, err := DecodeCall(strings.NewReader(nested(100000)), Limits{MaxBytes: 8 << 20})
	if code := faultCode(t, err); code != FaultParse || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("deep: %v", err)
	}
	many := `<methodCall><methodName>a</methodName><params>` + strings.Repeat(`<param><value><int>1</int></value></param>`, 1000) + `</params></methodCall>`
	_, err = DecodeCall(strings.NewReader(many), Limits{MaxElements: 1000})
	if code := faultCode(t, err); code != FaultParse || !strings.Contains(err.Error(), "elements") {
		t.Fatalf("many: %v", err)
	}
	if _, err := DecodeCall(strings.NewReader(many), Limits{}); err != nil {
		t.Fatal(err)
	}
	_, err = DecodeCall(strings.NewReader(many), Limits{MaxBytes: 1000})
	if code := faultCode(t, err); code != FaultTooLarge {
		t.Fatalf("size: %v", err)
	}
	// Exactly at the bound is fine.
	if _, err := DecodeCall(strings.NewReader(many), Limits{MaxBytes: len(many)}); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
}

func TestEncodeRefusesNonXMLText(t *testing.T) {
	for _, s := range []string{"\xff", "a\x00b", "\x1b[0m", "\uFFFE"} {
		if _, err := AppendCall(nil, "upper", s); !errors.Is(err, ErrNotXMLText) {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, v := range []any{math.Inf(1), int64(math.MaxInt32) + 1, struct{}{}} {
		if _, err := AppendResponse(nil, v); !errors.Is(err, ErrType) {
			t.Errorf("%v: %v", v, err)
		}
	}
}

// FuzzDecode: the decoder returns a value or a *Fault, never panics, and a
// decoded call encodes and decodes to the same call.
func FuzzDecode(f *testing.F) {
	doc, _ := AppendCall(nil, "upper", "hello", int64(1), []any{map[string]any{"a": 1.5}}, []byte("x"), nil)
	f.Add(string(doc))
	f.Add(billionLaughs())
	f.Add(nested(10))
	f.Add(string(AppendFault(nil, &Fault{Code: 1, String: "x"})))
	f.Fuzz(func(t *testing.T, doc string) {
		lim := Limits{MaxBytes: 1 << 16, MaxDepth: 32, MaxElements: 4096}
		c, err := DecodeCall(strings.NewReader(doc), lim)
		if err != nil {
			var flt *Fault
			if !errors.As(err, &flt) {
				t.Fatalf("not a fault: %v", err)
			}
		} else {
			again, err := AppendCall(nil, c.Method, c.Params...)
			if err != nil {
				t.Fatalf("decoded call does not encode: %v", err)
			}
			c2, err := DecodeCall(bytes.NewReader(again), Limits{})
			if err != nil || c2.Method != c.Method || !reflect.DeepEqual(c2.Params, c.Params) {
				t.Fatalf("round trip: %#v → %#v, %v", c, c2, err)
			}
		}
		if _, err := DecodeResponse(strings.NewReader(doc), lim); err != nil {
			var flt *Fault
			if !errors.As(err, &flt) {
				t.Fatalf("response: not a fault: %v", err)
			}
		}
	})
}
