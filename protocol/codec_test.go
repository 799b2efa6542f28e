package protocol

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func feedAll(t testing.TB, c *Codec, chunks ...[]byte) ([]byte, error) {
	t.Helper()
	var out []byte
	var err error
	for _, ch := range chunks {
		if out, err = c.Feed(out, ch); err != nil {
			return out, err
		}
	}
	return c.Finish(out)
}

func lengthFrame(s string) []byte { return AppendRequest(nil, Length, []byte(s)) }

func TestCodecFraming(t *testing.T) {
	tests := []struct {
		name    string
		framing Framing
		maxMsg  int
		in      []byte
		want    []byte
		err     error
	}{
		{name: "raw", framing: Raw, in: []byte("abc ı"), want: []byte("ABC I")},
		{name: "raw partial rune at EOF", framing: Raw, in: []byte("a\xe4\xb8"), want: []byte("A\xe4\xb8")},
		{name: "line", framing: Line, in: []byte("ab\ncd\n"), want: []byte("AB\nCD\n")},
		{name: "line unterminated last line answered", framing: Line, in: []byte("ab\ncd"), want: []byte("AB\nCD")},
		{name: "line empty lines", framing: Line, in: []byte("\n\n"), want: []byte("\n\n")},
		{name: "line no carry across messages", framing: Line, in: []byte("\xe4\n\xb8\xad\n"), want: []byte("\xe4\n\xb8\xad\n")},
		{name: "line at max", framing: Line, maxMsg: 4, in: []byte("abc\n"), want: []byte("ABC\n")},
		{name: "line over max", framing: Line, maxMsg: 4, in: []byte("ok\nabcd\n"), want: []byte("OK\n"), err: ErrTooLarge},
		{name: "line over max unterminated", framing: Line, maxMsg: 4, in: []byte("abcde"), err: ErrTooLarge},
		{name: "length", framing: Length, in: append(lengthFrame("ab"), lengthFrame("ıɐ")...), want: append(lengthFrame("AB"), lengthFrame("IⱯ")...)},
		{name: "length empty message", framing: Length, in: lengthFrame(""), want: lengthFrame("")},
		{name: "length changes header", framing: Length, in: lengthFrame("ɐɐ"), want: lengthFrame("ⱯⱯ")},
		{name: "length truncated body", framing: Length, in: lengthFrame("abc")[:6], err: ErrTruncated},
		{name: "length truncated header", framing: Length, in: []byte{0, 0}, err: ErrTruncated},
		{name: "length over max", framing: Length, maxMsg: 3, in: append(lengthFrame("ok"), lengthFrame("toolong")...), want: lengthFrame("OK"), err: ErrTooLarge},
		{name: "length huge header", framing: Length, in: []byte{0xff, 0xff, 0xff, 0xff}, err: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := CodecConfig{Framing: tt.framing, MaxMsg: tt.maxMsg}
			require.NoError(t, cfg.Validate())
			// One read, and one byte per read: same replies, same error.
			for _, chunks := range [][][]byte{{tt.in}, bytesOneByOne(tt.in)} {
				out, err := feedAll(t, NewCodec(cfg), chunks...)
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
				} else {
					require.NoError(t, err)
				}
				assert.Equal(t, string(tt.want), string(out))
			}
		})
	}
}

func bytesOneByOne(p []byte) [][]byte {
	var out [][]byte
	for i := range p {
		out = append(out, p[i:i+1])
	}
	return out
}

func TestCodecCountsMessages(t *testing.T) {
	c := NewCodec(CodecConfig{Framing: Line})
	_, err := feedAll(t, c, []byte("a\nb\nc"))
	require.NoError(t, err)
	assert.EqualValues(t, 3, c.Messages())
}

func TestCodecWork(t *testing.T) {
	c := NewCodec(CodecConfig{Framing: Line, Work: Work{Sleep: 20 * time.Millisecond}})
	start := time.Now()
	_, err := feedAll(t, c, []byte("a\nb\n"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "two messages sleep twice")
}

func TestCodecConfigValidate(t *testing.T) {
	assert.Error(t, CodecConfig{Framing: Raw, Work: Work{CPU: time.Millisecond}}.Validate())
	assert.Error(t, CodecConfig{Framing: Framing(9)}.Validate())
	assert.Error(t, CodecConfig{MaxMsg: MaxMaxMsg + 1}.Validate())
	assert.NoError(t, CodecConfig{Framing: Line, Work: Work{CPU: MaxWork, Sleep: MaxWork}}.Validate())
	err := CodecConfig{Framing: Line, Work: Work{Sleep: 30 * time.Second}}.Validate()
	assert.ErrorContains(t, err, "at most 1s", "a handler sleep that would hold a stop is refused")
	assert.Error(t, CodecConfig{Framing: Line, Work: Work{CPU: MaxWork + 1}}.Validate())
	assert.Error(t, CodecConfig{Framing: Line, Work: Work{Sleep: -1}}.Validate())
	assert.NoError(t, CodecConfig{Framing: Length, Work: Work{CPU: time.Millisecond}}.Validate())
}

func TestParseFraming(t *testing.T) {
	for _, f := range []Framing{Raw, Line, Length} {
		got, err := ParseFraming(f.String())
		require.NoError(t, err)
		assert.Equal(t, f, got)
		var u Framing
		b, err := f.MarshalText()
		require.NoError(t, err)
		require.NoError(t, u.UnmarshalText(b))
		assert.Equal(t, f, u)
	}
	_, err := ParseFraming("json")
	assert.Error(t, err)
}

func TestAppendReplyMatchesCodec(t *testing.T) {
	payload := []byte("héllo ıɐⱥ 中 \xff")
	for _, f := range []Framing{Raw, Line, Length} {
		out, err := feedAll(t, NewCodec(CodecConfig{Framing: f}), AppendRequest(nil, f, payload))
		require.NoError(t, err)
		assert.Equal(t, AppendReply(nil, f, payload), out, f.String())
	}
}

// FuzzCodec: for every framing, any split of the input into two reads gives
// the same replies and the same error as one read, and a Splitter with
// AppendMessageReply (the worker-pool path) gives the same as the Codec.
func FuzzCodec(f *testing.F) {
	f.Add([]byte("ab\ncd\n"), uint8(0), uint16(2))
	f.Add(lengthFrame("héllo"), uint8(2), uint16(5))
	f.Add([]byte("ıɐ\xe4"), uint8(1), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, fr uint8, at uint16) {
		cfg := CodecConfig{Framing: Framing(fr % 3), MaxMsg: 64}
		i := int(at) % (len(in) + 1)
		one, err1 := feedAll(t, NewCodec(cfg), in)
		two, err2 := feedAll(t, NewCodec(cfg), in[:i], in[i:])
		if string(one) != string(two) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("framing %v split %d: one read %q (%v), two reads %q (%v)", cfg.Framing, i, one, err1, two, err2)
		}
		if cfg.Framing != Raw {
			_, split, err3 := splitAll(t, cfg, in[:i], in[i:])
			if string(one) != string(split) || !sameErr(err1, err3) {
				t.Fatalf("framing %v split %d: codec %q (%v), splitter %q (%v)", cfg.Framing, i, one, err1, split, err3)
			}
		}
		if cfg.Framing == Length {
			// Every reply's header matches its body.
			for p := one; len(p) > 0; {
				if len(p) < HeaderLen {
					t.Fatalf("reply ends inside a header: %q", p)
				}
				n := int(binary.BigEndian.Uint32(p))
				if len(p) < HeaderLen+n {
					t.Fatalf("reply header says %d, %d bytes left", n, len(p)-HeaderLen)
				}
				p = p[HeaderLen+n:]
			}
		}
	})
}

// sameErr reports whether a and b are both nil or both the same protocol error.
func sameErr(a, b error) bool {
	for _, e := range []error{ErrTooLarge, ErrTruncated} {
		if errors.Is(a, e) != errors.Is(b, e) {
			return false
		}
	}
	return (a == nil) == (b == nil)
}

// TestWorkCancel: closed cancel ends both kinds of work at once, before or
// during them (the bound is 1/4 of the work, far from it either way).
func TestWorkCancel(t *testing.T) {
	for _, w := range []Work{{CPU: MaxWork}, {Sleep: MaxWork}, {CPU: MaxWork, Sleep: MaxWork}} {
		closed := make(chan struct{})
		close(closed)
		t0 := time.Now()
		w.DoUntil(closed)
		if d := time.Since(t0); d > MaxWork/4 {
			t.Errorf("%+v with cancel closed before: took %v", w, d)
		}
		later := make(chan struct{})
		time.AfterFunc(10*time.Millisecond, func() { close(later) })
		t0 = time.Now()
		w.DoUntil(later)
		if d := time.Since(t0); d > MaxWork/4 {
			t.Errorf("%+v cancelled after 10ms: took %v", w, d)
		}
	}
}

// A length header of 0xFFFFFFFF is reported as the 4294967295 bytes it
// announces, whether it arrives whole or split.
func TestTooLargeNamesHeader(t *testing.T) {
	hdr := []byte{0xFF, 0xFF, 0xFF, 0xFF}
	for _, parts := range [][][]byte{{hdr}, {hdr[:1], hdr[1:]}} {
		c := NewCodec(CodecConfig{Framing: Length})
		var err error
		for _, p := range parts {
			if _, err = c.Feed(nil, p); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), "4294967295 bytes") {
			t.Errorf("header split %d ways: %v, want ErrTooLarge naming 4294967295 bytes", len(parts), err)
		}
	}
}
