//go:build !linux

package udpmmsg

import (
	"fmt"
	"net"

	"archbench/servers"
	"archbench/servers/internal/dgram"
)

func available() error {
	return fmt.Errorf("udp-mmsg: recvmmsg and sendmmsg are Linux system calls: %w", servers.ErrUnavailable)
}

func serve(*dgram.Server, *net.UDPConn, *dgram.Loop) {}
