package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Errors a Codec reports. Each ends the connection it happened on; none
// affects another connection.
var (
	// ErrTooLarge: a framed message exceeds the configured maximum.
	ErrTooLarge = errors.New("protocol: message too large")
	// ErrTruncated: input ended inside a length-prefixed frame.
	ErrTruncated = errors.New("protocol: input ended inside a frame")
)

// Framing says how a byte stream is cut into messages.
type Framing uint8

const (
	Raw    Framing = iota // a byte stream without message boundaries
	Line                  // messages end with '\n'
	Length                // a 4-byte big-endian length, then that many bytes
)

// HeaderLen is the size of a Length frame's header.
const HeaderLen = 4

// DefaultMaxMsg is the default bound on a framed message: 1 MiB.
const DefaultMaxMsg = 1 << 20

// MaxMaxMsg bounds MaxMsg so that a transformed message (at most 3/2 of its
// input, e.g. ɐ→Ɐ) still fits the 4-byte length header.
const MaxMaxMsg = 1 << 30

var framingNames = [...]string{Raw: "raw", Line: "line", Length: "length"}

func (f Framing) String() string {
	if int(f) < len(framingNames) {
		return framingNames[f]
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// ParseFraming parses "raw", "line" or "length".
func ParseFraming(s string) (Framing, error) {
	for i, n := range framingNames {
		if n == s {
			return Framing(i), nil
		}
	}
	return 0, fmt.Errorf("protocol: unknown framing %q (want raw, line or length)", s)
}

// MarshalText and UnmarshalText let a Framing appear by name in JSON and YAML.
func (f Framing) MarshalText() ([]byte, error) {
	if int(f) >= len(framingNames) {
		return nil, fmt.Errorf("protocol: invalid framing %d", int(f))
	}
	return []byte(f.String()), nil
}

func (f *Framing) UnmarshalText(b []byte) error {
	v, err := ParseFraming(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MaxWork bounds each part of Work, so that one modelled message cannot
// hold a stop for long. A stop does not wait for the work of the messages
// already read either: it cancels it (see DoUntil, CodecConfig.Cancel).
const MaxWork = 1 * time.Second

// Work is the modelled handler cost spent on every framed message. The zero
// value costs nothing.
type Work struct {
	// CPU busy-computes for this long per message (0 = none).
	CPU time.Duration `json:"cpu,omitempty" help:"framed modes: busy CPU time spent per message (e.g. 100us)"`
	// Sleep blocks the handling goroutine for this long per message (0 = none).
	Sleep time.Duration `json:"sleep,omitempty" help:"framed modes: blocking sleep per message (e.g. 10ms)"`
}

// IsZero reports whether w costs nothing.
func (w Work) IsZero() bool { return w.CPU <= 0 && w.Sleep <= 0 }

// Do spends the work.
func (w Work) Do() { w.DoUntil(nil) }

// DoUntil spends the work unless cancel is closed: then it returns at once
// (within about a microsecond of busy CPU), having spent only part of it
// or none. A server closes cancel when it stops, so that a stop never
// waits for modelled work: the replies it still owes go out without it. A
// nil cancel is never closed.
func (w Work) DoUntil(cancel <-chan struct{}) {
	if w.CPU > 0 {
		spin(w.CPU, cancel)
	}
	if w.Sleep > 0 {
		if cancel == nil {
			time.Sleep(w.Sleep)
			return
		}
		t := time.NewTimer(w.Sleep)
		select {
		case <-t.C:
		case <-cancel:
			t.Stop()
		}
	}
}

var spinSink uint64

// spin keeps the CPU busy for d of wall time, or until cancel is closed.
func spin(d time.Duration, cancel <-chan struct{}) {
	x := spinSink
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for i := 0; i < 256; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		select {
		case <-cancel:
			deadline = time.Time{}
		default:
		}
	}
	spinSink = x
	runtime.KeepAlive(x)
}

// CodecConfig configures a Codec.
type CodecConfig struct {
	Framing Framing
	// MaxMsg bounds a framed message in bytes; 0 means DefaultMaxMsg.
	MaxMsg int
	// Work is spent on every framed message; it must be zero with Raw.
	Work Work
	// Cancel, once closed, cancels all Work (see Work.DoUntil): the server
	// is stopping. nil = never.
	Cancel <-chan struct{}
}

// Validate reports a configuration that cannot work.
func (c CodecConfig) Validate() error {
	if int(c.Framing) >= len(framingNames) {
		return fmt.Errorf("protocol: invalid framing %d", int(c.Framing))
	}
	if c.MaxMsg < 0 || c.MaxMsg > MaxMaxMsg {
		return fmt.Errorf("protocol: max message size %d out of range 1..%d", c.MaxMsg, MaxMaxMsg)
	}
	if c.Work.CPU < 0 || c.Work.Sleep < 0 {
		return errors.New("protocol: negative work duration")
	}
	if c.Work.CPU > MaxWork || c.Work.Sleep > MaxWork {
		return fmt.Errorf("protocol: handler work %v CPU + %v sleep per message: each at most %v (a stop must not wait for it)", c.Work.CPU, c.Work.Sleep, MaxWork)
	}
	if c.Framing == Raw && !c.Work.IsZero() {
		return errors.New("protocol: handler work needs a framed protocol (line or length); raw has no messages")
	}
	return nil
}

// Codec turns one connection's input into its replies. It is not safe for
// concurrent use; each connection owns one.
type Codec struct {
	framer // Line, Length: cuts the input into messages
	work   Work
	cancel <-chan struct{}
	upper  Upper // Raw: the stream's carry
	msgs   uint64
}

// NewCodec returns a Codec for cfg, which must be valid.
func NewCodec(cfg CodecConfig) *Codec {
	c := &Codec{}
	c.Reset(cfg)
	return c
}

// Reset makes c a fresh codec for cfg, keeping its buffer.
func (c *Codec) Reset(cfg CodecConfig) {
	*c = Codec{framer: newFramer(cfg, c.partial), work: cfg.Work, cancel: cfg.Cancel}
}

// Messages reports how many framed messages have been answered.
func (c *Codec) Messages() uint64 { return c.msgs }

// Buffered reports how many input bytes are held for an incomplete message.
func (c *Codec) Buffered() int { return len(c.partial) + c.upper.Pending() }

// Feed consumes src and appends every reply it completes to dst. After an
// error the codec must not be fed again; dst still holds the replies to the
// messages before the bad one.
func (c *Codec) Feed(dst, src []byte) ([]byte, error) {
	if c.framing == Raw {
		return c.upper.Append(dst, src), nil
	}
	for len(src) > 0 {
		msg, n, ok, err := c.next(src)
		if err != nil {
			return dst, err
		}
		src = src[n:]
		if ok {
			dst = c.reply(dst, msg)
		}
	}
	return dst, nil
}

// Finish ends the input: a held-back partial rune (Raw) or an unterminated
// last line (Line) is answered; an incomplete Length frame is ErrTruncated.
func (c *Codec) Finish(dst []byte) ([]byte, error) {
	if c.framing == Raw {
		return c.upper.Flush(dst), nil
	}
	msg, ok, err := c.finish()
	if ok {
		dst = c.reply(dst, msg)
	}
	return dst, err
}

func (c *Codec) reply(dst, msg []byte) []byte {
	c.work.DoUntil(c.cancel)
	c.msgs++
	return AppendMessageReply(dst, c.framing, msg)
}

// AppendMessageReply appends the reply to one framed message as a Codec or
// a Splitter cuts it from the input: for Line the message includes its
// '\n' (absent only on an unterminated last line), for Length it is the body
// without the header. It spends no Work; the caller does. (AppendReply takes
// a payload as AppendRequest frames it instead.)
func AppendMessageReply(dst []byte, f Framing, msg []byte) []byte {
	if f == Length {
		h := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = AppendUpper(dst, msg)
		binary.BigEndian.PutUint32(dst[h:], uint32(len(dst)-h-HeaderLen))
		return dst
	}
	return AppendUpper(dst, msg)
}

// framer is the one implementation of Line and Length framing: a Codec
// answers each message it cuts, a Splitter hands them out.
type framer struct {
	framing Framing
	maxMsg  int
	partial []byte // bytes of an incomplete message
}

func newFramer(cfg CodecConfig, buf []byte) framer {
	if cfg.MaxMsg == 0 {
		cfg.MaxMsg = DefaultMaxMsg
	}
	return framer{framing: cfg.Framing, maxMsg: cfg.MaxMsg, partial: buf[:0]}
}

// tooLarge reports a message of n bytes (a length header's value, up to
// 4294967295, or a line's bytes so far) over the limit.
func (f *framer) tooLarge(n uint64) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, f.maxMsg)
}

// next consumes src up to the end of the first message it completes and
// returns that message, how many bytes of src it consumed, and whether it
// completed one (if not, all of src is consumed and held). The message
// aliases src or f.partial: it is valid until the next call. next consumes
// at least one byte of a non-empty src, so a loop over it ends.
func (f *framer) next(src []byte) (msg []byte, n int, ok bool, err error) {
	if f.framing == Line {
		return f.nextLine(src)
	}
	return f.nextLength(src)
}

func (f *framer) nextLine(src []byte) ([]byte, int, bool, error) {
	i := indexNL(src)
	if i < 0 {
		if len(f.partial)+len(src) > f.maxMsg {
			return nil, 0, false, f.tooLarge(uint64(len(f.partial) + len(src)))
		}
		f.partial = append(f.partial, src...)
		return nil, len(src), false, nil
	}
	line := src[:i+1]
	if len(f.partial) == 0 {
		// Fast path: the whole line straight from src, no copy.
		if len(line) > f.maxMsg {
			return nil, 0, false, f.tooLarge(uint64(len(line)))
		}
		return line, len(line), true, nil
	}
	if len(f.partial)+len(line) > f.maxMsg {
		return nil, 0, false, f.tooLarge(uint64(len(f.partial) + len(line)))
	}
	msg := append(f.partial, line...)
	f.partial = msg[:0] // msg stays valid until the next append
	return msg, len(line), true, nil
}

func (f *framer) nextLength(src []byte) ([]byte, int, bool, error) {
	if len(f.partial) == 0 {
		// Fast path: a whole frame straight from src, no copy.
		if len(src) < HeaderLen {
			f.partial = append(f.partial, src...)
			return nil, len(src), false, nil
		}
		n := binary.BigEndian.Uint32(src)
		if uint64(n) > uint64(f.maxMsg) {
			return nil, 0, false, f.tooLarge(uint64(n))
		}
		if end := HeaderLen + int(n); end <= len(src) {
			return src[HeaderLen:end], end, true, nil
		}
		f.partial = append(f.partial, src...)
		return nil, len(src), false, nil
	}
	// Complete the header, then the body, from src.
	used := 0
	if len(f.partial) < HeaderLen {
		used = min(HeaderLen-len(f.partial), len(src))
		f.partial = append(f.partial, src[:used]...)
		if len(f.partial) < HeaderLen {
			return nil, used, false, nil
		}
		if n := binary.BigEndian.Uint32(f.partial); uint64(n) > uint64(f.maxMsg) {
			return nil, used, false, f.tooLarge(uint64(n))
		}
	}
	need := HeaderLen + int(binary.BigEndian.Uint32(f.partial)) - len(f.partial)
	k := min(need, len(src)-used)
	f.partial = append(f.partial, src[used:used+k]...)
	if k < need {
		return nil, used + k, false, nil
	}
	msg := f.partial[HeaderLen:]
	f.partial = f.partial[:0] // msg stays valid until the next append
	return msg, used + k, true, nil
}

// finish ends the input: it returns an unterminated last line (Line) as a
// message, or ErrTruncated for an incomplete frame (Length).
func (f *framer) finish() (msg []byte, ok bool, err error) {
	n := len(f.partial)
	if n == 0 {
		return nil, false, nil
	}
	msg = f.partial
	f.partial = f.partial[:0]
	if f.framing == Length {
		return nil, false, fmt.Errorf("%w (%d bytes buffered)", ErrTruncated, n)
	}
	return msg, true, nil
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }
