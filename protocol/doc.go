// Package protocol is the one codec of archbench's uppercase-echo protocol:
// every server and the load generator use it, so "what the server must send
// back" is written exactly once.
//
// # Transports
//
// TCP over IPv4 ("tcp") and IPv6 ("tcp6"), and Unix stream sockets ("unix").
// The protocol is the same on each. The datagram architectures serve UDP
// over IPv4 ("udp") and IPv6 ("udp6"); see Datagrams.
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
// # Datagrams
//
// Over UDP a datagram is one message, and the reply is the transform of that
// datagram alone ([AppendUpper]: no carry between datagrams, so a rune cut
// between two datagrams comes back unchanged in both), sent back to the
// sender's address and port in one datagram. Replies go out in the order the
// server handles requests, which several goroutines or sockets may change.
//
//   - Size: a payload is at most [MaxDatagram4] (65,507) bytes over IPv4 and
//     [MaxDatagram6] (65,527) over IPv6, jumbograms aside. Servers receive
//     into 65,536-byte buffers, so every datagram UDP carries arrives whole.
//   - Truncation: a datagram that does not fit the receive buffer (MSG_TRUNC)
//     is counted (servers' Stats.Truncated) and answered with nothing. With
//     the buffers above it cannot happen; the counter guards the rule.
//   - Zero length: a zero-length datagram is answered with a zero-length
//     datagram.
//   - A reply too large for one datagram (the transform grows: 65,507 bytes
//     of ɐ become 98,260 of Ɐ) is not sent; it is counted as a send error.
//   - Loss: UDP does not retransmit. A request or reply may be dropped (the
//     receive queue of either side full, counted in the socket's drop
//     counter); the client decides whether to send again.
//
// Framing does not apply (each datagram is its own frame): a datagram server
// runs the default framing, raw, and no handler cost.
//
// # Handler cost
//
// In the framed modes a server may spend modelled work on every message
// before replying ([Work]): a CPU-bound busy loop, or a blocking sleep. Raw
// framing has no messages, so work is a configuration error there.
package protocol
