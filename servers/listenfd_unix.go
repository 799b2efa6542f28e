//go:build unix

package servers

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// RawListener is a listening socket as a bare non-blocking file descriptor,
// for the hand-written event loops. It is bound by the net package (so
// address parsing and socket options match every other server) and then
// detached from Go's runtime poller.
type RawListener struct {
	FD   int
	Addr net.Addr
	path string // unix socket file to remove on Close
}

// ListenRaw binds cfg's address and returns the socket as a raw fd.
func ListenRaw(cfg Config) (*RawListener, error) {
	ln, err := Listen(cfg)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	var rc syscall.RawConn
	switch l := ln.(type) {
	case *net.TCPListener:
		rc, err = l.SyscallConn()
	case *net.UnixListener:
		l.SetUnlinkOnClose(false)
		rc, err = l.SyscallConn()
	default:
		return nil, fmt.Errorf("servers: cannot take the fd of a %T", ln)
	}
	if err != nil {
		return nil, fmt.Errorf("servers: listener fd: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("servers: listener fd: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("servers: dup listener: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("servers: listener non-blocking: %w", err)
	}
	r := &RawListener{FD: fd, Addr: ln.Addr()}
	if cfg.Network == "unix" {
		r.path = cfg.Addr
	}
	return r, nil
}

// Close closes the socket and removes a unix socket's file.
func (r *RawListener) Close() error {
	err := unix.Close(r.FD)
	if r.path != "" {
		_ = os.Remove(r.path)
	}
	return err
}
