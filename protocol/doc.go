// Package protocol is the one codec of archbench's uppercase-echo protocol:
// every server and the load generator use it, so "what the server must send
// back" is written exactly once.
//
// # Transports
//
// TCP over IPv4 ("tcp") and IPv6 ("tcp6"), and Unix stream sockets ("unix").
// The protocol is the same on each.
//
// # Transform
//
// Every valid UTF-8 rune r becomes the UTF-8 encoding of unicode.ToUpper(r)
// (simple case mapping). On valid UTF-8 the result equals strings.ToUpper.
// Every byte that is not part of a valid UTF-8 sequence is sent back
// unchanged, so an echo never loses a byte (bytes.ToUpper would turn such
// bytes into U+FFFD; that is not allowed here). The output may be longer or
// shorter than the input: ı (2 bytes) becomes I (1 byte), ɐ (2 bytes) becomes
// Ɐ (3 bytes). ASCII takes a fast path.
//
// In a byte stream a rune may be cut by a read boundary: [Upper] keeps at most
// 3 bytes of such an incomplete sequence and completes it with the next read.
// At end of input an incomplete sequence is sent back unchanged.
//
// # Framing
//
// A server runs one framing for all its connections:
//
//   - [Raw] (the default; the classic textbook protocol): a byte stream with no
//     message boundaries. Whatever arrives is transformed and sent back.
//   - [Line]: a message is the bytes up to and including '\n'; the reply is that
//     line transformed (the '\n' stays). At end of input an unterminated last
//     line is transformed and sent back too.
//   - [Length]: a 4-byte big-endian unsigned length N (network byte order, as
//     Python's struct.pack('!I', N) writes it), then N bytes. The reply is the
//     4-byte length of the transformed bytes, then those bytes. At end of input
//     an incomplete frame cannot be answered: it is reported as [ErrTruncated]
//     and the connection closes after every complete reply has been sent.
//
// Each framed message is transformed on its own: no carry crosses a message
// boundary. A framed message longer than the server's maximum (1 MiB by
// default; for [Line] the count includes the '\n', for [Length] it is N) is
// [ErrTooLarge]: that connection is closed after the replies before it, and
// no other connection is affected.
//
// # Handler cost
//
// In the framed modes a server may spend modelled work on every message
// before replying ([Work]): a CPU-bound busy loop, or a blocking sleep. Raw
// framing has no messages, so work is a configuration error there.
package protocol
