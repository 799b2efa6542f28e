package dgram

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setOptions sets the buffer sizes asked for (0 = leave the default) and
// SO_REUSEPORT before the socket is bound.
func setOptions(fd uintptr, rcvbuf, sndbuf int, reusePort bool) error {
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			return fmt.Errorf("SO_RCVBUF %d: %w", rcvbuf, err)
		}
	}
	if sndbuf > 0 {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); err != nil {
			return fmt.Errorf("SO_SNDBUF %d: %w", sndbuf, err)
		}
	}
	if reusePort {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", err)
		}
	}
	return nil
}

// Buffers returns the receive and send buffer sizes the kernel granted c
// (0 where getsockopt fails).
func Buffers(c *net.UDPConn) (rcvbuf, sndbuf int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0
	}
	_ = rc.Control(func(fd uintptr) { rcvbuf, sndbuf = BuffersFD(int(fd)) })
	return rcvbuf, sndbuf
}

// BuffersFD is Buffers of a socket descriptor.
func BuffersFD(fd int) (rcvbuf, sndbuf int) {
	rcvbuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	sndbuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	return rcvbuf, sndbuf
}

// Drops sums the kernel's drop counter (the last column of /proc/net/udp
// and udp6) of every UDP socket of this network namespace bound to exactly
// addr: the socket, or each of a SO_REUSEPORT group. A datagram is counted
// there when it arrived and the socket's receive queue was full.
func Drops(addr netip.AddrPort) (int64, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	var sum int64
	found := false
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		d, n, err := dropsIn(file, addr)
		if err != nil {
			return 0, err
		}
		sum += d
		found = found || n > 0
	}
	if !found {
		return 0, fmt.Errorf("dgram: no socket bound to %v in /proc/net/udp, udp6", addr)
	}
	return sum, nil
}

// dropsIn sums the drops of the sockets of one /proc file bound to addr
// (unmapped) and says how many there were.
func dropsIn(file string, addr netip.AddrPort) (sum int64, n int, err error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil // no IPv6 in this kernel
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 {
			continue
		}
		local, err := parseProcAddr(fields[1])
		if err != nil || netip.AddrPortFrom(local.Addr().Unmap(), local.Port()) != addr {
			continue
		}
		d, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("dgram: %s: drops column %q: %v", file, fields[len(fields)-1], err)
		}
		sum += d
		n++
	}
	return sum, n, sc.Err()
}

// parseProcAddr parses /proc/net/udp's "0100007F:1B58": the address as
// 32-bit words in host byte order, in hex, and the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", p)
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a, uint16(port)), nil
}
