// Package msgbatch holds framed messages copied out of one connection's
// input, for the architectures that hand messages to a worker pool
// (gnet-pool, epoll-pool). Adding, reading and moving a message allocate
// nothing once the buffers have grown.
package msgbatch

// KeepCap: a drained buffer larger than this is dropped rather than kept,
// so a once-busy idle connection does not pin megabytes.
const KeepCap = 256 << 10

// Keep returns p emptied, or nil if its capacity is over KeepCap, so that
// one burst does not pin a large buffer to an idle connection.
func Keep(p []byte) []byte {
	if cap(p) > KeepCap {
		return nil
	}
	return p[:0]
}

// Batch is messages in order; those before head have been taken. The zero
// Batch is empty.
type Batch struct {
	data []byte // message bodies back to back
	ends []int  // ends[i] is where message i ends in data
	head int
}

// Add copies msg to the end of b.
func (b *Batch) Add(msg []byte) {
	b.data = append(b.data, msg...)
	b.ends = append(b.ends, len(b.data))
}

// Empty reports whether every message has been taken.
func (b *Batch) Empty() bool { return b.head == len(b.ends) }

// Len is the number of messages not yet taken.
func (b *Batch) Len() int { return len(b.ends) - b.head }

// Msg returns message i of those not yet taken; it aliases b's buffer.
func (b *Batch) Msg(i int) []byte {
	i += b.head
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start:b.ends[i]]
}

// Size is the memory b holds, taken messages and the message index
// included, so that a flood of empty messages counts too.
func (b *Batch) Size() int { return len(b.data) + 8*len(b.ends) }

// Pending is the memory the messages not yet taken hold, their index
// included.
func (b *Batch) Pending() int {
	if b.Empty() {
		return 0
	}
	start := 0
	if b.head > 0 {
		start = b.ends[b.head-1]
	}
	return len(b.data) - start + 8*(len(b.ends)-b.head)
}

// MoveFirst moves b's first message not yet taken to the end of dst; b
// must not be empty.
func (b *Batch) MoveFirst(dst *Batch) {
	dst.Add(b.Msg(0))
	if b.head++; b.Empty() {
		b.Reset()
	}
}

// Reset empties b, dropping buffers a burst made large.
func (b *Batch) Reset() {
	b.data, b.ends, b.head = Keep(b.data), b.ends[:0], 0
	if cap(b.ends) > KeepCap/8 {
		b.ends = nil
	}
}
