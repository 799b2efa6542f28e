package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

// Work is the modelled handler cost spent on every framed message. The zero
// value costs nothing.
type Work struct {
	// CPU busy-computes for this long per message (0 = none).
	CPU time.Duration `json:"cpu,omitempty" yaml:"cpu,omitempty"`
	// Sleep blocks the handling goroutine for this long per message (0 = none).
	Sleep time.Duration `json:"sleep,omitempty" yaml:"sleep,omitempty"`
}

// IsZero reports whether w costs nothing.
func (w Work) IsZero() bool { return w.CPU <= 0 && w.Sleep <= 0 }

// Do spends the work.
func (w Work) Do() {
	if w.CPU > 0 {
		spin(w.CPU)
	}
	if w.Sleep > 0 {
		time.Sleep(w.Sleep)
	}
}

var spinSink uint64

// spin keeps the CPU busy for d of wall time.
func spin(d time.Duration) {
	x := spinSink
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for i := 0; i < 256; i++ {
			x = x*6364136223846793005 + 1442695040888963407
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
	if c.Framing == Raw && !c.Work.IsZero() {
		return errors.New("protocol: handler work needs a framed protocol (line or length); raw has no messages")
	}
	return nil
}

// Codec turns one connection's input into its replies. It is not safe for
// concurrent use; each connection owns one.
type Codec struct {
	framing Framing
	maxMsg  int
	work    Work
	upper   Upper  // Raw: the stream's carry
	partial []byte // Line, Length: bytes of an incomplete message
	msgs    uint64
}

// NewCodec returns a Codec for cfg, which must be valid.
func NewCodec(cfg CodecConfig) *Codec {
	c := &Codec{}
	c.Reset(cfg)
	return c
}

// Reset makes c a fresh codec for cfg, keeping its buffer.
func (c *Codec) Reset(cfg CodecConfig) {
	if cfg.MaxMsg == 0 {
		cfg.MaxMsg = DefaultMaxMsg
	}
	*c = Codec{framing: cfg.Framing, maxMsg: cfg.MaxMsg, work: cfg.Work, partial: c.partial[:0]}
}

// Messages reports how many framed messages have been answered.
func (c *Codec) Messages() uint64 { return c.msgs }

// Buffered reports how many input bytes are held for an incomplete message.
func (c *Codec) Buffered() int { return len(c.partial) + c.upper.Pending() }

// Feed consumes src and appends every reply it completes to dst. After an
// error the codec must not be fed again; dst still holds the replies to the
// messages before the bad one.
func (c *Codec) Feed(dst, src []byte) ([]byte, error) {
	switch c.framing {
	case Line:
		return c.feedLine(dst, src)
	case Length:
		return c.feedLength(dst, src)
	default:
		return c.upper.Append(dst, src), nil
	}
}

// Finish ends the input: a held-back partial rune (Raw) or an unterminated
// last line (Line) is answered; an incomplete Length frame is ErrTruncated.
func (c *Codec) Finish(dst []byte) ([]byte, error) {
	switch c.framing {
	case Line:
		if len(c.partial) > 0 {
			dst = c.reply(dst, c.partial)
			c.partial = c.partial[:0]
		}
	case Length:
		if n := len(c.partial); n > 0 {
			c.partial = c.partial[:0]
			return dst, fmt.Errorf("%w (%d bytes buffered)", ErrTruncated, n)
		}
	default:
		dst = c.upper.Flush(dst)
	}
	return dst, nil
}

func (c *Codec) reply(dst, msg []byte) []byte {
	c.work.Do()
	c.msgs++
	if c.framing == Length {
		h := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = AppendUpper(dst, msg)
		binary.BigEndian.PutUint32(dst[h:], uint32(len(dst)-h-HeaderLen))
		return dst
	}
	return AppendUpper(dst, msg)
}

func (c *Codec) tooLarge(n int) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, c.maxMsg)
}

func (c *Codec) feedLine(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		i := indexNL(src)
		if i < 0 {
			if len(c.partial)+len(src) > c.maxMsg {
				return dst, c.tooLarge(len(c.partial) + len(src))
			}
			c.partial = append(c.partial, src...)
			return dst, nil
		}
		line := src[:i+1]
		src = src[i+1:]
		if len(c.partial) > 0 {
			if len(c.partial)+len(line) > c.maxMsg {
				return dst, c.tooLarge(len(c.partial) + len(line))
			}
			c.partial = append(c.partial, line...)
			dst = c.reply(dst, c.partial)
			c.partial = c.partial[:0]
			continue
		}
		if len(line) > c.maxMsg {
			return dst, c.tooLarge(len(line))
		}
		dst = c.reply(dst, line)
	}
	return dst, nil
}

func (c *Codec) feedLength(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		if len(c.partial) == 0 {
			// Fast path: whole frames straight from src, no copy.
			if len(src) < HeaderLen {
				c.partial = append(c.partial, src...)
				return dst, nil
			}
			n := binary.BigEndian.Uint32(src)
			if uint64(n) > uint64(c.maxMsg) {
				return dst, c.tooLarge(int(min(n, math.MaxInt32)))
			}
			if end := HeaderLen + int(n); end <= len(src) {
				dst = c.reply(dst, src[HeaderLen:end])
				src = src[end:]
				continue
			}
			c.partial = append(c.partial, src...)
			return dst, nil
		}
		// Complete the header, then the body, from src.
		if len(c.partial) < HeaderLen {
			k := min(HeaderLen-len(c.partial), len(src))
			c.partial = append(c.partial, src[:k]...)
			src = src[k:]
			if len(c.partial) < HeaderLen {
				return dst, nil
			}
			if n := binary.BigEndian.Uint32(c.partial); uint64(n) > uint64(c.maxMsg) {
				return dst, c.tooLarge(int(min(n, math.MaxInt32)))
			}
		}
		need := HeaderLen + int(binary.BigEndian.Uint32(c.partial)) - len(c.partial)
		k := min(need, len(src))
		c.partial = append(c.partial, src[:k]...)
		src = src[k:]
		if k == need {
			dst = c.reply(dst, c.partial[HeaderLen:])
			c.partial = c.partial[:0]
		}
	}
	return dst, nil
}

func indexNL(b []byte) int { return bytes.IndexByte(b, '\n') }
