package xmlrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"archbench/servers"
	rpc "archbench/xmlrpc"
)

// Arch describes the architecture; init registers it, and
// archbench/servers/all places it in the teaching order.
var Arch = servers.Arch{
	Name:     "xmlrpc",
	Summary:  "XML-RPC over HTTP/1.1 (net/http, keep-alive): upper, addtogether, quadratic, introspection, multicall",
	New:      New,
	Protocol: servers.ProtocolXMLRPC,
}

func init() { servers.Register(Arch) }

var _ servers.Server = (*Server)(nil)

// Paths served; anything else is 404.
var paths = []string{"/RPC2", "/"}

// MaxDepth and MaxElements bound every request document besides its size
// (Config.MaxMsg): the deepest document the methods need is a multicall of
// arrays (about 10 levels), and a multicall of thousands of calls stays
// under the element bound.
const (
	MaxDepth    = 64
	MaxElements = 1 << 18
)

// Server is the xmlrpc architecture.
type Server struct {
	servers.Core
	methods *Methods
	ln      net.Listener
	srv     *http.Server
	served  chan struct{} // closed when Serve returned

	mu    sync.Mutex
	conns map[net.Conn]bool // admitted connections, until closed
}

// New returns an unstarted XML-RPC server for cfg (defaults applied).
func New(cfg servers.Config) (servers.Server, error) {
	s := &Server{methods: NewMethods(cfg.Work), served: make(chan struct{}), conns: map[net.Conn]bool{}}
	s.InitCore(cfg)
	return s, nil
}

// Start implements servers.Server.
func (s *Server) Start() error {
	if s.srv != nil {
		return servers.ErrClosed
	}
	ln, err := servers.Listen(s.Cfg)
	if err != nil {
		return err
	}
	s.ln = &countingListener{Listener: ln, core: &s.Core}
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.HandleFunc(p, s.handle)
	}
	s.srv = &http.Server{
		Handler:     mux,
		IdleTimeout: s.Cfg.IdleTimeout,
		ReadTimeout: s.Cfg.IdleTimeout, // a request that makes no progress for this long is closed too
		ConnState:   s.connState,
		ErrorLog:    nil,
	}
	go func() {
		defer close(s.served)
		err := s.srv.Serve(s.ln)
		if !errors.Is(err, http.ErrServerClosed) {
			s.Stop(fmt.Errorf("%w: %w", servers.ErrStopped, err))
		}
	}()
	return nil
}

// Addr implements servers.Server.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown implements servers.Server: net/http's graceful Shutdown, which
// closes the listener, waits for every request in progress to be answered
// and closes the idle keep-alive connections; when ctx ends first, every
// connection is closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return servers.ErrClosed
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.served
	s.Stop(nil)
	return err
}

// connState keeps the shared counters: MaxConns admission and Active.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if !s.Admit() {
			_ = c.Close()
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		s.mu.Lock()
		admitted := s.conns[c]
		delete(s.conns, c)
		s.mu.Unlock()
		if admitted {
			s.Release()
		}
	}
}

// handle serves one POST: decode the call within the bounds, run it, write
// the response or the fault.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/RPC2" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "XML-RPC wants POST", http.StatusMethodNotAllowed)
		return
	}
	var out []byte
	if r.ContentLength > int64(s.Cfg.MaxMsg) {
		// Not read at all: the connection cannot be reused.
		w.Header().Set("Connection", "close")
		out = rpc.AppendFault(nil, rpc.Faultf(rpc.FaultTooLarge, "request body of %d bytes is over the server's max-msg of %d bytes", r.ContentLength, s.Cfg.MaxMsg))
	} else {
		out = s.respond(r)
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

func (s *Server) respond(r *http.Request) []byte {
	call, err := rpc.DecodeCall(r.Body, rpc.Limits{MaxBytes: s.Cfg.MaxMsg, MaxDepth: MaxDepth, MaxElements: MaxElements})
	if err == nil {
		var v any
		if v, err = s.methods.Call(call.Method, call.Params); err == nil {
			out, err := rpc.AppendResponse(make([]byte, 0, 256), v)
			if err == nil {
				return out
			}
			return rpc.AppendFault(nil, rpc.Faultf(rpc.FaultInternal, "%s: result cannot be encoded: %v", call.Method, err))
		}
	}
	f, ok := err.(*rpc.Fault)
	if !ok {
		f = rpc.Faultf(rpc.FaultInternal, "%v", err)
	}
	return rpc.AppendFault(nil, f)
}

// countingListener counts failed accepts in Stats; net/http backs off on
// temporary ones itself (5 ms doubling to 1 s, as the other architectures).
type countingListener struct {
	net.Listener
	core *servers.Core
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		l.core.AcceptFailed(err, 0)
	}
	return c, err
}
