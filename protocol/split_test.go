package protocol

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// splitAll cuts chunks into messages with a Splitter, copying each, and
// answers them in order with AppendMessageReply: what a server with a
// worker pool sends back.
func splitAll(t testing.TB, cfg CodecConfig, chunks ...[]byte) (msgs [][]byte, out []byte, err error) {
	t.Helper()
	s := NewSplitter(cfg)
	for _, ch := range chunks {
		for src := ch; len(src) > 0; {
			msg, n, ok, err := s.Next(src)
			if err != nil {
				return msgs, out, err
			}
			if n == 0 {
				t.Fatalf("Next consumed nothing of %d bytes", len(src))
			}
			src = src[n:]
			if ok {
				msgs = append(msgs, append([]byte{}, msg...))
				out = AppendMessageReply(out, cfg.Framing, msg)
			}
		}
	}
	msg, ok, err := s.Finish()
	if ok {
		msgs = append(msgs, append([]byte{}, msg...))
		out = AppendMessageReply(out, cfg.Framing, msg)
	}
	return msgs, out, err
}

func TestSplitterMessages(t *testing.T) {
	tests := []struct {
		name    string
		framing Framing
		maxMsg  int
		in      []byte
		want    []string
		err     error
	}{
		{name: "line", framing: Line, in: []byte("ab\n\ncd"), want: []string{"ab\n", "\n", "cd"}},
		{name: "line over max", framing: Line, maxMsg: 3, in: []byte("ab\nabcd\n"), want: []string{"ab\n"}, err: ErrTooLarge},
		{name: "length", framing: Length, in: append(lengthFrame("ab"), lengthFrame("")...), want: []string{"ab", ""}},
		{name: "length truncated", framing: Length, in: append(lengthFrame("ab"), 0, 0, 0, 9, 'x'), want: []string{"ab"}, err: ErrTruncated},
		{name: "raw has no messages", framing: Raw, in: []byte("ab\ncd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := CodecConfig{Framing: tt.framing, MaxMsg: tt.maxMsg}
			for _, chunks := range [][][]byte{{tt.in}, bytesOneByOne(tt.in)} {
				msgs, _, err := splitAll(t, cfg, chunks...)
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
				} else {
					require.NoError(t, err)
				}
				var got []string
				for _, m := range msgs {
					got = append(got, string(m))
				}
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// TestSplitterMatchesCodec: for framed input, Splitter plus
// AppendMessageReply gives exactly Codec's replies.
func TestSplitterMatchesCodec(t *testing.T) {
	payload := []byte("héllo ıɐⱥ 中 \xff")
	for _, f := range []Framing{Line, Length} {
		in := AppendRequest(AppendRequest(nil, f, payload), f, []byte("second"))
		cfg := CodecConfig{Framing: f}
		want, err := feedAll(t, NewCodec(cfg), in)
		require.NoError(t, err)
		msgs, got, err := splitAll(t, cfg, bytesOneByOne(in)...)
		require.NoError(t, err)
		assert.Len(t, msgs, 2)
		assert.Equal(t, string(want), string(got), f.String())
	}
}

// TestSplitterMessageValidUntilNext documents the slice semantics: a
// message assembled from several reads lives in the splitter's buffer and
// is overwritten by the next call.
func TestSplitterMessageValidUntilNext(t *testing.T) {
	s := NewSplitter(CodecConfig{Framing: Line})
	_, _, ok, err := s.Next([]byte("ab"))
	require.NoError(t, err)
	require.False(t, ok)
	assert.Equal(t, 2, s.Buffered())
	msg, n, ok, err := s.Next([]byte("c\nxyz"))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 2, n)
	assert.Equal(t, "abc\n", string(msg))
	assert.Equal(t, 0, s.Buffered())
	_, _, _, err = s.Next([]byte("XY"))
	require.NoError(t, err)
	assert.Equal(t, "XYc\n", string(msg), "the buffer was reused")
}

func BenchmarkSplitterLine(b *testing.B) {
	var src []byte
	for range 2000 {
		src = AppendRequest(src, Line, []byte("hello world 0123456789abcdef"))
	}
	s := NewSplitter(CodecConfig{Framing: Line})
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		for p := src; len(p) > 0; {
			_, n, _, _ := s.Next(p)
			p = p[n:]
		}
	}
}
