package loadgen

import (
	"math/rand/v2"
	"unicode/utf8"

	"archbench/protocol"
)

// utf8Runes are the runes utf8 content draws from besides ASCII: multi-byte
// runes whose upper case has the same length (é, ω, 中, 𐐨→𐐀), a longer one
// (ɐ→Ɐ, ȿ→Ȿ: 2 → 3 bytes), shorter ones (ı→I, ſ→S: 2 → 1 byte) and runes
// without an upper case (ß, 😀).
var utf8Runes = []rune{'é', 'ω', '中', '𐐨', 'ɐ', 'ȿ', 'ı', 'ſ', 'ß', '😀'}

const asciiAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// messageSet is the pre-generated traffic: n messages, framed, and the exact
// reply the server owes for each. A connection sends message i, i+1, ...
// (mod n), so any run of up to n consecutive requests is one contiguous
// slice of req, which holds the n framed requests twice over.
type messageSet struct {
	n      int
	req    []byte // requests 0..n-1, then the same again
	reqOff []int  // request i is req[reqOff[i]:reqOff[i+1]] (and shifted by reqLen)
	reqLen int    // bytes of one copy of the n requests
	rep    []byte // replies 0..n-1
	repOff []int  // reply i is rep[repOff[i]:repOff[i+1]]
}

// messageCount is how many distinct messages to pre-generate: at least
// depth (so that every message in flight on a connection is distinct in
// position), otherwise up to 64 while the set stays below about 16 MiB.
func messageCount(size, depth int) int {
	n := 64
	if size > 0 {
		n = min(64, max(2, (16<<20)/size))
	}
	return max(n, depth)
}

// newMessageSet builds n messages of size payload bytes each.
func newMessageSet(cfg Config, n int) *messageSet {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	ms := &messageSet{n: n, reqOff: make([]int, n+1), repOff: make([]int, n+1)}
	payload := make([]byte, 0, cfg.Size)
	for i := range n {
		payload = genPayload(payload[:0], rng, cfg.Size, cfg.Content)
		ms.reqOff[i] = len(ms.req)
		ms.req = protocol.AppendRequest(ms.req, cfg.Framing, payload)
		ms.repOff[i] = len(ms.rep)
		ms.rep = protocol.AppendReply(ms.rep, cfg.Framing, payload)
	}
	ms.reqOff[n] = len(ms.req)
	ms.repOff[n] = len(ms.rep)
	ms.reqLen = len(ms.req)
	ms.req = append(ms.req, ms.req...)
	return ms
}

// genPayload appends size bytes of content to dst. Payloads never contain
// '\n', so they are valid line-framed messages, and utf8 payloads are valid
// UTF-8 made of whole runes, so a message's reply does not depend on its
// neighbours in a raw stream.
func genPayload(dst []byte, rng *rand.Rand, size int, content Content) []byte {
	for len(dst) < size {
		left := size - len(dst)
		if content == UTF8 && rng.IntN(2) == 0 {
			r := utf8Runes[rng.IntN(len(utf8Runes))]
			if utf8.RuneLen(r) <= left {
				dst = utf8.AppendRune(dst, r)
				continue
			}
		}
		dst = append(dst, asciiAlphabet[rng.IntN(len(asciiAlphabet))])
	}
	return dst
}
