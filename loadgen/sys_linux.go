package loadgen

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// raiseFDLimit raises the RLIMIT_NOFILE soft limit to the hard limit and
// reports ErrFDLimit when need descriptors still do not fit.
func raiseFDLimit(need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("loadgen: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	if uint64(need) > lim.Cur {
		return fmt.Errorf("%w: %d connections need about %d descriptors, but RLIMIT_NOFILE allows %d (hard limit %d); lower --conns or raise the hard limit (ulimit -Hn)",
			ErrFDLimit, need-fdSlack, need, lim.Cur, lim.Max)
	}
	return nil
}

// endpoint is what an event loop needs to open a socket to the server. Each
// event loop has its own, because unix.Connect writes into the Sockaddr.
type endpoint struct {
	family int
	tcp    bool
	sa     unix.Sockaddr
}

func newEndpoint(a net.Addr) (endpoint, error) {
	switch a := a.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			sa := &unix.SockaddrInet4{Port: a.Port}
			copy(sa.Addr[:], ip4)
			return endpoint{family: unix.AF_INET, tcp: true, sa: sa}, nil
		}
		sa := &unix.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], a.IP.To16())
		if a.Zone != "" {
			if ifi, err := net.InterfaceByName(a.Zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return endpoint{family: unix.AF_INET6, tcp: true, sa: sa}, nil
	case *net.UnixAddr:
		return endpoint{family: unix.AF_UNIX, sa: &unix.SockaddrUnix{Name: a.Name}}, nil
	}
	return endpoint{}, fmt.Errorf("%w: cannot connect to a %T", ErrConfig, a)
}

// The raw calls below are for non-blocking descriptors only: they never
// block, so they skip the runtime's syscall bookkeeping. They call
// syscall.RawSyscall6 directly, two call layers fewer than unix.RawSyscall.

func rawRead(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(r), e
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return int(r), e
}

// pollNow is epoll_wait with a zero timeout.
func pollNow(epfd int, evs []unix.EpollEvent) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	return int(r), e
}

// pollWait is epoll_pwait2 (nanosecond timeout); it reports ENOSYS on
// kernels before 5.11.
func pollWait(epfd int, evs []unix.EpollEvent, ts *unix.Timespec) (int, syscall.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(ts)), 0, 0)
	return int(r), e
}

func pollWaitRaw(epfd int, evs []unix.EpollEvent, ts *unix.Timespec) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(ts)), 0, 0)
	return int(r), e
}
