package uring

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options says how to set a ring up.
type Options struct {
	// Entries is the submission queue size: a power of two, 1 to 32768.
	Entries uint32
	// CQEntries is the completion queue size (0: twice Entries, the
	// kernel's default); a power of two at least Entries.
	CQEntries uint32
	// Flags are extra IORING_SETUP_* flags (SetupCQSize is added when
	// CQEntries is set).
	Flags SetupFlags
	// Setup is the io_uring_setup(2) call; nil means the real one. Tests
	// inject failures through it.
	Setup func(entries uint32, p *Params) (fd int, err error)
}

// Ring is one io_uring instance: its descriptor, the shared submission and
// completion rings, and the SQE array. A Ring is used by one goroutine
// only; Syscalls may be read from any.
//
// Memory ordering follows liburing (src/queue.c, src/include/liburing.h):
// the program writes SQEs and then publishes them with a release store of
// the SQ tail, and reads the kernel's SQ head with an acquire load; it reads
// the CQ tail with an acquire load, then the CQEs, and hands them back with
// a release store of the CQ head. Go's sync/atomic operations are
// sequentially consistent, which is at least as strong.
type Ring struct {
	fd     int
	params Params

	sqRing, cqRing, sqeMem []byte // mmaps; cqRing aliases sqRing with FeatSingleMmap

	sqHead, sqTail, sqFlags *uint32 // shared with the kernel
	sqMask, sqEntries       uint32
	sqes                    []SQE
	sqeTail                 uint32 // SQEs handed out; published to *sqTail by enter

	cqHead, cqTail *uint32 // shared with the kernel
	cqMask         uint32
	cqes           []CQE

	// The IORING_ENTER_EXT_ARG argument lives here, not on the stack, so
	// that the pointer to the timespec inside it stays valid.
	arg getEventsArg
	ts  kernelTimespec

	enters atomic.Uint64
	closed bool
}

// New sets up a ring as o says. When io_uring cannot be used at all (ENOSYS,
// EPERM) the error wraps ErrUnavailable and says why in one line.
func New(o Options) (*Ring, error) {
	if o.Entries == 0 || o.Entries > maxEntries || bits.OnesCount32(o.Entries) != 1 {
		return nil, fmt.Errorf("uring: %d entries: want a power of two from 1 to %d: %w", o.Entries, maxEntries, unix.EINVAL)
	}
	r := &Ring{fd: -1}
	r.params.Flags = o.Flags
	if o.CQEntries != 0 {
		r.params.Flags |= SetupCQSize
		r.params.CQEntries = o.CQEntries
	}
	setup := o.Setup
	if setup == nil {
		setup = sysSetup
	}
	fd, err := setup(o.Entries, &r.params)
	if err != nil {
		return nil, setupError(err)
	}
	r.fd = fd
	if err := r.mmap(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func sysSetup(entries uint32, p *Params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// setupError wraps ErrUnavailable around the errors that mean io_uring
// is off here, with the reason in one line.
func setupError(err error) error {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: io_uring_setup: %v (a kernel without CONFIG_IO_URING, or a seccomp filter)", ErrUnavailable, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: io_uring_setup: %v (%s)", ErrUnavailable, err, disabledReason())
	}
	return fmt.Errorf("uring: io_uring_setup: %w", err)
}

// disabledReason explains an EPERM from io_uring_setup by the
// kernel.io_uring_disabled sysctl (Linux 6.6) when it is set.
func disabledReason() string {
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	switch v := strings.TrimSpace(string(b)); {
	case err != nil:
		return "a seccomp filter or security module"
	case v == "2":
		return "sysctl kernel.io_uring_disabled=2: off for every process"
	case v == "1":
		return "sysctl kernel.io_uring_disabled=1: only for CAP_SYS_ADMIN and the kernel.io_uring_group group"
	}
	return "kernel.io_uring_disabled=0, so a seccomp filter or security module"
}

// mmap maps the rings and the SQE array and points the shared fields at
// them. With FeatSingleMmap (Linux 5.4) one mapping holds both rings.
func (r *Ring) mmap() error {
	p := &r.params
	sqSize := int(p.sqOff.array + p.SQEntries*uint32(unsafe.Sizeof(uint32(0))))
	cqSize := int(p.cqOff.cqes + p.CQEntries*uint32(unsafe.Sizeof(CQE{})))
	single := p.Features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqRing, err = mmapRing(r.fd, offSQRing, sqSize); err != nil {
		return fmt.Errorf("uring: mmap SQ ring: %w", err)
	}
	if single {
		r.cqRing = r.sqRing
	} else if r.cqRing, err = mmapRing(r.fd, offCQRing, cqSize); err != nil {
		return fmt.Errorf("uring: mmap CQ ring: %w", err)
	}
	sqeSize := int(p.SQEntries) * int(unsafe.Sizeof(SQE{}))
	if r.sqeMem, err = mmapRing(r.fd, offSQEs, sqeSize); err != nil {
		return fmt.Errorf("uring: mmap SQEs: %w", err)
	}

	sq := unsafe.Pointer(&r.sqRing[0])
	r.sqHead = (*uint32)(unsafe.Add(sq, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(sq, p.sqOff.tail))
	r.sqFlags = (*uint32)(unsafe.Add(sq, p.sqOff.flags))
	r.sqMask = *(*uint32)(unsafe.Add(sq, p.sqOff.ringMask))
	r.sqEntries = *(*uint32)(unsafe.Add(sq, p.sqOff.ringEntries))
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), p.SQEntries)
	// The SQ array maps ring slots to SQE indexes; this package keeps
	// them equal, as liburing does, so it is filled once.
	array := unsafe.Slice((*uint32)(unsafe.Add(sq, p.sqOff.array)), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqeTail = atomic.LoadUint32(r.sqTail)

	cq := unsafe.Pointer(&r.cqRing[0])
	r.cqHead = (*uint32)(unsafe.Add(cq, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(cq, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(cq, p.cqOff.ringMask))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(cq, p.cqOff.cqes)), p.CQEntries)
	return nil
}

func mmapRing(fd int, off int64, size int) ([]byte, error) {
	return unix.Mmap(fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
}

// Close closes the ring's descriptor and unmaps the rings. The kernel
// cancels what is still in flight afterwards, asynchronously: memory a
// request still points at (a send's buffer) must outlive it, so cancel
// and reap first. Close a BufRing before its Ring. A second Close returns
// ErrClosed.
func (r *Ring) Close() error {
	if r.closed {
		return ErrClosed
	}
	r.closed = true
	var err error
	if r.fd >= 0 {
		err = unix.Close(r.fd)
	}
	if r.sqeMem != nil {
		_ = unix.Munmap(r.sqeMem)
	}
	if r.cqRing != nil && (r.sqRing == nil || &r.cqRing[0] != &r.sqRing[0]) {
		_ = unix.Munmap(r.cqRing)
	}
	if r.sqRing != nil {
		_ = unix.Munmap(r.sqRing)
	}
	r.sqeMem, r.cqRing, r.sqRing, r.sqes, r.cqes = nil, nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("uring: close: %w", err)
	}
	return nil
}

// FD is the ring's descriptor.
func (r *Ring) FD() int { return r.fd }

// Features are what the kernel said it does at setup.
func (r *Ring) Features() Features { return r.params.Features }

// Flags are the setup flags the ring was made with.
func (r *Ring) Flags() SetupFlags { return r.params.Flags }

// Entries are the SQ and CQ sizes the kernel gave the ring.
func (r *Ring) Entries() (sq, cq uint32) { return r.params.SQEntries, r.params.CQEntries }

// Syscalls counts the ring's io_uring_enter and io_uring_register calls;
// safe from any goroutine.
func (r *Ring) Syscalls() uint64 { return r.enters.Load() }

// GetSQE returns the next free SQE, zeroed, or nil if the submission queue
// is full (submit, then try again) or the ring is closed. It is sent at the next Submit or
// SubmitAndWait.
func (r *Ring) GetSQE() *SQE {
	if r.closed {
		return nil
	}
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	*sqe = SQE{}
	r.sqeTail++
	return sqe
}

// Pending is the number of SQEs prepared and not yet taken by the kernel.
func (r *Ring) Pending() uint32 {
	if r.closed {
		return 0
	}
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// Submit sends the prepared SQEs without waiting. It makes no system call
// when there are none.
func (r *Ring) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	n := r.Pending()
	if n == 0 {
		return 0, nil
	}
	return r.enter(n, 0, 0, nil)
}

// SubmitAndWait sends the prepared SQEs and waits until at least minComplete
// completions are ready or timeout has passed (negative: no timeout). A
// wait cut short by the timeout or a signal is no error: the caller reaps
// what is there and calls again. With SetupDeferTaskrun this is also where
// the kernel runs the ring's deferred work, so call it even with
// minComplete 0 to collect completions.
func (r *Ring) SubmitAndWait(minComplete uint32, timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	var arg unsafe.Pointer
	if timeout >= 0 {
		r.ts = kernelTimespec{sec: int64(timeout / time.Second), nsec: int64(timeout % time.Second)}
		r.arg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
		arg = unsafe.Pointer(&r.arg)
	}
	n, err := r.enter(r.Pending(), minComplete, enterGetEvents, arg)
	if errors.Is(err, unix.ETIME) || errors.Is(err, unix.EINTR) {
		return n, nil
	}
	return n, err
}

// enter is io_uring_enter(2). arg, if not nil, is an io_uring_getevents_arg
// (IORING_ENTER_EXT_ARG).
func (r *Ring) enter(toSubmit, minComplete, flags uint32, arg unsafe.Pointer) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	size := uintptr(0)
	if arg != nil {
		flags |= enterExtArg
		size = unsafe.Sizeof(getEventsArg{})
	}
	r.enters.Add(1)
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), uintptr(arg), size)
	if errno != 0 {
		return 0, fmt.Errorf("uring: io_uring_enter: %w", errno)
	}
	return int(n), nil
}

// Ready is the number of completions waiting in the CQ ring.
func (r *Ring) Ready() uint32 {
	if r.closed {
		return 0
	}
	return atomic.LoadUint32(r.cqTail) - *r.cqHead
}

// NeedsEnter reports whether the kernel holds completions that only an
// io_uring_enter with GETEVENTS brings into the CQ ring: an overflowed CQ
// or deferred task work.
func (r *Ring) NeedsEnter() bool {
	if r.closed {
		return false
	}
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

// Reap appends every completion ready now to dst and hands their slots
// back to the kernel.
func (r *Ring) Reap(dst []CQE) []CQE {
	if r.closed {
		return dst
	}
	head := *r.cqHead // only this program writes the head
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		dst = append(dst, r.cqes[head&r.cqMask])
	}
	atomic.StoreUint32(r.cqHead, head)
	return dst
}

// register is io_uring_register(2).
func (r *Ring) register(op uintptr, arg unsafe.Pointer, nr uintptr) error {
	if r.closed {
		return ErrClosed
	}
	r.enters.Add(1)
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), nr, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
