package uring

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux
// 5.19): a group of equal buffers the kernel picks from when data arrives
// for a request marked IOSQE_BUFFER_SELECT, so that no buffer is tied to a
// connection that is waiting. The ring and the buffers are mapped by this
// package, outside the Go heap: the garbage collector never moves or frees
// memory the kernel may write.
//
// The program owns a buffer from the completion that names it until it
// hands it back with Recycle; Publish makes the recycled buffers visible to
// the kernel with a release store of the ring's tail.
type BufRing struct {
	r       *Ring
	group   uint16
	mask    uint16
	size    int
	ring    []byte // entries × struct io_uring_buf; the tail overlays entry 0's resv
	bufs    []byte // entries × size
	entries []bufEntry
	tail    uint16 // local tail: entries written, published by Publish
	// tailWord is the 32-bit word holding entry 0's bid and the shared
	// tail: Go has no 16-bit atomic store, so Publish stores both halves,
	// entry 0's bid unchanged.
	tailWord *uint32
	closed   bool
}

// NewBufRing registers a buffer ring of entries buffers (a power of two
// up to 32768) of size bytes each as buffer group group, every buffer
// given to the kernel.
func (r *Ring) NewBufRing(group uint16, entries, size int) (*BufRing, error) {
	if entries < 1 || entries > maxEntries || bits.OnesCount(uint(entries)) != 1 || size < 1 {
		return nil, fmt.Errorf("uring: buffer ring of %d×%d bytes: want a power of two up to %d buffers: %w", entries, size, maxEntries, unix.EINVAL)
	}
	b := &BufRing{r: r, group: group, mask: uint16(entries - 1), size: size}
	var err error
	if b.ring, err = mmapAnon(entries * int(unsafe.Sizeof(bufEntry{}))); err != nil {
		return nil, fmt.Errorf("uring: buffer ring: %w", err)
	}
	if b.bufs, err = mmapAnon(entries * size); err != nil {
		_ = unix.Munmap(b.ring)
		return nil, fmt.Errorf("uring: buffers: %w", err)
	}
	b.entries = unsafe.Slice((*bufEntry)(unsafe.Pointer(&b.ring[0])), entries)
	b.tailWord = (*uint32)(unsafe.Pointer(&b.entries[0].bid))
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ring[0]))), ringEntries: uint32(entries), bgid: group}
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		_ = unix.Munmap(b.ring)
		_ = unix.Munmap(b.bufs)
		if err == unix.EINVAL {
			return nil, fmt.Errorf("%w: register buffer ring: %v (needs Linux 5.19)", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("uring: register buffer ring: %w", err)
	}
	for id := range entries {
		b.Recycle(uint16(id))
	}
	b.Publish()
	return b, nil
}

func mmapAnon(size int) ([]byte, error) {
	return unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

// Group is the buffer group ID to select from (SQE.BufGroup).
func (b *BufRing) Group() uint16 { return b.group }

// Size is the size of each buffer.
func (b *BufRing) Size() int { return b.size }

// Buf is buffer id's first n bytes, as a completion that names it filled
// them. It aliases memory the kernel writes again once the buffer is
// recycled and published.
func (b *BufRing) Buf(id uint16, n int) []byte {
	off := int(id&b.mask) * b.size
	return b.bufs[off : off+n : off+b.size]
}

// Recycle hands buffer id back to the kernel at the next Publish.
func (b *BufRing) Recycle(id uint16) {
	e := &b.entries[b.tail&b.mask]
	off := int(id&b.mask) * b.size
	e.addr = uint64(uintptr(unsafe.Pointer(&b.bufs[off])))
	e.len = uint32(b.size)
	e.bid = id
	b.tail++
}

// Publish makes the recycled buffers visible to the kernel.
func (b *BufRing) Publish() {
	// Entry 0's bid is only ever written by this program, and only while
	// the kernel does not own entry 0; storing it back unchanged next to
	// the new tail is safe. The [2]uint16 keeps the layout right on
	// either byte order.
	word := [2]uint16{b.entries[0].bid, b.tail}
	atomic.StoreUint32(b.tailWord, *(*uint32)(unsafe.Pointer(&word)))
}

// Close unregisters the group, after which the kernel can pick none of its
// buffers, and then unmaps them. If unregistering fails the memory stays
// mapped: unmapping it could let the kernel write into memory reused for
// something else.
func (b *BufRing) Close() error {
	if b.closed {
		return ErrClosed
	}
	b.closed = true
	reg := bufReg{bgid: b.group}
	if err := b.r.register(unregisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		return fmt.Errorf("uring: unregister buffer ring: %w", err)
	}
	_ = unix.Munmap(b.ring)
	_ = unix.Munmap(b.bufs)
	b.ring, b.bufs, b.entries, b.tailWord = nil, nil, nil, nil
	return nil
}
