//go:build !linux

package evloop

import (
	"errors"
	"fmt"
)

// NewSelect, NewPoll and NewEpoll need Linux (epoll(7) is Linux-only, and
// the loop uses accept4(2) and eventfd(2)).
func NewSelect() (Poller, error) { return nil, fmt.Errorf("evloop: select: %w", errors.ErrUnsupported) }
func NewPoll() (Poller, error)   { return nil, fmt.Errorf("evloop: poll: %w", errors.ErrUnsupported) }
func NewEpoll() (Poller, error)  { return nil, fmt.Errorf("evloop: epoll: %w", errors.ErrUnsupported) }
