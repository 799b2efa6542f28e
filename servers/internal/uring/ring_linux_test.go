package uring

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing sets up a small ring for a test, or skips the test where
// io_uring is unavailable (that path has its own test).
func newRing(t testing.TB, o Options) *Ring {
	t.Helper()
	if o.Entries == 0 {
		o.Entries = 8
	}
	r, err := New(o)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestLayout pins the structures to the sizes of the kernel's UAPI header.
func TestLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), 16},
		{"io_uring_params", unsafe.Sizeof(Params{}), 120},
		{"io_sqring_offsets", unsafe.Sizeof(sqringOffsets{}), 40},
		{"io_cqring_offsets", unsafe.Sizeof(cqringOffsets{}), 40},
		{"io_uring_getevents_arg", unsafe.Sizeof(getEventsArg{}), 24},
		{"__kernel_timespec", unsafe.Sizeof(kernelTimespec{}), 16},
		{"io_uring_probe_op", unsafe.Sizeof(probeOp{}), 8},
		{"io_uring_probe (256 ops)", unsafe.Sizeof(probe{}), 16 + 256*8},
		{"io_uring_buf", unsafe.Sizeof(bufEntry{}), 16},
		{"io_uring_buf_reg", unsafe.Sizeof(bufReg{}), 40},
	} {
		if c.got != c.want {
			t.Errorf("sizeof(struct %s) = %d, want %d", c.name, c.got, c.want)
		}
	}
	if off := unsafe.Offsetof(SQE{}.UserData); off != 32 {
		t.Errorf("offsetof(io_uring_sqe, user_data) = %d, want 32", off)
	}
	if off := unsafe.Offsetof(SQE{}.BufGroup); off != 40 {
		t.Errorf("offsetof(io_uring_sqe, buf_group) = %d, want 40", off)
	}
}

func TestNopCompletes(t *testing.T) {
	r := newRing(t, Options{})
	if r.Features()&FeatSingleMmap == 0 {
		t.Logf("kernel without IORING_FEAT_SINGLE_MMAP: two ring mappings")
	}
	t.Logf("features: %v", r.Features())
	const n = 5
	for i := range n {
		sqe := r.GetSQE()
		if sqe == nil {
			t.Fatalf("GetSQE %d: queue full", i)
		}
		sqe.PrepNop()
		sqe.UserData = 100 + uint64(i)
	}
	if got := r.Pending(); got != n {
		t.Fatalf("Pending = %d, want %d", got, n)
	}
	before := r.Syscalls()
	submitted, err := r.SubmitAndWait(n, time.Second)
	if err != nil {
		t.Fatalf("SubmitAndWait: %v", err)
	}
	if submitted != n {
		t.Fatalf("submitted %d, want %d", submitted, n)
	}
	if d := r.Syscalls() - before; d != 1 {
		t.Errorf("Syscalls grew by %d for one SubmitAndWait, want 1", d)
	}
	cqes := r.Reap(nil)
	if len(cqes) != n {
		t.Fatalf("reaped %d completions, want %d", len(cqes), n)
	}
	for i, c := range cqes {
		if c.UserData != 100+uint64(i) || c.Res != 0 {
			t.Errorf("completion %d = %+v, want user_data %d res 0", i, c, 100+i)
		}
	}
	if r.Ready() != 0 {
		t.Errorf("Ready = %d after Reap, want 0", r.Ready())
	}
}

// TestSingleIssuer sets a ring up as the io_uring server does, held to one
// thread with deferred task work, and completes a no-op on it.
func TestSingleIssuer(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := New(Options{Entries: 8, Flags: SetupSingleIssuer | SetupDeferTaskrun})
		if errors.Is(err, unix.EINVAL) || errors.Is(err, ErrUnavailable) {
			t.Logf("kernel without single_issuer/defer_taskrun (Linux 6.1): %v", err)
			return
		}
		if err != nil {
			t.Errorf("New: %v", err)
			return
		}
		defer r.Close()
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.UserData = 42
		if _, err := r.SubmitAndWait(1, time.Second); err != nil {
			t.Errorf("SubmitAndWait: %v", err)
			return
		}
		if cqes := r.Reap(nil); len(cqes) != 1 || cqes[0].UserData != 42 {
			t.Errorf("completions %+v, want one with user_data 42", cqes)
		}
		if r.Flags()&SetupDeferTaskrun == 0 {
			t.Errorf("Flags() = %v, want defer_taskrun", r.Flags())
		}
	}()
	<-done
}

// TestQueueFull fills the submission queue, then submits and reuses it
// more than once around the ring.
func TestQueueFull(t *testing.T) {
	r := newRing(t, Options{Entries: 4})
	total := 0
	for round := range 3 {
		for r.GetSQE() != nil {
			total++
		}
		if p := r.Pending(); p != 4 {
			t.Fatalf("round %d: Pending = %d with a full queue of 4", round, p)
		}
		if _, err := r.Submit(); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	var got []CQE
	for deadline := time.Now().Add(5 * time.Second); len(got) < total && time.Now().Before(deadline); {
		if _, err := r.SubmitAndWait(1, 100*time.Millisecond); err != nil {
			t.Fatalf("SubmitAndWait: %v", err)
		}
		got = r.Reap(got)
	}
	if len(got) != total {
		t.Fatalf("reaped %d completions of %d no-ops", len(got), total)
	}
}

// TestWaitTimeout: a wait with nothing in flight returns after its timeout,
// without error (IORING_ENTER_EXT_ARG).
func TestWaitTimeout(t *testing.T) {
	r := newRing(t, Options{})
	if r.Features()&FeatExtArg == 0 {
		t.Skip("kernel without IORING_FEAT_EXT_ARG")
	}
	const wait = 30 * time.Millisecond
	t0 := time.Now()
	if _, err := r.SubmitAndWait(1, wait); err != nil {
		t.Fatalf("SubmitAndWait: %v", err)
	}
	if d := time.Since(t0); d < wait/2 || d > 5*time.Second {
		t.Errorf("a wait of %v took %v", wait, d)
	}
}

func TestProbe(t *testing.T) {
	r := newRing(t, Options{})
	p, err := r.Probe()
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if !p.Supports(OpNop) {
		t.Errorf("probe says nop is unsupported: %v", p)
	}
	if p.Last() < OpRecv {
		t.Errorf("last opcode %d, below recv (%d) which every kernel with probing has", p.Last(), OpRecv)
	}
	if p.Supports(Op(255)) {
		t.Errorf("probe claims opcode 255")
	}
	t.Logf("probe: %v", p)
}

// TestBufRing registers a buffer ring, receives into it from a socket
// pair, recycles the buffer and unregisters.
func TestBufRing(t *testing.T) {
	r := newRing(t, Options{})
	b, err := r.NewBufRing(7, 4, 64)
	if err != nil {
		t.Fatalf("NewBufRing: %v", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	seen := map[uint16]bool{}
	for i := range 6 { // more receives than buffers: recycling must work
		msg := []byte{'a' + byte(i), 'b', 'c'}
		if _, err := unix.Write(fds[1], msg); err != nil {
			t.Fatal(err)
		}
		sqe := r.GetSQE()
		sqe.PrepRecvSelect(fds[0], b.Group(), false)
		sqe.UserData = 1
		if _, err := r.SubmitAndWait(1, 5*time.Second); err != nil {
			t.Fatalf("SubmitAndWait: %v", err)
		}
		cqes := r.Reap(nil)
		if len(cqes) != 1 || cqes[0].Res != int32(len(msg)) {
			t.Fatalf("receive %d: completions %+v, want one with res %d", i, cqes, len(msg))
		}
		id, ok := cqes[0].BufferID()
		if !ok {
			t.Fatalf("receive %d: completion names no buffer: %+v", i, cqes[0])
		}
		seen[id] = true
		if got := b.Buf(id, int(cqes[0].Res)); string(got) != string(msg) {
			t.Fatalf("receive %d: buffer %d holds %q, want %q", i, id, got, msg)
		}
		b.Recycle(id)
		b.Publish()
	}
	t.Logf("buffers used: %v", seen)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	// Unregistered: a receive that selects from the group finds no buffer.
	if _, err := unix.Write(fds[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	sqe := r.GetSQE()
	sqe.PrepRecvSelect(fds[0], 7, false)
	if _, err := r.SubmitAndWait(1, 5*time.Second); err != nil {
		t.Fatalf("SubmitAndWait: %v", err)
	}
	if cqes := r.Reap(nil); len(cqes) != 1 || cqes[0].Res != -int32(unix.ENOBUFS) {
		t.Errorf("receive after unregistering: %+v, want res -ENOBUFS", cqes)
	}
}

// TestUnavailable forces the setup failures that mean io_uring is off here
// and checks the error: ErrUnavailable, the errno, and one line.
func TestUnavailable(t *testing.T) {
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		_, err := New(Options{Entries: 8, Setup: func(uint32, *Params) (int, error) { return -1, errno }})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errno) && !strings.Contains(err.Error(), errno.Error()) {
			t.Errorf("setup failing with %v: New = %v, want ErrUnavailable naming it", errno, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") {
			t.Errorf("error is more than one line: %q", msg)
		}
		t.Logf("%v: %v", errno, err)
	}
	// Other failures are not "unavailable".
	_, err := New(Options{Entries: 8, Setup: func(uint32, *Params) (int, error) { return -1, unix.ENOMEM }})
	if err == nil || errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.ENOMEM) {
		t.Errorf("setup failing with ENOMEM: New = %v, want an ENOMEM error that is not ErrUnavailable", err)
	}
}

func TestBadSizes(t *testing.T) {
	for _, n := range []uint32{0, 3, maxEntries * 2} {
		if _, err := New(Options{Entries: n}); !errors.Is(err, unix.EINVAL) {
			t.Errorf("New(%d entries) = %v, want EINVAL", n, err)
		}
	}
	r := newRing(t, Options{})
	if _, err := r.NewBufRing(1, 3, 64); !errors.Is(err, unix.EINVAL) {
		t.Errorf("NewBufRing(3 buffers) = %v, want EINVAL", err)
	}
}

func TestCloseTwice(t *testing.T) {
	r := newRing(t, Options{})
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit on a closed ring = %v, want ErrClosed", err)
	}
	if sqe := r.GetSQE(); sqe != nil {
		t.Errorf("GetSQE on a closed ring gave an SQE")
	}
	if cqes := r.Reap(nil); len(cqes) != 0 {
		t.Errorf("Reap on a closed ring gave %d completions", len(cqes))
	}
}

func TestFlagNames(t *testing.T) {
	if got := (FeatSingleMmap | FeatExtArg | Features(1<<20)).String(); got != "single_mmap,ext_arg,bit20" {
		t.Errorf("Features.String = %q", got)
	}
	if got := (SetupSingleIssuer | SetupDeferTaskrun).String(); got != "single_issuer,defer_taskrun" {
		t.Errorf("SetupFlags.String = %q", got)
	}
}
