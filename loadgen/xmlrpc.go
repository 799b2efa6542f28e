package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"reflect"
	"time"

	"archbench/protocol"
	rpc "archbench/xmlrpc"
)

// runXMLRPC is the XML-RPC load (Config.Protocol xmlrpc): Conns goroutines,
// each with one kept-alive HTTP/1.1 connection on which it POSTs a call of
// upper (or a system.multicall of Multicall of them), reads the response
// and verifies it, then sends the next. The payloads are the byte
// protocol's (the same seed gives the same messages).
//
// The hot path is written by hand: the requests are encoded once before
// the run (method call, HTTP headers and all), a response is read with
// xmlrpc.ReadResponse (status line, headers, Content-Length body) and
// compared byte for byte with the response archbench's server sends; only
// a body that differs is decoded and compared as values, so another
// server's equivalent encoding is verified too. Blocking goroutines, not
// the event loops: one request in flight per connection and an XML parse
// per call on the server make the server the bottleneck by far (loadgen's
// doc.go has the figures).
//
// A message is one upper call: Requests, rps and the wire bytes count
// calls, and every call of a multicall request gets the request's latency.
func runXMLRPC(ctx context.Context, cfg Config, target *targets) (*Result, error) {
	cfg.Loops = cfg.Conns // recorded: one client goroutine per connection
	plain := cfg
	plain.Framing = protocol.Raw
	ms := newMessageSet(plain, messageCount(cfg.Size, max(1, cfg.Multicall)))
	reqs, err := newXMLRPCRequests(cfg, target, ms)
	if err != nil {
		return nil, err
	}
	tm, series := newTiming(cfg), newSeconds(ctx, cfg)
	cs := make([]*rpcConn, cfg.Conns)
	for i := range cs {
		cs[i] = &rpcConn{recorder: newRecorder(cfg, tm, series, 1), id: i, cfg: cfg, reqs: reqs, target: target}
	}
	return runClients(ctx, cfg, tm, series, cs)
}

// xmlrpcRequests is the pre-encoded traffic: request i carries the calls
// of messages i, i+1, ... (mod n), batch of them.
type xmlrpcRequests struct {
	n, batch int
	http     [][]byte // the whole HTTP request
	body     [][]byte // the response body archbench's server sends
	value    []any    // the result it carries, to verify other encodings
	maxBody  int
}

func newXMLRPCRequests(cfg Config, target *targets, ms *messageSet) (*xmlrpcRequests, error) {
	host := cfg.Addr // the Host header: the address as given
	if cfg.Network == "unix" {
		host = "localhost"
	}
	r := &xmlrpcRequests{n: ms.n, batch: max(1, cfg.Multicall)}
	for i := range ms.n {
		var calls, results []any
		for k := range r.batch {
			j := (i + k) % ms.n
			payload := string(ms.req[ms.reqOff[j]:ms.reqOff[j+1]])
			reply := string(ms.rep[ms.repOff[j]:ms.repOff[j+1]])
			calls = append(calls, map[string]any{"methodName": "upper", "params": []any{payload}})
			results = append(results, []any{reply})
		}
		var (
			body []byte
			err  error
			want any
		)
		if cfg.Multicall > 0 {
			body, err = rpc.AppendCall(nil, "system.multicall", calls)
			want = results
		} else {
			body, err = rpc.AppendCall(nil, "upper", calls[0].(map[string]any)["params"].([]any)[0])
			want = results[0].([]any)[0]
		}
		if err != nil {
			return nil, fmt.Errorf("loadgen: encode request: %w", err)
		}
		resp, err := rpc.AppendResponse(nil, want)
		if err != nil {
			return nil, fmt.Errorf("loadgen: encode response: %w", err)
		}
		r.http = append(r.http, rpc.AppendPost(nil, host, "/RPC2", body))
		r.body = append(r.body, resp)
		r.value = append(r.value, want)
		// A server may encode differently (whitespace, <string> or not):
		// allow four times archbench's response and 64 KiB.
		r.maxBody = max(r.maxBody, 4*len(resp)+64<<10)
	}
	return r, nil
}

// rpcConn is one connection slot of the XML-RPC load.
type rpcConn struct {
	recorder
	id     int
	cfg    Config
	reqs   *xmlrpcRequests
	target *targets
	conn   net.Conn
	br     *bufio.Reader
	buf    []byte
}

func (c *rpcConn) loop(ctx context.Context) {
	d := net.Dialer{}
	backoff := churnBackoffMin
	next := (c.id * c.reqs.batch) % c.reqs.n
	cut := int64(-1) // start of an exchange cut by the end of the run
	defer c.close()
	for ctx.Err() == nil {
		t0 := c.timing.now()
		if c.conn == nil {
			d.Deadline = time.Now().Add(c.cfg.Timeout)
			conn, kind := c.target.dial(ctx, &d)
			if conn == nil {
				if ctx.Err() != nil {
					break
				}
				c.count(kind, c.timing.now())
				c.wait(ctx, &backoff)
				continue
			}
			c.conn, c.br = conn, bufio.NewReaderSize(conn, 32<<10)
			c.tally.connects++
			t0 = c.timing.now()
		}
		kind, wireIn := c.exchange(ctx, next)
		now := c.timing.now()
		c.roll(now)
		if kind >= 0 {
			c.close()
			if ctx.Err() != nil {
				cut = t0 // by the end of the run, not the server's fault
				break
			}
			c.failed(kind, t0, now)
			c.wait(ctx, &backoff)
			continue
		}
		backoff = churnBackoffMin
		for range c.reqs.batch {
			c.reply(0, t0, now)
		}
		if now >= c.timing.measureStart {
			c.tally.wireOut += int64(len(c.reqs.http[next]))
			c.tally.wireIn += int64(wireIn)
		}
		next = (next + c.reqs.batch) % c.reqs.n
	}
	now := c.timing.now()
	c.tally.stopped = min(now, c.timing.end)
	if end := c.tally.stopped; cut >= 0 && cut < end && end >= c.timing.measureStart {
		// Unanswered at the end: recorded at their age then, as the event
		// loops do.
		for range c.reqs.batch {
			c.tally.unanswered++
			c.latency(cut, end)
		}
	}
	c.endSecond()
}

func (c *rpcConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// wait backs off 10 ms doubling to 500 ms after a failure, as the event
// loops' replacements do, so that a dead server is not hammered.
func (c *rpcConn) wait(ctx context.Context, backoff *time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(*backoff):
	}
	*backoff = min(2**backoff, churnBackoffMax)
}

// exchange sends request i and reads and verifies its response. It returns
// the error kind, or -1 and the response's bytes on the wire.
func (c *rpcConn) exchange(ctx context.Context, i int) (kind, wire int) {
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	if _, err := conn.Write(c.reqs.http[i]); err != nil {
		return ioKind(err, kWrite), 0
	}
	resp, err := rpc.ReadResponse(c.br, c.buf, c.reqs.maxBody)
	if err != nil {
		return ioKind(err, kRead), 0
	}
	c.buf = resp.Body[:0]
	if resp.Status != 200 || !c.verify(i, resp.Body) {
		return kMismatch, 0
	}
	if resp.Close {
		c.close()
	}
	return -1, resp.Wire
}

// verify compares a response body with the one owed: byte for byte, and
// as values when the bytes differ.
func (c *rpcConn) verify(i int, body []byte) bool {
	if bytes.Equal(body, c.reqs.body[i]) {
		return true
	}
	v, err := rpc.DecodeResponse(bytes.NewReader(body), rpc.Limits{MaxBytes: c.reqs.maxBody})
	return err == nil && reflect.DeepEqual(v, c.reqs.value[i])
}

// failed counts a failed exchange, started at t0, inside the measured
// window: one error, and every call of the request abandoned at its age.
func (c *rpcConn) failed(kind int, t0, now int64) {
	if now < c.timing.measureStart || now >= c.timing.end {
		return
	}
	c.count(kind, now)
	for range c.reqs.batch {
		c.tally.abandoned++
		c.latency(t0, now)
	}
}
