package epollpool

import (
	"fmt"

	"archbench/servers"
	"archbench/servers/internal/evloop"
)

// Server is the epoll-pool architecture with framed messages: evloop's
// loops on epoll doing all socket I/O, handing the messages to one pool of
// Config.Workers goroutines that spend the handler work and build the
// replies.
type Server struct {
	*evloop.Server
	pool *pool
}

var _ servers.Server = (*Server)(nil)

// NewServer returns an unstarted epoll-pool server for cfg, which must
// have Line or Length framing (New sends Raw to the epoll architecture).
// cfg should have its defaults applied (servers.New does); zero Loops,
// Workers, OutCap and Logger are taken as their defaults anyway.
func NewServer(cfg servers.Config) (servers.Server, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = servers.DefaultWorkers
	}
	if err := cfg.Codec().Validate(); err != nil {
		return nil, fmt.Errorf("epollpool: %w", err)
	}
	p := newPool(cfg)
	s, err := evloop.New(cfg, evloop.Options{NewPoller: evloop.NewEpoll, Pool: p})
	if err != nil {
		return nil, fmt.Errorf("epollpool: %w", err)
	}
	return &Server{Server: s, pool: p}, nil
}
