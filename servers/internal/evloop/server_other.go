//go:build !linux

package evloop

import (
	"errors"
	"fmt"

	"archbench/servers"
)

// NewServer needs Linux: the loop uses accept4(2) and eventfd(2).
func NewServer(cfg servers.Config, newPoller func() (Poller, error)) (servers.Server, error) {
	return nil, fmt.Errorf("evloop: %w", errors.ErrUnsupported)
}
