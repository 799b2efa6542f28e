package eviosrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"archbench/servers/internal/dgram"
)

// openFDs counts this process's open descriptors.
func openFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	return len(ents) - 1, nil // less the one that read the directory
}

// setListenerNoDelay sets TCP_NODELAY on the listening socket bound to a,
// found among this process's descriptors: evio does not hand out its
// listener, and accepted sockets inherit the option from it.
func setListenerNoDelay(a *net.TCPAddr) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	found := false
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil || !sameAddr(sa, a) {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fmt.Errorf("setsockopt fd %d: %w", fd, err)
		}
		found = true
	}
	if !found {
		return errors.New("no listening socket bound to " + a.String())
	}
	return nil
}

func sameAddr(sa unix.Sockaddr, a *net.TCPAddr) bool {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return s.Port == a.Port && net.IP(s.Addr[:]).Equal(a.IP)
	case *unix.SockaddrInet6:
		return s.Port == a.Port && net.IP(s.Addr[:]).Equal(a.IP)
	}
	return false
}

// setDatagramBuffers finds evio's UDP socket bound to a among this
// process's descriptors (evio does not hand it out), sets the buffer sizes
// asked for (0 = leave the default) and returns those the kernel granted.
func setDatagramBuffers(a *net.UDPAddr, rcvbuf, sndbuf int) (gotRcv, gotSnd int, err error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || v != unix.SOCK_DGRAM {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil || !sameAddr(sa, &net.TCPAddr{IP: a.IP, Port: a.Port}) {
			continue
		}
		if rcvbuf > 0 {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
				return 0, 0, fmt.Errorf("SO_RCVBUF on fd %d: %w", fd, err)
			}
		}
		if sndbuf > 0 {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); err != nil {
				return 0, 0, fmt.Errorf("SO_SNDBUF on fd %d: %w", fd, err)
			}
		}
		gotRcv, gotSnd = dgram.BuffersFD(fd)
		return gotRcv, gotSnd, nil
	}
	return 0, 0, errors.New("no UDP socket bound to " + a.String())
}
