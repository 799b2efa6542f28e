//go:build unix

package loopgroup

import (
	"net/netip"

	"golang.org/x/sys/unix"
)

// Peer formats a socket address for a loop's log lines.
func Peer(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		if a.Name == "" {
			return "unix"
		}
		return a.Name
	}
	return "unknown"
}
