//go:build !linux

package iouring

import (
	"errors"
	"fmt"

	"archbench/servers"
)

// NewServer needs Linux: io_uring is a Linux interface.
func NewServer(cfg servers.Config, o Options) (servers.Server, error) {
	return nil, fmt.Errorf("iouring: %w", errors.ErrUnsupported)
}
