//go:build !linux

package eviosrv

import (
	"errors"
	"net"
)

// Without /proc neither the descriptor count (for the EMFILE budget) nor
// evio's listener (for TCP_NODELAY) can be found.

func openFDs() (int, error) { return 0, errors.ErrUnsupported }

func setListenerNoDelay(*net.TCPAddr) error { return errors.ErrUnsupported }

func setDatagramBuffers(*net.UDPAddr, int, int) (int, int, error) { return 0, 0, errors.ErrUnsupported }
