//go:build unix

package loadgen

import (
	"net"
	"syscall"
)

// probe reads c once without blocking (Go's own Read would wait, and with
// a past deadline it does not read at all).
func probe(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return probeError
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return probeError
	}
	var one [1]byte
	res := probeError
	err = rc.Read(func(fd uintptr) bool {
		n, err := syscall.Read(int(fd), one[:])
		switch {
		case err == syscall.EAGAIN:
			res = probeHeld
		case err != nil:
			res = probeError
		case n == 0:
			res = probeEOF
		default:
			res = probeData
		}
		return true // done, never wait for readiness
	})
	if err != nil {
		return probeError
	}
	return res
}
