//go:build !linux

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
)

func raiseFDLimit(int) error { return nil }

func run(context.Context, Config, net.Addr, *messageSet) (*Result, error) {
	return nil, fmt.Errorf("loadgen: the load generator needs Linux (epoll): %w", errors.ErrUnsupported)
}
