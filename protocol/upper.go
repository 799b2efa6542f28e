package protocol

import (
	"unicode"
	"unicode/utf8"
)

// AppendUpper appends the transform of a whole message p to dst and returns
// the extended slice. An incomplete UTF-8 sequence at the end of p is copied
// unchanged, as are all other invalid bytes.
func AppendUpper(dst, p []byte) []byte {
	dst, _ = appendUpper(dst, p, true)
	return dst
}

// UpperLen reports how many bytes AppendUpper would append for p.
func UpperLen(p []byte) int {
	n := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			n++
		} else {
			n += utf8.RuneLen(unicode.ToUpper(r))
		}
		i += size
	}
	return n
}

// appendUpper transforms p into dst. Unless atEOF, a trailing incomplete but
// so-far valid UTF-8 prefix is left unconsumed and its length returned as
// rest (0..3).
func appendUpper(dst, p []byte, atEOF bool) (out []byte, rest int) {
	i := 0
	for i < len(p) {
		// ASCII fast path: copy the run of ASCII bytes, upper-casing a-z.
		j := i
		for j < len(p) && p[j] < utf8.RuneSelf {
			j++
		}
		if j > i {
			n := len(dst)
			dst = append(dst, p[i:j]...)
			for k := n; k < len(dst); k++ {
				if c := dst[k]; 'a' <= c && c <= 'z' {
					dst[k] = c - ('a' - 'A')
				}
			}
			i = j
			if i == len(p) {
				break
			}
		}
		if !atEOF && !utf8.FullRune(p[i:]) {
			return dst, len(p) - i
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, p[i]) // not valid UTF-8: sent back unchanged
		} else {
			dst = utf8.AppendRune(dst, unicode.ToUpper(r))
		}
		i += size
	}
	return dst, 0
}

// Upper is the streaming transform of one byte stream: a rune cut by a read
// boundary is completed by the next call. The zero value is ready to use.
type Upper struct {
	carry [utf8.UTFMax - 1]byte
	n     int
}

// Append transforms src, continuing the stream, and appends the result to
// dst. Up to 3 trailing bytes of an incomplete rune are held back until the
// next Append or Flush.
func (u *Upper) Append(dst, src []byte) []byte {
	if u.n > 0 {
		// Join the carry with just enough of src to finish the carried bytes.
		var tmp [2*utf8.UTFMax - 2]byte
		k := copy(tmp[:], u.carry[:u.n])
		k += copy(tmp[k:], src[:min(len(src), utf8.UTFMax-1)])
		i := 0
		for i < u.n {
			if !utf8.FullRune(tmp[i:k]) {
				// src ran out before the carried rune was complete.
				u.n = copy(u.carry[:], tmp[i:k])
				return dst
			}
			r, size := utf8.DecodeRune(tmp[i:k])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, tmp[i])
			} else {
				dst = utf8.AppendRune(dst, unicode.ToUpper(r))
			}
			i += size
		}
		src = src[i-u.n:]
		u.n = 0
	}
	dst, rest := appendUpper(dst, src, false)
	u.n = copy(u.carry[:], src[len(src)-rest:])
	return dst
}

// Flush ends the stream: any held-back incomplete sequence is appended to dst
// unchanged.
func (u *Upper) Flush(dst []byte) []byte {
	dst = append(dst, u.carry[:u.n]...)
	u.n = 0
	return dst
}

// Pending reports how many bytes are held back.
func (u *Upper) Pending() int { return u.n }
