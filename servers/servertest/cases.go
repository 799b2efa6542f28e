package servertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"archbench/protocol"
	"archbench/servers"
)

// oracle checks the expectation source itself against hand-written truth,
// so that a codec bug cannot hide behind "server and suite agree".
func (e *env) oracle(in, want string) {
	e.t.Helper()
	if got := string(protocol.AppendUpper(nil, []byte(in))); got != want {
		e.t.Fatalf("protocol.AppendUpper(%q) = %q, want %q: the suite's expectation is wrong", in, got, want)
	}
}

func testASCII(e *env) {
	e.oracle("hello, World 123! az`{@[", "HELLO, WORLD 123! AZ`{@[")
	srv := e.start(nil)
	c := e.dial(srv)
	ps := [][]byte{[]byte("hello, world"), {}, []byte("x"), []byte("The Quick Brown Fox ~!@#$%^&*()_+ 0123456789")}
	for range 50 {
		ps = append(ps, randASCII(e.rng, 1+e.rng.IntN(512)))
	}
	ps = append(ps, randASCII(e.rng, 64<<10))
	if err := e.pingPong(c, ps, nil); err != nil {
		e.t.Fatal(err)
	}
}

func testBinary(e *env) {
	srv := e.start(nil)
	c := e.dial(srv)
	all := make([]byte, 0, 256)
	for b := range 256 {
		if e.f == protocol.Line && b == '\n' {
			continue
		}
		all = append(all, byte(b))
	}
	ps := [][]byte{all, {0}, {0, 0, 0, 0}}
	for range 50 {
		ps = append(ps, randBinary(e.rng, 1+e.rng.IntN(1024), e.f))
	}
	ps = append(ps, randBinary(e.rng, 64<<10, e.f))
	if err := e.pingPong(c, ps, nil); err != nil {
		e.t.Fatal(err)
	}
}

// utf8Payloads returns fixed and random valid UTF-8 messages, each checked
// against strings.ToUpper (the transform equals it on valid input).
func (e *env) utf8Payloads(n, maxRunes int) [][]byte {
	e.oracle("straße αβγ абв 日本 😀 ǆ", "STRAßE ΑΒΓ АБВ 日本 😀 Ǆ")
	ps := [][]byte{
		[]byte("héllo wörld"), []byte("Ελληνικά"), []byte("русский текст"),
		[]byte("日本語テキスト"), []byte("emoji 😀🎉🚀 ok"), []byte("ǅǈǋ ſ ﬀ e\u0301"),
	}
	for range n {
		ps = append(ps, randRunes(e.rng, 1+e.rng.IntN(maxRunes)))
	}
	for _, p := range ps {
		if got, want := string(protocol.AppendUpper(nil, p)), strings.ToUpper(string(p)); got != want {
			e.t.Fatalf("protocol.AppendUpper(%q) = %q, strings.ToUpper = %q", p, got, want)
		}
	}
	return ps
}

func testUTF8Whole(e *env) {
	srv := e.start(nil)
	c := e.dial(srv)
	if err := e.pingPong(c, e.utf8Payloads(60, 400), nil); err != nil {
		e.t.Fatal(err)
	}
}

// testUTF8SplitWrites writes every request one byte at a time, so the
// server reads runes (and frame headers) in pieces.
func testUTF8SplitWrites(e *env) {
	srv := e.start(nil)
	c := e.dial(srv)
	one := func(int) int { return 1 }
	if err := e.pingPong(c, e.utf8Payloads(20, 40), one); err != nil {
		e.t.Fatal(err)
	}
}

func testInvalidUTF8(e *env) {
	e.oracle("a\xffb\xc0\xafc\xed\xa0\x80d\xe2\x82", "A\xffB\xc0\xafC\xed\xa0\x80D\xe2\x82")
	ps := [][]byte{
		// A rune cut across two messages: joined in a raw stream, two
		// invalid tails with framing (no carry between messages).
		[]byte("abc\xe2\x82"), []byte("\xacdef"),
		[]byte("\xf0\x9f"), []byte("\x98\x80 smile"),
	}
	for _, s := range invalidPool {
		ps = append(ps, s, append(append([]byte("a"), s...), 'b'), append(append([]byte("ı"), s...), "ɐ"...))
	}
	for range 40 {
		p := randMixed(e.rng, 1+e.rng.IntN(300))
		p = append(p, invalidPool[e.rng.IntN(len(invalidPool))]...)
		ps = append(ps, p)
	}
	srv := e.start(nil)
	c := e.dial(srv)
	if err := e.pingPong(c, ps, nil); err != nil {
		e.t.Fatalf("whole writes: %v", err)
	}
	c.Close() // a sequential server serves the next client only now
	one := func(int) int { return 1 }
	if err := e.pingPong(e.dial(srv), ps, one); err != nil {
		e.t.Fatalf("1-byte writes: %v", err)
	}
}

// testLengthChanging sends runes whose upper case has another length:
// ı (2 bytes) → I (1), ⱥ (3) → Ⱥ (2), ɐ (2) → Ɐ (3), in random write sizes.
func testLengthChanging(e *env) {
	e.oracle("ıⱥɐ", "IȺⱯ")
	pool := []rune("ıⱥɐſaz ")
	ps := [][]byte{
		[]byte(strings.Repeat("ı", 1000)), []byte(strings.Repeat("ⱥ", 1000)), []byte(strings.Repeat("ɐ", 1000)),
		[]byte("ıⱥɐ"), []byte("aıbⱥcɐd"),
	}
	for range 30 {
		var p []byte
		for range 1 + e.rng.IntN(300) {
			p = append(p, string(pool[e.rng.IntN(len(pool))])...)
		}
		ps = append(ps, p)
	}
	for _, p := range ps[:3] {
		if protocol.UpperLen(p) == len(p) {
			e.t.Fatalf("payload %.12q does not change length: the case tests nothing", p)
		}
	}
	srv := e.start(nil)
	if err := e.pingPong(e.dial(srv), ps, randSplit(e.rng, 7)); err != nil {
		e.t.Fatal(err)
	}
}

// testStream streams size bytes of requests from one goroutine, in writes
// of random size, while another reads and checks every reply byte.
func testStream(e *env, size int) {
	if size > 1<<20 && e.short {
		e.t.Skip("long case; -short runs Stream1MiB only")
	}
	srv := e.start(nil)
	c := e.dial(srv)
	req, reply := e.unit(256<<10, 64<<10)
	reps := (size + len(req) - 1) / len(req)
	r := e.subRNG()
	if err := converse(c, req, reply, reps, func() int { return 1 + r.IntN(64<<10) }); err != nil {
		e.t.Fatal(err)
	}
}

// unit returns about n bytes of requests, of messages up to maxMsg bytes
// (8 KiB for Line), cut from mixed random data, and their exact reply. A
// unit may be sent any number of times in a row: with Raw it ends in ASCII,
// so the server holds nothing back across units and each repetition has
// the same reply. Repeating one unit keeps the expected replies cheap to
// compute under the race detector.
func (e *env) unit(n, maxMsg int) (req, reply []byte) {
	block := randMixed(e.rng, n)
	if e.f == protocol.Raw {
		req = append(block, '.')
		return req, protocol.AppendUpper(nil, req)
	}
	if e.f == protocol.Line {
		maxMsg = min(maxMsg, 8<<10)
	}
	x := &expectation{f: e.f}
	for off := 0; off < len(block); {
		m := min(len(block), off+1+e.rng.IntN(maxMsg))
		x.add(block[off:m])
		off = m
	}
	return x.send, x.want
}

// testPipelined sends 10,000 small messages without waiting for replies,
// in writes that cut messages anywhere, while reading the replies.
func testPipelined(e *env) {
	srv := e.start(nil)
	c := e.dial(srv)
	x := &expectation{f: e.f}
	for range 10000 {
		if e.rng.IntN(4) == 0 {
			x.add(randRunes(e.rng, 1+e.rng.IntN(16)))
		} else {
			x.add(randASCII(e.rng, e.rng.IntN(48)))
		}
	}
	r := e.subRNG()
	if err := converse(c, x.send, x.want, 1, func() int { return 1 + r.IntN(16<<10) }); err != nil {
		e.t.Fatal(err)
	}
}

// testConcurrent runs 64 clients at once, each connecting, exchanging a few
// messages and closing. Servers that serve fewer at a time (workerpool,
// sequential) finish them from the accept backlog.
func testConcurrent(e *env) {
	const clients, msgs = 64, 8
	srv := e.start(nil)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		r := e.subRNG()
		wg.Go(func() {
			c, err := e.tryDial(srv)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			defer c.Close()
			ps := make([][]byte, msgs)
			for j := range ps {
				ps[j] = randMixed(r, 1+r.IntN(2048))
			}
			if err := e.pingPong(c, ps, nil); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		e.t.Fatalf("%d of %d clients failed:\n%v", len(all), clients, err)
	}
	e.requireActive(srv, 0, 5*time.Second)
}

// halfCloser is a connection whose write side can be shut alone.
type halfCloser interface{ CloseWrite() error }

// testHalfCloseFlush sends more than the socket buffers hold, shuts its
// write side without having read anything, and then expects every reply
// byte, the end-of-input tail included, followed by EOF.
func testHalfCloseFlush(e *env) {
	srv := e.start(nil)
	c := e.dial(srv)
	req, reply := e.unit(256<<10, 64<<10)
	var send, want []byte
	for len(send) < 6<<20 {
		send, want = append(send, req...), append(want, reply...)
	}
	switch e.f {
	case protocol.Raw:
		// An incomplete rune at the very end: held back until end of
		// input, then sent back unchanged.
		send = append(send, 0xe2, 0x82)
		want = append(want, 0xe2, 0x82)
	case protocol.Line:
		// An unterminated last line is answered at end of input.
		last := []byte("last line without newline ıⱥɐ")
		send = append(send, last...)
		want = protocol.AppendUpper(want, last)
	case protocol.Length:
		// A truncated frame is not answered; the complete ones are.
		send = append(send, 0, 0, 0, 100)
		send = append(send, "ten bytes."...)
	}

	var progress atomic.Int64
	werr := make(chan error, 1)
	go func() {
		for p := send; len(p) > 0; {
			n, err := c.Write(p[:min(len(p), 64<<10)])
			progress.Add(int64(n))
			if err != nil {
				werr <- fmt.Errorf("write at byte %d of %d: %w", len(send)-len(p)+n, len(send), err)
				return
			}
			p = p[n:]
		}
		werr <- c.(halfCloser).CloseWrite()
	}()
	// Read nothing until the writes are done, so the server holds pending
	// output when it sees end of input; start reading early only if the
	// writes stall because the server stopped reading (backpressure).
	var writeErr error
	done := false
	last, lastMove := int64(-1), time.Now()
	for !done && time.Since(lastMove) < 200*time.Millisecond {
		select {
		case writeErr = <-werr:
			done = true
		case <-time.After(10 * time.Millisecond):
			if p := progress.Load(); p != last {
				last, lastMove = p, time.Now()
			}
		}
	}
	got, rerr := io.ReadAll(c)
	if !done {
		writeErr = <-werr
	}
	if writeErr != nil {
		e.t.Fatalf("writing %d bytes: %v (read %d reply bytes, %v)", len(send), writeErr, len(got), rerr)
	}
	if err := compare(got, want, 0); err != nil {
		e.t.Fatalf("after half-close, %d of %d reply bytes: %v", len(got), len(want), err)
	}
	if rerr != nil {
		e.t.Fatalf("after half-close, want all %d reply bytes then EOF; got them, then %v", len(want), rerr)
	}
}

// testResetMidReply resets a connection (SO_LINGER 0, then close) while the
// server is writing a large reply to it; the server must survive and serve
// others.
func testResetMidReply(e *env) {
	srv := e.start(nil)
	a := e.dial(srv)
	msg := 512 << 10
	if e.f == protocol.Raw {
		msg = 1 << 20
	}
	p := randASCII(e.rng, msg)
	req, reply := protocol.AppendRequest(nil, e.f, p), protocol.AppendReply(nil, e.f, p)
	werr := make(chan error, 1)
	go func() {
		// Until the reset (or 64 MiB): the server never runs out of input.
		for range 64 << 20 / len(req) {
			if _, err := a.Write(req); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	// The server is replying once the first bytes are back; a reply of
	// 512 KiB or more is then still being written.
	if err := readExpect(a, reply[:64<<10]); err != nil {
		e.t.Fatalf("first 64 KiB of the reply: %v", err)
	}
	tc, ok := a.(*net.TCPConn)
	if !ok {
		e.t.Skipf("a reset needs TCP; this is %s", a.LocalAddr().Network())
	}
	if err := tc.SetLinger(0); err != nil {
		e.t.Fatalf("SetLinger: %v", err)
	}
	a.Close()
	if err := <-werr; err == nil {
		e.t.Logf("all 64 MiB were written before the reset")
	}
	b := e.dial(srv)
	if err := e.pingPong(b, e.utf8Payloads(5, 50), nil); err != nil {
		e.t.Fatalf("another client after the reset: %v", err)
	}
	b.Close()
	e.requireActive(srv, 0, 5*time.Second)
}

// testConnectCloseFlood opens connections and closes them at once, half
// with a FIN and half with a reset, then checks a normal exchange works and
// every connection is accounted for.
func testConnectCloseFlood(e *env) {
	n := 2000
	if e.short {
		n = 200
	}
	const dialers = 4
	srv := e.start(nil)
	before := srv.Stats()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for d := range dialers {
		wg.Go(func() {
			dl := net.Dialer{Deadline: e.deadline}
			for i := d; i < n; i += dialers {
				c, err := dl.Dial("tcp", srv.Addr().String())
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				if i%2 == 1 {
					_ = c.(*net.TCPConn).SetLinger(0)
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		e.t.Fatalf("%d of %d connects failed, first: %v", f, n, firstErr.Load())
	}
	c := e.dial(srv)
	if err := e.pingPong(c, e.utf8Payloads(5, 50), nil); err != nil {
		e.t.Fatalf("exchange after %d connects: %v", n, err)
	}
	c.Close()
	fins := int64(n / 2)
	if !e.eventually(10*time.Second, func() bool {
		st := srv.Stats()
		return st.Active == 0 && st.Accepted+st.Rejected-before.Accepted-before.Rejected >= fins+1
	}) {
		e.t.Fatalf("after %d connects (%d closed with FIN) and one exchange: stats %+v, want Active 0 and at least %d more accepted",
			n, fins, srv.Stats(), fins+1)
	}
}

// testWriterNotReading: a client writes and never reads. The server must
// stop taking its bytes after a bounded amount (or close it), not spin, and
// keep serving other clients.
func testWriterNotReading(e *env) {
	const (
		outCap     = 1 << 20
		bound      = 64 << 20
		stallAfter = 200 * time.Millisecond
	)
	srv := e.start(func(c *servers.Config) { c.OutCap = outCap })
	w := e.dial(srv)
	x := &expectation{f: e.f}
	for len(x.send) < 64<<10 {
		x.add(randASCII(e.rng, 4<<10))
	}
	req := x.send
	// A stall counts once three write deadlines in a row pass with almost
	// nothing taken: a server that is merely slow under load (the machine is
	// shared) keeps taking bytes, a bounded one takes none.
	written, stalled, stalls := 0, false, 0
	var closedErr error
	for written < bound {
		_ = w.SetWriteDeadline(time.Now().Add(stallAfter))
		off := written % len(req) // resume mid-request: framing stays intact
		n, err := w.Write(req[off:])
		written += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if n < 64<<10 {
				stalls++
			} else {
				stalls = 0
			}
			if stalls == 3 {
				stalled = true
				break
			}
			continue
		}
		if err != nil {
			closedErr = err
			break
		}
		stalls = 0
	}
	switch {
	case stalled:
		e.t.Logf("the server took %.1f MiB from a client that never reads, then stopped reading it", float64(written)/(1<<20))
	case closedErr != nil:
		e.t.Logf("the server took %.1f MiB from a client that never reads, then closed it (%v)", float64(written)/(1<<20), closedErr)
	default:
		e.t.Fatalf("the server took %d MiB from a client that never reads and still takes more: its memory is not bounded", written>>20)
	}
	if stalled {
		if used, window := cpuWhile(200 * time.Millisecond); used > window/2 {
			e.t.Errorf("the process used %v of CPU in %v while its only client was not reading: the server spins", used, window)
		}
	}
	e.tt.Run("OthersServed", func(t *testing.T) {
		if e.target.Sequential {
			t.Skip(SequentialReason)
		}
		e2 := *e
		e2.t, e2.tt = t, t
		if err := e2.pingPong(e2.dial(srv), e2.utf8Payloads(5, 50), nil); err != nil {
			t.Fatalf("another client while one does not read: %v", err)
		}
	})
}

// cpuWhile measures the CPU time the whole process uses during window.
func cpuWhile(window time.Duration) (used, elapsed time.Duration) {
	var a, b syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &a)
	start := time.Now()
	time.Sleep(window)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &b)
	tv := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return tv(b) - tv(a), time.Since(start)
}

// testOversized: with MaxMsg 4096, a message of exactly 4096 bytes is
// served; one of 4097 closes that connection (and only that one).
func testOversized(e *env) {
	if e.f == protocol.Raw {
		e.t.Skip("raw framing has no messages, so nothing is oversized")
	}
	const maxMsg = 4096
	srv := e.start(func(c *servers.Config) { c.MaxMsg = maxMsg })
	atLimit := maxMsg
	if e.f == protocol.Line {
		atLimit-- // the '\n' counts
	}
	a := e.dial(srv)
	if err := e.pingPong(a, [][]byte{[]byte("small"), randASCII(e.rng, atLimit)}, nil); err != nil {
		e.t.Fatalf("messages up to the limit: %v", err)
	}
	over := protocol.AppendRequest(nil, e.f, randASCII(e.rng, atLimit+1))
	if _, err := a.Write(over); err != nil {
		e.t.Fatalf("writing the oversized message: %v", err)
	}
	if err := expectClosed(a, 5*time.Second); err != nil {
		e.t.Fatalf("after a message of %d bytes (limit %d): %v", maxMsg+1, maxMsg, err)
	}
	e.requireLogged(srv, "protocol error")
	if e.f == protocol.Length {
		// A huge declared length must close the connection, not make the
		// server allocate or wait for 4 GiB.
		h := e.dial(srv)
		if _, err := h.Write([]byte{0xff, 0xff, 0xff, 0xff, 'a'}); err != nil {
			e.t.Fatalf("write: %v", err)
		}
		if err := expectClosed(h, 5*time.Second); err != nil {
			e.t.Fatalf("after a frame header of 4 GiB: %v", err)
		}
	}
	b := e.dial(srv)
	if err := e.pingPong(b, e.utf8Payloads(5, 50), nil); err != nil {
		e.t.Fatalf("another connection after the oversized message: %v", err)
	}
}

func testMaxConns(e *env) {
	srv := e.start(func(c *servers.Config) { c.MaxConns = 2 })
	msg := [][]byte{[]byte("hello ıⱥɐ")}
	c1, c2 := e.dial(srv), e.dial(srv)
	for i, c := range []net.Conn{c1, c2} {
		if err := e.pingPong(c, msg, nil); err != nil {
			e.t.Fatalf("connection %d of 2: %v", i+1, err)
		}
	}
	before := srv.Stats()
	c3 := e.dial(srv)
	if err := expectClosed(c3, 5*time.Second); err != nil {
		e.t.Fatalf("a third connection with MaxConns 2: %v", err)
	}
	if !e.eventually(5*time.Second, func() bool { return srv.Stats().Rejected > before.Rejected }) {
		e.t.Fatalf("Stats().Rejected = %d, want it counted (was %d)", srv.Stats().Rejected, before.Rejected)
	}
	e.requireLogged(srv, "max-conns reached")
	e.requireActive(srv, 2, 5*time.Second)
	for i, c := range []net.Conn{c1, c2} {
		if err := e.pingPong(c, msg, nil); err != nil {
			e.t.Fatalf("connection %d after a rejection: %v", i+1, err)
		}
	}
	c1.Close()
	e.requireActive(srv, 1, 5*time.Second)
	if err := e.pingPong(e.dial(srv), msg, nil); err != nil {
		e.t.Fatalf("a new connection after one of 2 closed: %v", err)
	}
}

// testIdleTimeout: with IdleTimeout 200ms an idle connection is closed (not
// much sooner), while one that keeps exchanging messages is not.
func testIdleTimeout(e *env) {
	const idle = 200 * time.Millisecond
	srv := e.start(func(c *servers.Config) { c.IdleTimeout = idle })
	msg := [][]byte{[]byte("still here ıⱥɐ")}
	// The active client exchanges a message every idle/5 for 3 idle
	// periods. If the host stalled this client itself for idle/2 or more
	// between two exchanges, a close proves nothing: it tries again, at most
	// 3 times.
	activeOnce := func() (inconclusive bool, err error) {
		c, err := e.tryDial(srv)
		if err != nil {
			return false, err
		}
		defer c.Close()
		last := time.Now()
		for end := last.Add(3 * idle); time.Now().Before(end); time.Sleep(idle / 5) {
			gap := time.Since(last)
			if err := e.pingPong(c, msg, nil); err != nil {
				return gap >= idle/2, fmt.Errorf("active connection, %v after its last exchange: %w", gap, err)
			}
			last = time.Now()
		}
		return false, nil
	}
	active := func() error {
		var err error
		for range 3 {
			var retry bool
			if retry, err = activeOnce(); !retry {
				return err
			}
			e.t.Logf("inconclusive, the client itself was stalled: %v", err)
		}
		return err
	}
	idler := func() error {
		c, err := e.tryDial(srv)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := e.pingPong(c, msg, nil); err != nil {
			return err
		}
		t0 := time.Now()
		if err := expectClosed(c, 10*idle); err != nil {
			return fmt.Errorf("idle connection: %w", err)
		}
		if d := time.Since(t0); d < idle/2 {
			return fmt.Errorf("idle connection closed after %v, before the idle timeout of %v", d, idle)
		}
		return nil
	}
	var err error
	if e.target.Sequential {
		err = errors.Join(active(), idler())
	} else {
		ch := make(chan error, 1)
		go func() { ch <- active() }()
		err = errors.Join(idler(), <-ch)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.requireLogged(srv, "closing idle connection")
}

// testGracefulStop shuts a server down while clients are connected: idle
// clients get EOF, a client with a reply in flight gets all of it then EOF,
// Shutdown returns in time, the listener is closed, Start then says
// servers.ErrClosed, and no goroutine or descriptor is left.
func testGracefulStop(e *env) {
	// Let the runtime's poller exist before counting descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	fds0, fdErr := fdCount("self")
	if fdErr != nil {
		e.t.Logf("descriptor check off: %v", fdErr)
	}
	leak := goleak.IgnoreCurrent()

	srv := e.startUnmanaged(nil)
	idle := 2 // plus the in-flight client: no more than workerpool's 4 workers
	framed := e.f != protocol.Raw
	if e.target.Sequential {
		// Only one client is served at a time: the in-flight one when
		// framed, else one idle client.
		idle = 1
		if framed {
			idle = 0
		}
	}
	var conns []net.Conn
	for i := range idle {
		c := e.dial(srv)
		if err := e.pingPong(c, [][]byte{[]byte("before shutdown")}, nil); err != nil {
			e.t.Fatalf("idle client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	var inflight net.Conn
	var reply []byte
	if framed {
		inflight = e.dial(srv)
		p := randMixed(e.rng, 256<<10)
		reply = protocol.AppendReply(nil, e.f, p)
		if _, err := inflight.Write(protocol.AppendRequest(nil, e.f, p)); err != nil {
			e.t.Fatal(err)
		}
		// The first reply byte means the server has read the whole message.
		if err := readExpect(inflight, reply[:1]); err != nil {
			e.t.Fatalf("in-flight client: %v", err)
		}
		conns = append(conns, inflight)
	}

	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(shutdownTimeout + 2*time.Second))
	}
	res := make(chan error, 1)
	t0 := time.Now()
	go func() { res <- shutdownWithin(srv, shutdownTimeout) }()
	if inflight != nil {
		if err := readChecked(inflight, reply[1:]); err != nil {
			e.t.Errorf("in-flight client during shutdown: %v", err)
		} else if err := expectEOF(inflight); err != nil {
			e.t.Errorf("in-flight client after its reply: %v", err)
		}
	}
	for i, c := range conns[:idle] {
		if err := expectEOF(c); err != nil {
			e.t.Errorf("idle client %d during shutdown: %v", i, err)
		}
	}
	if err := <-res; err != nil {
		e.t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d >= shutdownTimeout {
		e.t.Errorf("Shutdown took %v, more than its context's %v", d, shutdownTimeout)
	}
	if c, err := net.DialTimeout(srv.Addr().Network(), srv.Addr().String(), time.Second); err == nil {
		c.Close()
		e.t.Errorf("a dial to %v after Shutdown succeeded: the listener is still open", srv.Addr())
	}
	if err := srv.Start(); !errors.Is(err, servers.ErrClosed) {
		e.t.Errorf("Start after Shutdown = %v, want servers.ErrClosed", err)
	}
	for _, c := range conns {
		c.Close()
	}
	if err := goleak.Find(leak); err != nil {
		e.t.Errorf("goroutines left after Shutdown: %v", err)
	}
	if fdErr == nil {
		var n int
		if !e.eventually(2*time.Second, func() bool { n, _ = fdCount("self"); return n <= fds0 }) {
			e.t.Errorf("%d descriptors open after Shutdown and closing the clients, %d before the server started", n, fds0)
		}
	}
}

// startUnmanaged starts a server that the case shuts down itself; t.Cleanup
// only stops it if the case ended before that.
func (e *env) startUnmanaged(tweak func(*servers.Config)) *server {
	e.t.Helper()
	srv := e.build(tweak)
	e.t.Cleanup(func() {
		select {
		case <-srv.Done():
		default:
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	})
	return srv
}

// fdCount counts the open descriptors of process pid ("self" for this one).
func fdCount(pid string) (int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", pid, "fd"))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

func testUnix(e *env) {
	dir, err := os.MkdirTemp("", "abst")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	e.t.Cleanup(func() {
		// Runs after the server's Shutdown (cleanups run last-in first-out).
		if _, err := os.Lstat(path); err == nil {
			e.t.Errorf("socket file %s left behind after Shutdown", path)
		}
		os.RemoveAll(dir)
	})
	srv := e.start(func(c *servers.Config) { c.Network, c.Addr = "unix", path })
	if n := srv.Addr().Network(); n != "unix" {
		e.t.Fatalf("Addr().Network() = %q, want unix", n)
	}
	e.transportExchange(srv)
}

func testTCP6(e *env) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		e.t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
	srv := e.start(func(c *servers.Config) { c.Network, c.Addr = "tcp6", "[::1]:0" })
	a, ok := srv.Addr().(*net.TCPAddr)
	if !ok || a.IP.To4() != nil || !a.IP.IsLoopback() {
		e.t.Fatalf("Addr() = %v, want an IPv6 loopback address", srv.Addr())
	}
	e.transportExchange(srv)
}

// transportExchange checks a transport with two clients, one after the
// other (so sequential servers pass), with mixed data and split writes.
func (e *env) transportExchange(srv *server) {
	for i := range 2 {
		c := e.dial(srv)
		ps := e.utf8Payloads(10, 100)
		for range 10 {
			ps = append(ps, randMixed(e.rng, 1+e.rng.IntN(8<<10)))
		}
		if err := e.pingPong(c, ps, randSplit(e.rng, 512)); err != nil {
			e.t.Fatalf("client %d: %v", i, err)
		}
		c.Close()
	}
	e.requireActive(srv, 0, 5*time.Second)
}
