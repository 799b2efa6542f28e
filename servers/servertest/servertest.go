package servertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// Timeouts of the suite. Every connection a case opens carries the case's
// deadline, so no case can hang.
const (
	caseTimeout     = 30 * time.Second // watchdog: deadline of every connection of a case
	shutdownTimeout = 5 * time.Second  // the Shutdown context of a case's server
	pollInterval    = 2 * time.Millisecond
)

// SequentialReason is the skip message of cases that need two clients served
// at the same time.
const SequentialReason = "sequential serves one client at a time, by design"

// Case is one named conformance case.
type Case struct {
	Name string
	// Concurrent cases need clients served at the same time; they are
	// skipped for Sequential targets.
	Concurrent bool
	// FramingFree cases do not depend on the framing (no data, or only the
	// accept path); they run with the target's first framing only.
	FramingFree bool
	run         func(e *env)
}

// Cases lists the conformance cases in the order Run runs them.
func Cases() []Case { return append([]Case(nil), cases...) }

var cases = []Case{
	{Name: "ASCII", run: testASCII},
	{Name: "Binary", run: testBinary},
	{Name: "UTF8Whole", run: testUTF8Whole},
	{Name: "UTF8SplitWrites", run: testUTF8SplitWrites},
	{Name: "InvalidUTF8", run: testInvalidUTF8},
	{Name: "LengthChanging", run: testLengthChanging},
	{Name: "Stream1MiB", run: func(e *env) { testStream(e, 1<<20) }},
	{Name: "Stream16MiB", run: func(e *env) { testStream(e, 16<<20) }},
	{Name: "Pipelined10k", run: testPipelined},
	{Name: "Concurrent64", run: testConcurrent},
	{Name: "HalfCloseFlush", run: testHalfCloseFlush},
	{Name: "ResetMidReply", run: testResetMidReply},
	{Name: "ConnectCloseFlood", FramingFree: true, run: testConnectCloseFlood},
	{Name: "WriterNotReading", run: testWriterNotReading},
	{Name: "Oversized", run: testOversized},
	{Name: "MaxConns", Concurrent: true, run: testMaxConns},
	{Name: "IdleTimeout", run: testIdleTimeout},
	{Name: "GracefulStop", run: testGracefulStop},
	{Name: "StopCancelsWork", run: testStopCancelsWork},
	{Name: "RestartTimeWait", FramingFree: true, run: testRestartTimeWait},
	{Name: "PortInUse", FramingFree: true, run: testPortInUse},
	{Name: "EMFILE", FramingFree: true, run: testEMFILE},
	{Name: "Unix", run: testUnix},
	{Name: "TCP6", run: testTCP6},
}

// Target is what the suite tests: a constructor and what it declares.
type Target struct {
	Name string
	// New builds an unstarted server for a case's configuration.
	New func(servers.Config) (servers.Server, error)
	// Defects are known failures of the target's library; each skips the
	// case it names, with its reason.
	Defects []servers.Defect
	// Sequential targets serve one client at a time by design; Concurrent
	// cases are skipped.
	Sequential bool
	// Framings are the framings the target serves with its own code, in
	// the order to run them; nil means raw, line and length.
	Framings []protocol.Framing
	// Protocol is the target's Arch.Protocol; the suite runs only targets
	// of the byte protocol ("") and skips the others, naming why.
	Protocol string
	// Networks the target serves; nil means tcp, tcp6 and unix (see
	// servers.Arch.Networks). Run skips a target without tcp, RunUDP one
	// without udp.
	Networks []string
}

// nets is the networks target serves.
func (target Target) nets() []string { return servers.Arch{Networks: target.Networks}.Nets() }

// serves reports whether target serves network.
func (target Target) serves(network string) bool {
	return servers.Arch{Networks: target.Networks}.Serves(network)
}

// TargetOf is the target of an architecture: its constructor (with
// servers' validation and defaults), defects and framings.
func TargetOf(a servers.Arch) Target {
	return Target{Name: a.Name, New: a.Build, Defects: a.Defects, Sequential: a.Sequential, Framings: a.Framings, Protocol: a.Protocol, Networks: a.Networks}
}

// Run runs every conformance case against target as subtests of t named
// FRAMING/CASE, each case against a fresh server built by target.New from
// base plus the framing and the case's settings. base's Framing, Network
// and Addr are replaced (TCP on 127.0.0.1:0, except in the transport
// cases); everything else is kept.
//
// Every case runs with each of target.Framings, except the FramingFree
// ones, which run with the first: the framing they get is one the
// target's own code serves.
func Run(t *testing.T, target Target, base servers.Config) {
	t.Helper()
	if target.Name == "" || target.New == nil {
		t.Fatalf("servertest: a target needs a name and a constructor")
	}
	if target.Protocol != "" {
		t.Skipf("%s speaks %s, not the uppercase-echo byte protocol: its own conformance cases are in its package", target.Name, target.Protocol)
	}
	if !target.serves("tcp") {
		t.Skipf("%s serves %v, not tcp: the stream suite does not apply", target.Name, target.nets())
	}
	framings := target.Framings
	if framings == nil {
		framings = []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length}
	}
	seed := suiteSeed(t)
	for i, f := range framings {
		cfg := base
		cfg.Framing = f
		if err := cfg.Validate(); err != nil {
			t.Fatalf("servertest: base config: %v", err)
		}
		t.Run(f.String(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					for _, d := range target.Defects {
						if d.Case == c.Name {
							t.Skipf("known defect of %s: %s (%s)", target.Name, d.Reason, d.Upstream)
						}
					}
					if c.Concurrent && target.Sequential {
						t.Skip(SequentialReason)
					}
					if c.FramingFree && i > 0 {
						t.Skipf("does not depend on the framing; runs with %s framing", framings[0])
					}
					c.run(newEnv(t, target, cfg, seed, c.Name))
				})
			}
		})
	}
}

const seedEnv = "ARCHBENCH_SERVERTEST_SEED"

func suiteSeed(t *testing.T) uint64 {
	s := os.Getenv(seedEnv)
	if s == "" {
		return 1
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("servertest: %s=%q: want an unsigned integer", seedEnv, s)
	}
	return v
}

// env is one running case: its test, random source and deadline.
type env struct {
	t        *testing.T
	target   Target
	base     servers.Config
	f        protocol.Framing
	seed     uint64
	rng      *rand.Rand
	deadline time.Time
}

// newEnv prepares case name; its random data depends on the seed, the case
// and the framing only, so every architecture gets the same bytes.
func newEnv(t *testing.T, target Target, base servers.Config, seed uint64, name string) *env {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s", name, base.Framing)
	e := &env{
		t:        t,
		target:   target,
		base:     base,
		f:        base.Framing,
		seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, h.Sum64())),
		deadline: time.Now().Add(caseTimeout),
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random data seed %d (%s=%d replays it)", seed, seedEnv, seed)
		}
	})
	return e
}

// subRNG derives an independent random source, e.g. for a goroutine.
func (e *env) subRNG() *rand.Rand { return rand.New(rand.NewPCG(e.rng.Uint64(), e.rng.Uint64())) }

// server is a started server under test.
type server struct {
	servers.Server
	cfg servers.Config
	log *testkit.LogBuf
}

// config is the case's base config on TCP 127.0.0.1:0, adjusted by tweak.
func (e *env) config(tweak func(*servers.Config)) servers.Config {
	cfg := e.base
	cfg.Network, cfg.Addr = "tcp", "127.0.0.1:0"
	if tweak != nil {
		tweak(&cfg)
	}
	return cfg
}

// build makes and starts a server from e.config(tweak), logging into a
// buffer that is shown if the case fails.
func (e *env) build(tweak func(*servers.Config)) *server {
	e.t.Helper()
	cfg := e.config(tweak)
	logs := &testkit.LogBuf{}
	cfg.Logger = newLogger(logs)
	s, err := e.target.New(cfg)
	if err != nil {
		e.t.Fatalf("%s: New: %v", e.target.Name, err)
	}
	if err := s.Start(); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			// The architecture says, by error, that it cannot do this
			// by design (e.g. SO_REUSEPORT on a unix socket).
			e.t.Skipf("%s does not support %s %s: %v", e.target.Name, cfg.Network, cfg.Addr, err)
		}
		if errors.Is(err, servers.ErrUnavailable) {
			e.t.Skipf("%s cannot run here: %v", e.target.Name, err)
		}
		e.t.Fatalf("Start: %v", err)
	}
	if s.Addr() == nil {
		e.t.Fatalf("Addr is nil after Start")
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("server log:\n%s", logs.String())
		}
	})
	return &server{Server: s, cfg: cfg, log: logs}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// start builds and starts a server and shuts it down in t.Cleanup,
// checking that it did not stop on its own and that Shutdown works.
func (e *env) start(tweak func(*servers.Config)) *server {
	e.t.Helper()
	srv := e.build(tweak)
	e.t.Cleanup(func() {
		select {
		case <-srv.Done():
			e.t.Errorf("the server stopped on its own during the case: %v", srv.Err())
		default:
			if err := shutdownWithin(srv, shutdownTimeout); err != nil {
				e.t.Errorf("Shutdown: %v", err)
			}
		}
	})
	return srv
}

// shutdownWithin shuts s down with a context of d and reports an error if it
// fails, does not honour the context, or leaves Done open or Err set.
func shutdownWithin(s servers.Server, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- s.Shutdown(ctx) }()
	select {
	case err := <-res:
		if err != nil {
			return err
		}
	case <-time.After(d + 5*time.Second):
		return fmt.Errorf("did not return %v after its context of %v ended", 5*time.Second, d)
	}
	select {
	case <-s.Done():
	default:
		return errors.New("Done is not closed after Shutdown returned")
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("Err after Shutdown = %v, want nil", err)
	}
	return nil
}

// dial connects to srv with the case's deadline and closes the connection in
// t.Cleanup.
func (e *env) dial(srv *server) net.Conn {
	e.t.Helper()
	c, err := e.tryDial(srv)
	if err != nil {
		e.t.Fatalf("dial %v: %v", srv.Addr(), err)
	}
	return c
}

func (e *env) tryDial(srv *server) (net.Conn, error) {
	a := srv.Addr()
	d := net.Dialer{Deadline: e.deadline}
	c, err := d.Dial(a.Network(), a.String())
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(e.deadline)
	e.t.Cleanup(func() { c.Close() })
	return c, nil
}

// eventually polls cond until it holds or the case's deadline (at most max
// from now) passes.
func (e *env) eventually(max time.Duration, cond func() bool) bool {
	end := time.Now().Add(max)
	if end.After(e.deadline) {
		end = e.deadline
	}
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// requireActive waits until srv reports n active connections.
func (e *env) requireActive(srv *server, n int64, max time.Duration) {
	e.t.Helper()
	if !e.eventually(max, func() bool { return srv.Stats().Active == n }) {
		e.t.Fatalf("Stats().Active = %d after %v, want %d (stats %+v)", srv.Stats().Active, max, n, srv.Stats())
	}
}

// requireLogged waits until srv's log holds msg (a server may log just
// after it closed the connection the case saw closed).
func (e *env) requireLogged(srv *server, msg string) {
	e.t.Helper()
	if !e.eventually(5*time.Second, func() bool { return strings.Contains(srv.log.String(), msg) }) {
		e.t.Fatalf("the server did not log %q", msg)
	}
}

// ---- the expected replies ----

// expectation builds what a client sends for payloads and exactly what the
// server owes back before end of input. With Raw, payloads are one stream
// (the server may hold back a trailing incomplete rune until end of input,
// which tail holds); with Line and Length each payload is one message.
type expectation struct {
	f    protocol.Framing
	up   protocol.Upper // Raw: the stream so far
	send []byte
	want []byte
}

func (x *expectation) add(p []byte) (req, reply []byte) {
	s, w := len(x.send), len(x.want)
	x.send = protocol.AppendRequest(x.send, x.f, p)
	if x.f == protocol.Raw {
		x.want = x.up.Append(x.want, p)
	} else {
		x.want = protocol.AppendReply(x.want, x.f, p)
	}
	return x.send[s:], x.want[w:]
}

// tail is what the server owes at end of input beyond want: a held-back
// incomplete rune with Raw, nothing otherwise.
func (x *expectation) tail() []byte {
	if x.f != protocol.Raw {
		return nil
	}
	u := x.up
	return u.Flush(nil)
}

// ---- reading and verifying ----

// readExpect reads exactly len(want) bytes from c and checks them.
func readExpect(c net.Conn, want []byte) error {
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	if err := compare(got[:n], want[:n], 0); err != nil {
		return err
	}
	if err != nil {
		return fmt.Errorf("read %d of %d reply bytes: %w", n, len(want), err)
	}
	return nil
}

// compare reports where got differs from want; off is got's offset in the
// whole reply stream.
func compare(got, want []byte, off int) error {
	if bytes.Equal(got, want) {
		return nil
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-16)
	return fmt.Errorf("reply differs at byte %d: got %q, want %q",
		off+i, got[lo:min(len(got), i+16)], want[lo:min(len(want), i+16)])
}

// expectEOF checks that c has nothing more to read and was closed in
// order: a read returns io.EOF without data.
func expectEOF(c net.Conn) error {
	var b [256]byte
	n, err := c.Read(b[:])
	if n > 0 {
		return fmt.Errorf("want end of stream, got %d more bytes %q", n, b[:n])
	}
	if !errors.Is(err, io.EOF) {
		return fmt.Errorf("want end of stream (EOF), got %v", err)
	}
	return nil
}

// expectClosed checks that the server closed c without sending anything
// more: a read returns EOF or a connection reset, not data and not the
// case's deadline.
func expectClosed(c net.Conn, within time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(within))
	var b [256]byte
	n, err := c.Read(b[:])
	switch {
	case n > 0:
		return fmt.Errorf("want the connection closed, got %d bytes %q", n, b[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("the connection is still open after %v", within)
	default:
		return fmt.Errorf("want EOF or connection reset, got %v", err)
	}
}

// pingPong sends each payload as a request and reads its reply before the
// next one, writing requests in chunks from split (nil: one write).
func (e *env) pingPong(c net.Conn, payloads [][]byte, split func(n int) int) error {
	x := &expectation{f: e.f}
	for i, p := range payloads {
		req, reply := x.add(p)
		if err := writeSplit(c, req, split); err != nil {
			return fmt.Errorf("message %d: write: %w", i, err)
		}
		if err := readExpect(c, reply); err != nil {
			return fmt.Errorf("message %d (%d bytes %.40q): %w", i, len(p), p, err)
		}
	}
	return nil
}

// writeSplit writes p in pieces of split(remaining) bytes (all at once when
// split is nil).
func writeSplit(c net.Conn, p []byte, split func(n int) int) error {
	for len(p) > 0 {
		n := len(p)
		if split != nil {
			n = min(max(1, split(len(p))), len(p))
		}
		if _, err := c.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// converse writes send reps times on its own goroutine, in chunks of
// chunk() bytes, while reading and checking want, reps times, as it
// arrives. It returns when all replies were read and the writer finished.
func converse(c net.Conn, send, want []byte, reps int, chunk func() int) error {
	werr := make(chan error, 1)
	go func() {
		for i := range reps {
			for p := send; len(p) > 0; {
				n := min(max(1, chunk()), len(p))
				if _, err := c.Write(p[:n]); err != nil {
					werr <- fmt.Errorf("write at byte %d of %d: %w", i*len(send)+len(send)-len(p), reps*len(send), err)
					return
				}
				p = p[n:]
			}
		}
		werr <- nil
	}()
	var rerr error
	for i := range reps {
		if rerr = readCheckedAt(c, want, i*len(want)); rerr != nil {
			// Unblock the writer: the server may have stopped reading.
			_ = c.SetWriteDeadline(time.Now())
			break
		}
	}
	return errors.Join(rerr, <-werr)
}

// readChecked reads len(want) bytes in whatever pieces arrive, checking each.
func readChecked(c net.Conn, want []byte) error { return readCheckedAt(c, want, 0) }

// readCheckedAt is readChecked for a piece at offset off of the reply stream.
func readCheckedAt(c net.Conn, want []byte, off int) error {
	buf := make([]byte, min(len(want), 64<<10))
	for i := 0; i < len(want); {
		n, err := c.Read(buf[:min(len(buf), len(want)-i)])
		if cerr := compare(buf[:n], want[i:i+n], off+i); cerr != nil {
			return cerr
		}
		i += n
		if err != nil {
			return fmt.Errorf("read at reply byte %d: %w", off+i, err)
		}
	}
	return nil
}

// ---- random data ----

// runePool mixes ASCII with multi-byte runes of every length, runes whose
// upper case has another length (ı, ⱥ, ɐ, ſ), title-case digraphs and
// combining marks. It has no '\n'.
var runePool = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_()[]{}<>@#" +
	"äöüßéèçñøåæœÿ" + "αβγδεζηθλμπσςωΐ" + "абвгдежзийклмнопрстуфхцчшщыэюяё" +
	"日本語中文字한국어" + "😀🎉🚀🦀𝔞" + "ıⱥɐǅǈǋſﬀ" + "\u0301\u0308")

// invalidPool holds byte sequences that are not valid UTF-8 (none holds '\n').
var invalidPool = [][]byte{
	{0xff}, {0xfe}, {0x80}, {0xbf}, {0xc0, 0xaf}, {0xc1, 0xbf}, {0xe0, 0x80, 0xaf},
	{0xed, 0xa0, 0x80}, {0xf4, 0x90, 0x80, 0x80}, {0xf8, 0x88, 0x80, 0x80, 0x80},
	{0xe2, 0x82}, {0xf0, 0x9f, 0x98}, {0xc3}, {0xe2},
}

func randASCII(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	var v uint64
	for i := range p {
		if i%8 == 0 {
			v = r.Uint64()
		}
		p[i] = byte(0x20 + (v&0xff)%(0x7f-0x20))
		v >>= 8
	}
	return p
}

// randBinary returns n random bytes; with Line framing '\n' is avoided.
func randBinary(r *rand.Rand, n int, f protocol.Framing) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
		if f == protocol.Line && p[i] == '\n' {
			p[i] = '\r'
		}
	}
	return p
}

// randRunes returns n random runes of runePool as UTF-8.
func randRunes(r *rand.Rand, n int) []byte {
	var p []byte
	for range n {
		p = utf8.AppendRune(p, runePool[r.IntN(len(runePool))])
	}
	return p
}

// randMixed returns about n bytes, mostly ASCII, with multi-byte runes and
// now and then an invalid sequence: the shape of the stream cases.
func randMixed(r *rand.Rand, n int) []byte {
	p := make([]byte, 0, n+8)
	for len(p) < n {
		switch k := r.IntN(100); {
		case k < 2:
			p = append(p, invalidPool[r.IntN(len(invalidPool))]...)
		case k < 20:
			p = utf8.AppendRune(p, runePool[r.IntN(len(runePool))])
		default:
			p = append(p, randASCII(r, 1+r.IntN(24))...)
		}
	}
	return p
}

// randSplit returns a split function for writeSplit that cuts writes into
// 1..max bytes.
func randSplit(r *rand.Rand, max int) func(int) int {
	return func(int) int { return 1 + r.IntN(max) }
}
