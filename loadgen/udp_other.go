//go:build !linux

package loadgen

import (
	"context"
	"errors"
	"fmt"
)

func runUDP(context.Context, Config) (*Result, error) {
	return nil, fmt.Errorf("loadgen: the UDP load generator needs Linux (epoll): %w", errors.ErrUnsupported)
}
