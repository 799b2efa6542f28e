package protocol

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendUpper(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "ascii", in: "hello, World 123!", want: "HELLO, WORLD 123!"},
		{name: "ascii all bytes", in: "az`{@[AZ", want: "AZ`{@[AZ"},
		{name: "latin keeps sharp s", in: "straße é ñ", want: "STRAßE É Ñ"},
		{name: "dotless i shrinks", in: "ı", want: "I"},
		{name: "a-stroke grows", in: "ⱥ", want: "Ⱥ"},
		{name: "turned a grows", in: "ɐ", want: "Ɐ"},
		{name: "cjk unchanged", in: "中文", want: "中文"},
		{name: "greek", in: "αβγ", want: "ΑΒΓ"},
		{name: "emoji", in: "ok 👍", want: "OK 👍"},
		{name: "invalid byte kept", in: "a\xffb", want: "A\xffB"},
		{name: "lone continuation", in: "\x80x", want: "\x80X"},
		{name: "truncated at end", in: "x\xe4\xb8", want: "X\xe4\xb8"},
		{name: "surrogate encoding kept", in: "\xed\xa0\x80a", want: "\xed\xa0\x80A"},
		{name: "overlong kept", in: "\xc0\xafz", want: "\xc0\xafZ"},
		{name: "valid U+FFFD", in: "\uFFFDa", want: "\uFFFDA"},
		{name: "nul and newline", in: "a\x00b\nc", want: "A\x00B\nC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendUpper(nil, []byte(tt.in))
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, len(tt.want), UpperLen([]byte(tt.in)))
			if utf8.ValidString(tt.in) {
				assert.Equal(t, strings.ToUpper(tt.in), string(got), "valid UTF-8 must match strings.ToUpper")
			}
		})
	}
}

func TestUpperStreamSplits(t *testing.T) {
	in := []byte("aé中👍ıⱥɐ\xff\xe4\xb8z")
	want := AppendUpper(nil, in)
	// Every 2-way and 3-way split gives the one-shot output.
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			var u Upper
			var out []byte
			out = u.Append(out, in[:i])
			out = u.Append(out, in[i:j])
			out = u.Append(out, in[j:])
			out = u.Flush(out)
			require.Equal(t, want, out, "split at %d,%d", i, j)
		}
	}
}

func TestUpperOneByteWrites(t *testing.T) {
	in := []byte(strings.Repeat("héllo ıɐⱥ 中 👍 \xff", 50))
	var u Upper
	var out []byte
	for i := range in {
		out = u.Append(out, in[i:i+1])
		assert.LessOrEqual(t, u.Pending(), utf8.UTFMax-1)
	}
	out = u.Flush(out)
	assert.Equal(t, AppendUpper(nil, in), out)
}

func TestUpperCarryHeldUntilFlush(t *testing.T) {
	var u Upper
	out := u.Append(nil, []byte("a\xe4"))
	assert.Equal(t, "A", string(out))
	assert.Equal(t, 1, u.Pending())
	out = u.Append(out, nil)
	assert.Equal(t, 1, u.Pending())
	out = u.Flush(out)
	assert.Equal(t, "A\xe4", string(out))
	assert.Zero(t, u.Pending())
}

// FuzzUpper checks the transform's promises on any input and any split.
func FuzzUpper(f *testing.F) {
	for _, s := range []string{"", "hello", "ıⱥɐ", "\xff\xfe", "中\xe4\xb8", "👍x", "\xed\xa0\x80"} {
		f.Add([]byte(s), uint16(1), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint16) {
		whole := AppendUpper(nil, in)
		if len(whole) != UpperLen(in) {
			t.Fatalf("UpperLen %d, output %d", UpperLen(in), len(whole))
		}
		// Any split into reads gives the same output as one read.
		i, j := int(a)%(len(in)+1), int(b)%(len(in)+1)
		if i > j {
			i, j = j, i
		}
		var u Upper
		var split []byte
		split = u.Append(split, in[:i])
		split = u.Append(split, in[i:j])
		split = u.Append(split, in[j:])
		split = u.Flush(split)
		if !bytes.Equal(split, whole) {
			t.Fatalf("split %d,%d: %q, one read: %q", i, j, split, whole)
		}
		// Valid UTF-8 gives exactly strings.ToUpper.
		if utf8.Valid(in) && string(whole) != strings.ToUpper(string(in)) {
			t.Fatalf("valid input %q: %q, strings.ToUpper %q", in, whole, strings.ToUpper(string(in)))
		}
		// No byte of invalid input is lost: walking input and output rune by
		// rune, every invalid byte reappears as itself, and every valid rune as
		// its upper case.
		o := whole
		for k := 0; k < len(in); {
			r, size := utf8.DecodeRune(in[k:])
			var exp []byte
			if r == utf8.RuneError && size == 1 {
				exp = in[k : k+1]
			} else {
				exp = AppendUpper(nil, in[k:k+size])
			}
			if !bytes.HasPrefix(o, exp) {
				t.Fatalf("input byte %d (%q): output %q lost it", k, in[k:k+size], o)
			}
			o = o[len(exp):]
			k += size
		}
		if len(o) != 0 {
			t.Fatalf("output has %d extra bytes", len(o))
		}
	})
}

func BenchmarkAppendUpperASCII(b *testing.B) {
	in := bytes.Repeat([]byte("hello world 0123"), 1024)
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = AppendUpper(out[:0], in)
	}
}

func BenchmarkAppendUpperUTF8(b *testing.B) {
	in := bytes.Repeat([]byte("héllo ıɐ 中文 👍"), 512)
	out := make([]byte, 0, 2*len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = AppendUpper(out[:0], in)
	}
}
