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
		return fmt.Errorf("servers: %s exists and is not a socket; not removing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("servers: %s: a server is already listening there", path)
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
