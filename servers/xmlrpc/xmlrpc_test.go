package xmlrpc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/xmlrpc"
	rpc "archbench/xmlrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs an xmlrpc server on 127.0.0.1:0 for the test.
func start(t testing.TB, cfg servers.Config) servers.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := xmlrpc.Arch.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func client(t testing.TB, s servers.Server) *rpc.Client {
	c := &rpc.Client{Addr: s.Addr().String(), Timeout: 5 * time.Second}
	t.Cleanup(c.Close)
	return c
}

func call(t testing.TB, c *rpc.Client, method string, params ...any) any {
	t.Helper()
	v, err := c.Call(context.Background(), method, params...)
	if err != nil {
		t.Fatalf("%s%v: %v", method, params, err)
	}
	return v
}

func wantFault(t testing.TB, err error, code int) {
	t.Helper()
	var f *rpc.Fault
	if !errors.As(err, &f) {
		t.Fatalf("want fault %d, got %v", code, err)
	}
	if f.Code != code || f.String == "" {
		t.Fatalf("want fault %d, got %v", code, f)
	}
}

func TestMethods(t *testing.T) {
	c := client(t, start(t, servers.Config{}))
	for _, tc := range []struct {
		method string
		params []any
		want   any
	}{
		{"upper", []any{"hello, wörld ı ß"}, "HELLO, WÖRLD I ß"},
		{"upper", []any{""}, ""},
		{"upper", []any{[]byte("ab\xffc\xe4")}, []byte("AB\xffC\xe4")},
		{"addtogether", []any{"x", "y", "z"}, "xyz"},
		{"addtogether", []any{int64(1), int64(2), int64(3), int64(4), int64(5)}, int64(15)},
		{"addtogether", []any{int64(1), 2.5, true}, 4.5},
		{"addtogether", []any{[]any{int64(1)}, []any{"a", []any{}}}, []any{int64(1), "a", []any{}}},
		{"addtogether", []any{map[string]any{"k": "v"}}, map[string]any{"k": "v"}},
		{"quadratic", []any{int64(1), int64(2), int64(1)}, []any{-1.0}},
		{"quadratic", []any{int64(2), int64(-4), int64(0)}, []any{0.0, 2.0}},
		{"quadratic", []any{1.0, int64(0), int64(-4)}, []any{-2.0, 2.0}},
		{"system.listMethods", nil, []any{"addtogether", "quadratic", "system.listMethods", "system.methodHelp", "system.methodSignature", "system.multicall", "upper"}},
		{"system.methodSignature", []any{"upper"}, []any{[]any{"string", "string"}, []any{"base64", "base64"}}},
		{"system.methodSignature", []any{"addtogether"}, "signatures not supported"},
		{"system.multicall", []any{[]any{
			map[string]any{"methodName": "upper", "params": []any{"a"}},
			map[string]any{"methodName": "nope", "params": []any{}},
			map[string]any{"methodName": "quadratic", "params": []any{int64(1), int64(0), int64(1)}},
			map[string]any{"methodName": "system.multicall", "params": []any{[]any{}}},
			"not a struct",
		}}, []any{
			[]any{"A"},
			map[string]any{"faultCode": int64(rpc.FaultMethod), "faultString": `method "nope" is not supported`},
			map[string]any{"faultCode": int64(rpc.FaultApplication), "faultString": "quadratic: no real roots (discriminant -4)"},
			map[string]any{"faultCode": int64(rpc.FaultInvalid), "faultString": "system.multicall: recursive system.multicall is not allowed"},
			map[string]any{"faultCode": int64(rpc.FaultParams), "faultString": "system.multicall: call 4 is string, want a struct"},
		}},
	} {
		if got := call(t, c, tc.method, tc.params...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s%v = %#v, want %#v", tc.method, tc.params, got, tc.want)
		}
	}
	help := call(t, c, "system.methodHelp", "quadratic").(string)
	if !strings.Contains(help, "a = 0") {
		t.Errorf("quadratic's help does not say what a = 0 does: %q", help)
	}
}

// TestFaults: every fault is a spec-correct <fault> struct with its code, and
// the connection goes on serving after it.
func TestFaults(t *testing.T) {
	s := start(t, servers.Config{})
	c := client(t, s)
	for _, tc := range []struct {
		method string
		params []any
		code   int
	}{
		{"nope", nil, rpc.FaultMethod},
		{"upper", nil, rpc.FaultParams},
		{"upper", []any{"a", "b"}, rpc.FaultParams},
		{"upper", []any{int64(1)}, rpc.FaultParams},
		{"addtogether", nil, rpc.FaultParams},
		{"addtogether", []any{"x", int64(1)}, rpc.FaultApplication},
		{"addtogether", []any{int64(1 << 30), int64(1 << 30), int64(1 << 30)}, rpc.FaultApplication},
		{"quadratic", []any{int64(0), int64(1), int64(1)}, rpc.FaultApplication},
		{"quadratic", []any{int64(1), int64(0), int64(1)}, rpc.FaultApplication},
		{"quadratic", []any{int64(1), int64(2)}, rpc.FaultParams},
		{"quadratic", []any{"1", int64(2), int64(3)}, rpc.FaultParams},
		{"system.methodHelp", []any{"nope"}, rpc.FaultMethod},
		{"system.multicall", []any{"x"}, rpc.FaultParams},
	} {
		_, err := c.Call(context.Background(), tc.method, tc.params...)
		wantFault(t, err, tc.code)
	}
	if got := call(t, c, "upper", "still here"); got != "STILL HERE" {
		t.Fatalf("after the faults: %v", got)
	}
	if n := s.Stats().Accepted; n != 1 {
		t.Fatalf("%d connections accepted, want 1 (keep-alive)", n)
	}
}

// post sends body raw on conn and returns the HTTP response.
func post(t testing.TB, conn net.Conn, br *bufio.Reader, body string) rpc.Response {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(rpc.AppendPost(nil, "x", "/RPC2", []byte(body))); err != nil {
		t.Fatal(err)
	}
	r, err := rpc.ReadResponse(br, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func faultOf(t testing.TB, r rpc.Response) int {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	_, err := rpc.DecodeResponse(bytes.NewReader(r.Body), rpc.Limits{})
	var f *rpc.Fault
	if !errors.As(err, &f) {
		t.Fatalf("want a fault, got %v (%s)", err, r.Body)
	}
	return f.Code
}

func dial(t testing.TB, s servers.Server) (net.Conn, *bufio.Reader) {
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, bufio.NewReader(conn)
}

// TestBoundedParser: malformed XML, invalid UTF-8, a billion-laughs and a
// deeply nested body are faults, and the same connection is served after
// each; a body over --max-msg is a fault and the server keeps serving.
func TestBoundedParser(t *testing.T) {
	s := start(t, servers.Config{MaxMsg: 64 << 10})
	conn, br := dial(t, s)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
		`<methodCall><methodName>upper</methodName><params><param><value><string>&lol2;</string></value></param></params></methodCall>`
	deep := `<methodCall><methodName>upper</methodName><params><param>` + strings.Repeat("<value><array><data>", 1000) + strings.Repeat(`</data></array></value>`, 1000) + `</param></params></methodCall>`
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"malformed", `<methodCall><methodName>upper</methodName>`, rpc.FaultParse},
		{"not a call", `<methodResponse/>`, rpc.FaultInvalid},
		{"invalid UTF-8", "<methodCall><methodName>upper</methodName><params><param><value><string>a\xffb</string></value></param></params></methodCall>", rpc.FaultParse},
		{"billion laughs", laughs, rpc.FaultParse},
		{"deep nesting", deep, rpc.FaultParse},
		{"over max-msg", `<methodCall><methodName>upper</methodName><params><param><value><string>` + strings.Repeat("a", 64<<10) + `</string></value></param></params></methodCall>`, rpc.FaultTooLarge},
	} {
		if code := faultOf(t, post(t, conn, br, tc.body)); code != tc.code {
			t.Errorf("%s: fault %d, want %d", tc.name, code, tc.code)
		}
	}
	// The connection closed after the oversized body (declared too large
	// by its Content-Length, it was not read); a new one is served.
	c := client(t, s)
	if got := call(t, c, "upper", "ok"); got != "OK" {
		t.Fatal(got)
	}
}

// TestInvalidUTF8: a string holding invalid UTF-8 cannot be sent (the client
// refuses it, the server faults on it, as tested above); its bytes travel as
// base64 and come back transformed with the invalid bytes unchanged, as on
// the byte protocol.
func TestInvalidUTF8(t *testing.T) {
	c := client(t, start(t, servers.Config{}))
	_, err := c.Call(context.Background(), "upper", "a\xffb")
	if !errors.Is(err, rpc.ErrNotXMLText) {
		t.Fatalf("client sent invalid UTF-8 in a string: %v", err)
	}
	in := []byte("a\xffb\xc3\xa9\x01")
	if got := call(t, c, "upper", in); !bytes.Equal(got.([]byte), protocol.AppendUpper(nil, in)) {
		t.Fatalf("got %q", got)
	}
}

func TestHTTP(t *testing.T) {
	s := start(t, servers.Config{})
	base := "http://" + s.Addr().String()
	for _, tc := range []struct {
		method, path string
		status       int
	}{{"GET", "/RPC2", 405}, {"GET", "/", 405}, {"POST", "/other", 404}} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	// "/" serves calls as /RPC2 does.
	c := &rpc.Client{Addr: s.Addr().String(), Path: "/"}
	defer c.Close()
	if got := call(t, c, "upper", "root"); got != "ROOT" {
		t.Fatal(got)
	}
}

// TestKeepAlive: many calls, one connection.
func TestKeepAlive(t *testing.T) {
	s := start(t, servers.Config{})
	c := client(t, s)
	for i := range 100 {
		msg := fmt.Sprintf("call %d", i)
		if got := call(t, c, "upper", msg); got != strings.ToUpper(msg) {
			t.Fatal(got)
		}
	}
	st := s.Stats()
	if st.Accepted != 1 || st.Active != 1 {
		t.Fatalf("stats %+v, want 1 accepted and active", st)
	}
}

func TestMaxConns(t *testing.T) {
	s := start(t, servers.Config{MaxConns: 1})
	c := client(t, s)
	call(t, c, "upper", "a")
	c2 := client(t, s)
	if _, err := c2.Call(context.Background(), "upper", "b"); err == nil {
		t.Fatal("second connection served over max-conns 1")
	}
	if st := s.Stats(); st.Rejected != 1 {
		t.Fatalf("stats %+v, want 1 rejected", st)
	}
	call(t, c, "upper", "c")
}

// TestGracefulStop: a call in progress when Shutdown starts is answered;
// then the server is gone (goleak in TestMain checks its goroutines).
func TestGracefulStop(t *testing.T) {
	// Config.Validate accepts work with a framed protocol only; xmlrpc has
	// no framing (each call is a message) and ignores the field.
	cfg := servers.Config{Addr: "127.0.0.1:0", Framing: protocol.Line, Work: protocol.Work{Sleep: 200 * time.Millisecond}}
	s, err := xmlrpc.Arch.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	idle := client(t, s)
	call(t, idle, "system.listMethods") // an idle keep-alive connection
	busy := &rpc.Client{Addr: s.Addr().String()}
	defer busy.Close()
	got := make(chan any, 1)
	go func() {
		v, err := busy.Call(context.Background(), "upper", "in flight")
		if err != nil {
			v = err
		}
		got <- v
	}()
	for s.Stats().Accepted < 2 {
		time.Sleep(time.Millisecond) // until the busy call's connection is in
	}
	time.Sleep(20 * time.Millisecond) // its request is being read (no other signal from outside)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "IN FLIGHT" {
		t.Fatalf("call in flight during shutdown: %v", v)
	}
	<-s.Done()
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
	if err := s.Shutdown(ctx); !errors.Is(err, servers.ErrClosed) && err != nil {
		t.Fatal(err)
	}
}
