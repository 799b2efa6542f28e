//go:build !linux

package dgram

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
)

func setOptions(fd uintptr, rcvbuf, sndbuf int, reusePort bool) error {
	if rcvbuf > 0 {
		if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf); err != nil {
			return err
		}
	}
	if sndbuf > 0 {
		if err := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, sndbuf); err != nil {
			return err
		}
	}
	if reusePort {
		return errors.ErrUnsupported
	}
	return nil
}

// Buffers is Linux-only here.
func Buffers(c *net.UDPConn) (rcvbuf, sndbuf int) { return 0, 0 }

// BuffersFD is Linux-only here.
func BuffersFD(fd int) (rcvbuf, sndbuf int) { return 0, 0 }

// Drops reads /proc/net/udp, which only Linux has.
func Drops(addr netip.AddrPort) (int64, error) { return 0, errors.ErrUnsupported }
