package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"archbench/protocol"
)

// SideResult is what the connections beside the load saw, counted over the
// whole run (warm-up included, since they connect before it).
type SideResult struct {
	Slow *SlowResult `json:"slow,omitempty"` // Config.SlowConns > 0
	Idle *IdleResult `json:"idle,omitempty"` // Config.IdleConns > 0
}

// SlowResult is the slow connections' tally.
type SlowResult struct {
	Conns     int              `json:"conns"`      // Config.SlowConns
	BytesSent int64            `json:"bytes_sent"` // request bytes written
	Replies   int64            `json:"replies"`    // replies received and verified byte for byte
	Errors    map[string]int64 `json:"errors"`     // by kind, the kinds of Result.Errors, every kind present
}

// IdleResult is the idle connections' tally.
type IdleResult struct {
	Conns  int `json:"conns"`  // Config.IdleConns
	Opened int `json:"opened"` // connected before the load started
	// Held is how many were still open at the end: the server neither
	// closed nor reset them (nor sent anything on them).
	Held int `json:"held"`
	// Errors by kind: connect (not connected in time or refused),
	// short_read (the server closed one), read (reset), mismatch (the
	// server sent bytes unasked); every kind present.
	Errors map[string]int64 `json:"errors"`
}

// idleDialConcurrency bounds the idle connections connecting at once.
const idleDialConcurrency = 256

// idleOpenTime bounds how long opening n idle connections may take: the
// timeout plus a second per 5,000 connections (a server that does not
// accept fills its backlog, and further connects wait for nothing).
func idleOpenTime(cfg Config, n int) time.Duration {
	return cfg.Timeout + time.Duration(n/5000)*time.Second
}

// side runs the slow connections and holds the idle ones.
type side struct {
	cfg      Config
	target   *targets
	stopping atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup

	mu   sync.Mutex
	live map[net.Conn]struct{} // slow connections open now

	slowBytes, slowReplies atomic.Int64
	slowErrs               [numKinds]atomic.Int64

	idle      []net.Conn
	idleErrs  [numKinds]int64
	idleConns int
}

// startSide connects the slow connections (which then trickle on their
// own goroutines) and then the idle ones, before the load starts; nil when
// cfg has neither.
func startSide(ctx context.Context, cfg Config, target *targets) *side {
	if cfg.SlowConns == 0 && cfg.IdleConns == 0 {
		return nil
	}
	s := &side{cfg: cfg, target: target, stop: make(chan struct{}), live: map[net.Conn]struct{}{}}
	slow := make([]net.Conn, cfg.SlowConns)
	s.dialAll(ctx, slow, cfg.Timeout, &s.slowErrs)
	for i, c := range slow {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.trickle(i, c)
		}()
	}
	if cfg.IdleConns > 0 {
		conns := make([]net.Conn, cfg.IdleConns)
		var errs [numKinds]atomic.Int64
		s.dialAll(ctx, conns, idleOpenTime(cfg, cfg.IdleConns), &errs)
		for _, c := range conns {
			if c != nil {
				s.idle = append(s.idle, c)
			}
		}
		for k := range errs {
			s.idleErrs[k] = errs[k].Load()
		}
	}
	return s
}

// dialAll connects len(conns) connections, a bounded number at a time, all
// within limit; a failure leaves nil and counts a connect error.
func (s *side) dialAll(ctx context.Context, conns []net.Conn, limit time.Duration, errs *[numKinds]atomic.Int64) {
	d := net.Dialer{Deadline: time.Now().Add(limit)}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(conns), idleDialConcurrency) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				c, kind := s.target.dial(ctx, &d)
				if c == nil {
					errs[kind].Add(1)
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
}

// slowMessage is slow connection i's message: a one-byte payload, framed.
func slowMessage(cfg Config, i int) (req, rep []byte) {
	payload := []byte{asciiAlphabet[i%26]}
	return protocol.AppendRequest(nil, cfg.Framing, payload), protocol.AppendReply(nil, cfg.Framing, payload)
}

// trickle sends slow connection i's message one byte per SlowInterval,
// reads and verifies the reply, and repeats until the side load stops. After
// an error the connection is replaced (c == nil: connect first).
func (s *side) trickle(i int, c net.Conn) {
	req, rep := slowMessage(s.cfg, i)
	got := make([]byte, len(rep))
	t := time.NewTimer(s.cfg.SlowInterval)
	defer t.Stop()
	pause := func() bool {
		t.Reset(s.cfg.SlowInterval)
		select {
		case <-s.stop:
			return false
		case <-t.C:
			return true
		}
	}
	defer func() {
		if c != nil {
			s.forget(c)
			c.Close()
		}
	}()
	for {
		if c == nil {
			if !pause() {
				return
			}
			nc, kind := s.target.dial(context.Background(), &net.Dialer{Timeout: s.cfg.Timeout})
			if nc == nil {
				s.countSlow(kind)
				continue
			}
			c = nc
		}
		if !s.remember(c) {
			return
		}
		kind := -1
		for b := range req {
			if !pause() {
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
			if _, err := c.Write(req[b : b+1]); err != nil {
				kind = ioKind(err, kWrite)
				break
			}
			s.slowBytes.Add(1)
		}
		if kind < 0 {
			_ = c.SetReadDeadline(time.Now().Add(s.cfg.Timeout))
			if _, err := io.ReadFull(c, got); err != nil {
				kind = ioKind(err, kRead)
			} else if !bytes.Equal(got, rep) {
				kind = kMismatch
			} else {
				s.slowReplies.Add(1)
				continue
			}
		}
		s.countSlow(kind)
		s.forget(c)
		c.Close()
		c = nil
	}
}

// remember registers c so that finish can close it; false once stopping.
func (s *side) remember(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping.Load() {
		return false
	}
	s.live[c] = struct{}{}
	return true
}

func (s *side) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.live, c)
	s.mu.Unlock()
}

// countSlow counts an error unless it is our own stop closing the connection.
func (s *side) countSlow(kind int) {
	if !s.stopping.Load() {
		s.slowErrs[kind].Add(1)
	}
}

// finish stops the slow connections, checks and closes the idle ones and
// adds what they saw to res (if any).
func (s *side) finish(res *Result) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.stopping.Store(true)
	close(s.stop)
	for c := range s.live {
		c.Close() // unblocks a read or write in progress
	}
	s.mu.Unlock()
	s.wg.Wait()

	held := s.checkIdle()
	if res == nil {
		return
	}
	res.Side = &SideResult{}
	if s.cfg.SlowConns > 0 {
		sr := &SlowResult{Conns: s.cfg.SlowConns, BytesSent: s.slowBytes.Load(), Replies: s.slowReplies.Load(), Errors: map[string]int64{}}
		for k, name := range kindNames {
			sr.Errors[name] = s.slowErrs[k].Load()
		}
		res.Side.Slow = sr
	}
	if s.cfg.IdleConns > 0 {
		ir := &IdleResult{Conns: s.cfg.IdleConns, Opened: len(s.idle), Held: held, Errors: map[string]int64{}}
		for k, name := range kindNames {
			ir.Errors[name] = s.idleErrs[k]
		}
		res.Side.Idle = ir
	}
}

// checkIdle finds out, without waiting, which idle connections the server
// closed, reset or wrote to, closes them all and returns how many were
// still held.
func (s *side) checkIdle() int {
	held := 0
	for _, c := range s.idle {
		switch probe(c) {
		case probeHeld:
			held++
		case probeData:
			s.idleErrs[kMismatch]++
		case probeEOF:
			s.idleErrs[kShortRead]++
		default:
			s.idleErrs[kRead]++
		}
		c.Close()
	}
	return held
}

// What probe found on an idle connection.
const (
	probeHeld  = iota // nothing to read: still open
	probeData         // the server sent bytes
	probeEOF          // the server closed it
	probeError        // reset or another error
)
