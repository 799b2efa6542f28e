//go:build !linux

package loadgen

import (
	"context"
	"errors"
	"fmt"
)

func raiseFDLimit(int) error { return nil }

func run(context.Context, Config, *targets, *messageSet) (*Result, error) {
	return nil, fmt.Errorf("loadgen: the load generator needs Linux (epoll): %w", errors.ErrUnsupported)
}
