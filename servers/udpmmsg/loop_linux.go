package udpmmsg

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/dgram"
)

func available() error { return nil }

// mmsghdr is struct mmsghdr of <sys/socket.h>: a message header and the
// byte count the kernel fills in (the struct's size rounds up to the
// header's alignment, as C's does).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// batch is one loop's memory, allocated once: Batch receive buffers, the
// senders' addresses, and the headers of both directions.
type batch struct {
	bufs  [Batch][dgram.BufSize]byte
	names [Batch]unix.RawSockaddrAny
	riov  [Batch]unix.Iovec
	rhdr  [Batch]mmsghdr
	siov  [Batch]unix.Iovec
	shdr  [Batch]mmsghdr
	offs  [Batch + 1]int // replies' bounds in out
	out   []byte         // the replies of one batch, back to back

	// The system calls, made once so that no call allocates a closure,
	// with their arguments and results.
	recvmmsg, sendmmsg func(fd uintptr) bool
	got, from, upto    int
	errno              unix.Errno
	calls              int64
}

func newBatch() *batch {
	b := &batch{out: make([]byte, 0, 2*dgram.BufSize)}
	b.recvmmsg = func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdr[0])), Batch, 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		b.got, b.errno = int(r), e
		return true
	}
	b.sendmmsg = func(fd uintptr) bool {
		b.calls++
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.shdr[b.from])), uintptr(b.upto-b.from), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		b.got, b.errno = int(r), e
		return true
	}
	for i := range Batch {
		b.riov[i].Base = &b.bufs[i][0]
		b.riov[i].SetLen(dgram.BufSize)
		b.rhdr[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.rhdr[i].hdr.Iov = &b.riov[i]
		b.rhdr[i].hdr.SetIovlen(1)
	}
	return b
}

// serve is the loop of one socket: receive a batch, transform each
// datagram, send the replies as one batch, until the server stops.
func serve(s *dgram.Server, c *net.UDPConn, l *dgram.Loop) {
	rc, err := c.SyscallConn()
	if err != nil {
		s.Log.Error("no raw socket", "err", err)
		return
	}
	b := newBatch()
	var backoff servers.Backoff
	for {
		n, err := b.receive(rc)
		if err != nil {
			if !s.ReadFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff.Reset()
		l.Datagrams.Add(int64(n))
		replies := b.transform(n, l)
		ok, calls := b.send(rc, replies, s, l)
		s.CountSyscalls(1 + calls)
		if !ok {
			return
		}
	}
}

// receive waits for the socket to be readable and takes up to Batch
// datagrams with one recvmmsg (calls that found the socket empty are not
// counted in Stats.Syscalls).
func (b *batch) receive(rc interface {
	Read(func(uintptr) bool) error
}) (int, error) {
	for i := range Batch {
		b.rhdr[i].hdr.Namelen = unix.SizeofSockaddrAny
		b.rhdr[i].hdr.Flags = 0
		b.riov[i].SetLen(dgram.BufSize)
	}
	b.got, b.errno = 0, 0
	if err := rc.Read(b.recvmmsg); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	return b.got, nil
}

// transform builds the reply headers of the n received datagrams: a
// truncated one is counted and gets none. It returns the reply count.
func (b *batch) transform(n int, l *dgram.Loop) int {
	b.out = b.out[:0]
	k := 0
	var to [Batch]int // received index of each reply
	for i := range n {
		h := &b.rhdr[i]
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			l.Truncated.Add(1)
			continue
		}
		b.offs[k] = len(b.out)
		b.out = protocol.AppendUpper(b.out, b.bufs[i][:h.len])
		to[k] = i
		k++
	}
	b.offs[k] = len(b.out)
	// out is final now: point the iovecs into it.
	for j := range k {
		i := to[j]
		p := b.out[b.offs[j]:b.offs[j+1]]
		b.siov[j] = unix.Iovec{}
		if len(p) > 0 {
			b.siov[j].Base = &p[0]
		}
		b.siov[j].SetLen(len(p))
		b.shdr[j] = mmsghdr{}
		b.shdr[j].hdr.Name = b.rhdr[i].hdr.Name
		b.shdr[j].hdr.Namelen = b.rhdr[i].hdr.Namelen
		b.shdr[j].hdr.Iov = &b.siov[j]
		b.shdr[j].hdr.SetIovlen(1)
	}
	return k
}

// send sends the k replies with as few sendmmsg calls as the kernel
// allows; a reply it refuses is counted and skipped. It reports false
// when the socket was closed under it (a stop whose context ended), and
// the sendmmsg calls made.
func (b *batch) send(rc interface {
	Write(func(uintptr) bool) error
}, k int, s *dgram.Server, l *dgram.Loop) (ok bool, calls int64) {
	b.calls = 0
	for i := 0; i < k; {
		b.from, b.upto, b.got, b.errno = i, k, 0, 0
		if err := rc.Write(b.sendmmsg); err != nil {
			s.SendFailed(err, netip.AddrPort{}, l)
			return false, b.calls
		}
		if b.errno != 0 {
			// The first message of the call failed: skip it.
			s.SendFailed(b.errno, b.addr(i), l)
			i++
			continue
		}
		l.Replies.Add(int64(b.got))
		i += b.got
	}
	return true, b.calls
}

// addr is reply i's destination, for the log.
func (b *batch) addr(i int) netip.AddrPort {
	sa := (*unix.RawSockaddrAny)(unsafe.Pointer(b.shdr[i].hdr.Name))
	switch sa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := uint16(p.Port>>8 | p.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := uint16(p.Port>>8 | p.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), port)
	}
	return netip.AddrPort{}
}
