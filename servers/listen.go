package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// ErrAddrInUse: a unix socket path is taken (a live server, or a file
// that is not a socket).
var ErrAddrInUse = errors.New("address in use")

// IsAddrError reports whether err, from a server's Start, is the
// address's own fault rather than the machine's or the server's: in use,
// not an address of this machine, a unix socket in a folder that does not
// exist or may not be written, a host that does not resolve, a malformed
// port. `archbench serve` makes it one line and exit 2.
func IsAddrError(err error) bool {
	var dns *net.DNSError
	var addr *net.AddrError
	for _, e := range []error{ErrAddrInUse, syscall.EADDRINUSE, syscall.EADDRNOTAVAIL, syscall.ENOENT, syscall.ENOTDIR, syscall.EACCES} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.As(err, &dns) || errors.As(err, &addr)
}

// Listen binds cfg's network and address. For unix sockets a stale socket
// file that nobody listens on is removed first; a live one is an error.
func Listen(cfg Config) (net.Listener, error) {
	if cfg.Network == "unix" {
		if err := removeStaleSocket(cfg.Addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(cfg.Network, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("servers: listen: %w", err)
	}
	return ln, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("servers: unix socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("servers: %s exists and is not a socket; not removing it: %w", path, ErrAddrInUse)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("servers: %s: a server is already listening there: %w", path, ErrAddrInUse)
	}
	return os.Remove(path)
}

// SetNoDelay turns on TCP_NODELAY where c is TCP; other sockets have no Nagle.
func SetNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
}

// ListenReusePort binds cfg's TCP address with SO_REUSEPORT set, so several
// listeners can share one port and the kernel spreads connections over them.
func ListenReusePort(cfg Config) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = setReusePort(fd)
		}); err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), cfg.Network, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("servers: listen with SO_REUSEPORT: %w", err)
	}
	return ln, nil
}
