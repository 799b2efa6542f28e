package loadgen

import (
	"testing"
	"time"
)

// BenchmarkReplyBookkeeping is the event loop's work per verified reply
// besides the system calls and the byte comparison: retire the message
// (complete, with its latency record and counters) and queue the next
// (enqueue). It must stay O(1) and allocation-free; compare commits with
// benchstat.
func BenchmarkReplyBookkeeping(b *testing.B) {
	cfg := Config{Addr: "x:1", Duration: time.Hour}.WithDefaults()
	tm := newTiming(cfg)
	tm.base = time.Now()
	lp := &eventLoop{
		recorder: newRecorder(cfg, tm, &seconds{cfg: cfg}, 1),
		cfg:      cfg, msgs: newMessageSet(cfg, messageCount(cfg.Size, cfg.Depth)),
		conns: make([]conn, 1),
	}
	c := &lp.conns[0]
	*c = conn{fd: -1, state: stUp, ring: make([]int64, 1)}
	now := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		now += 20_000
		lp.enqueue(c, now, now)
		c.wpos = c.wend // as if written
		lp.complete(c, now+5_000)
	}
	if lp.tally.requests == 0 {
		b.Fatal("nothing recorded")
	}
}
