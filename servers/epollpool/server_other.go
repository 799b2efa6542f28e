//go:build !linux

package epollpool

import (
	"errors"
	"fmt"

	"archbench/servers"
)

// NewServer needs Linux: the loop runs on epoll(7) and wakes on eventfd(2).
func NewServer(cfg servers.Config) (servers.Server, error) {
	return nil, fmt.Errorf("epollpool: %w", errors.ErrUnsupported)
}
