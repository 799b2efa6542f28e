package evloop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"archbench/protocol"
	"archbench/servers"
	"archbench/servers/internal/testkit"
)

// patternChunk is what the writing clients send, over and over; the
// offset of a byte in the stream modulo its length says what it is.
var patternChunk = bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz012345"), 2048)

// writeUntilStalled writes the pattern to c, up to limit bytes, until the
// server has paused reading it (backpressure) and not one byte goes through
// within window. It returns the bytes sent.
func writeUntilStalled(t testing.TB, srv servers.Server, c net.Conn, limit int, window time.Duration) int {
	t.Helper()
	sent, timeouts := 0, 0
	t0 := time.Now()
	for sent < limit {
		b := patternChunk[sent%len(patternChunk):]
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(window)))
		n, err := c.Write(b[:min(len(b), limit-sent)])
		sent += n
		if err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			timeouts++
			if n == 0 && srv.(*Server).Paused() > 0 {
				t.Logf("client stalled after %.1f MiB (%v, %d write timeouts)", float64(sent)/(1<<20), time.Since(t0), timeouts)
				return sent
			}
		}
	}
	t.Fatalf("%d MiB were taken without the client reading: no backpressure", limit>>20)
	return sent
}

// TestBackpressure: a client writing 64 MiB without reading must stall
// (the server stops reading it at OutCap), the process must not spin
// while it is stalled, another client is still served, and once the client
// reads, reading resumes and every byte comes back.
func TestBackpressure(t *testing.T) {
	const size = 64 << 20
	for _, p := range pollers {
		t.Run(p.name, func(t *testing.T) {
			cfg, _ := testConfig(t, "tcp")
			srv := start(t, cfg, p.new)
			c := dial(t, srv)
			require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10)) // no autotuning
			sent := writeUntilStalled(t, srv, c, size, 100*time.Millisecond)

			// While it is stalled another client is served.
			other := dial(t, srv)
			_, err := other.Write([]byte("still served"))
			require.NoError(t, err)
			buf := make([]byte, len("STILL SERVED"))
			_, err = io.ReadFull(other, buf)
			require.NoError(t, err)
			require.Equal(t, "STILL SERVED", string(buf))

			// And the process uses (almost) no CPU during a stalled write.
			// The kernel may still find room in its buffers now and then
			// (the server's send buffer grows), and the server then rightly
			// reads again until its output is back at OutCap; a window with
			// such progress is not a stalled one, so look for one without.
			const window = 300 * time.Millisecond
			more := bytes.Repeat(patternChunk, 64)
			for try := 0; ; try++ {
				require.Less(t, try, 10, "the stalled client's writes keep going through")
				cpu0 := testkit.CPUTime(t)
				require.NoError(t, c.SetWriteDeadline(time.Now().Add(window)))
				n, err := c.Write(more[sent%len(patternChunk):])
				cpu := testkit.CPUTime(t) - cpu0
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				sent += n
				require.Less(t, sent, size, "64 MiB were taken without the client reading: no backpressure")
				if n == 0 {
					t.Logf("CPU during a %v stalled write: %v", window, cpu)
					require.Less(t, cpu, window/3, "the process spun while the client was stalled")
					break
				}
			}

			// Now read: the server reads again; 8 MiB more go through,
			// and every byte comes back transformed.
			total := sent + 8<<20
			readErr := make(chan error, 1)
			var got atomic.Int64
			go func() {
				// The reply is upper(pattern) repeated; compare whole reads.
				upper := bytes.ToUpper(append(patternChunk[:len(patternChunk):len(patternChunk)], patternChunk...))
				buf := make([]byte, len(patternChunk))
				for {
					n, err := c.Read(buf)
					o := int(got.Load()) % len(patternChunk)
					if !bytes.Equal(buf[:n], upper[o:o+n]) {
						readErr <- fmt.Errorf("reply differs from the expected transform after byte %d", got.Load())
						return
					}
					got.Add(int64(n))
					if err == io.EOF {
						readErr <- nil
						return
					}
					if err != nil {
						readErr <- err
						return
					}
				}
			}()
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(testTimeout)))
			for sent < total {
				b := patternChunk[sent%len(patternChunk):]
				n, err := c.Write(b[:min(len(b), total-sent)])
				sent += n
				require.NoError(t, err)
			}
			testkit.CloseWrite(t, c)
			require.NoError(t, <-readErr)
			require.EqualValues(t, total, got.Load())
		})
	}
}

// TestSelectRefusesHighFD fills every descriptor below 1024 so the next
// accepted connection lands above FD_SETSIZE: select must refuse it (and
// say why), and serve again once descriptors are free.
func TestSelectRefusesHighFD(t *testing.T) {
	cfg, logs := testConfig(t, "tcp")
	srv := start(t, cfg, NewSelect)
	warm := dial(t, srv) // let the server settle its own descriptors first
	_, err := warm.Write([]byte("a"))
	require.NoError(t, err)
	_, err = io.ReadFull(warm, make([]byte, 1))
	require.NoError(t, err)

	var dups []int
	release := func() {
		for _, fd := range dups {
			unix.Close(fd)
		}
		dups = nil
	}
	t.Cleanup(release)
	for {
		fd, err := unix.Dup(0)
		require.NoError(t, err)
		dups = append(dups, fd)
		if fd >= unix.FD_SETSIZE+4 {
			break
		}
	}
	// Free one descriptor above 1023 for the client; the server's accept
	// then takes the next free one, also above 1023.
	for i, fd := range dups {
		if fd < unix.FD_SETSIZE {
			continue
		}
		unix.Close(fd)
		dups = append(dups[:i], dups[i+1:]...)
		break
	}
	c := dial(t, srv)
	_, _ = c.Write([]byte("x")) // may fail if the close already came
	expectClosed(t, c)
	require.EqualValues(t, 1, srv.Stats().Rejected)
	require.Contains(t, logs.String(), "fd too high for select")

	release()
	c = dial(t, srv)
	_, err = c.Write([]byte("back"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "BACK", string(buf))
}

// expectClosed reads until the server has closed c (EOF or reset).
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_, err := io.ReadAll(c)
	if err != nil {
		require.ErrorIs(t, err, unix.ECONNRESET)
	}
}

// TestProtocolError: the replies before an oversized frame are delivered,
// then the connection is closed with one log line.
func TestProtocolError(t *testing.T) {
	for _, p := range pollers {
		t.Run(p.name, func(t *testing.T) {
			cfg, logs := testConfig(t, "unix")
			cfg.Framing = protocol.Length
			cfg.MaxMsg = 16
			srv := start(t, cfg, p.new)
			c := dial(t, srv)
			req := protocol.AppendRequest(nil, protocol.Length, []byte("fits"))
			req = binary.BigEndian.AppendUint32(req, 17)
			_, err := c.Write(req)
			require.NoError(t, err)
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, protocol.AppendReply(nil, protocol.Length, []byte("fits")), got)
			require.Equal(t, 1, strings.Count(logs.String(), "protocol error"))
		})
	}
}

// failPoller makes Wait fail on demand, as a broken epoll_wait would.
type failPoller struct {
	Poller
	fail *atomic.Bool
}

func (p failPoller) Wait(dst []Event, d time.Duration) ([]Event, error) {
	if p.fail.Load() {
		return dst, unix.EBADF
	}
	return p.Poller.Wait(dst, d)
}

// TestShutdown: graceful and forced shutdowns, and a loop dying on its own,
// leave no goroutine and no descriptor behind.
func TestShutdown(t *testing.T) {
	// Let the runtime open its own poller before counting descriptors.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close()

	for _, p := range pollers {
		for _, network := range []string{"tcp", "unix"} {
			t.Run(p.name+"/"+network+"/graceful", func(t *testing.T) {
				fds := openFDs(t)
				cfg, _ := testConfig(t, network)
				cfg.Loops = 2
				srv, err := NewServer(cfg, p.new)
				require.NoError(t, err)
				require.NoError(t, srv.Start())
				var conns []net.Conn
				for i := range 6 {
					c := dial(t, srv)
					msg := fmt.Sprintf("client %d", i)
					_, err := c.Write([]byte(msg))
					require.NoError(t, err)
					buf := make([]byte, len(msg))
					_, err = io.ReadFull(c, buf)
					require.NoError(t, err)
					require.Equal(t, strings.ToUpper(msg), string(buf))
					conns = append(conns, c)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, srv.Shutdown(ctx))
				<-srv.Done()
				require.NoError(t, srv.Err())
				st := srv.Stats()
				require.Positive(t, st.Syscalls, "the loops count their system calls")
				st.Syscalls = 0
				require.EqualValues(t, servers.Stats{Accepted: 6}, st)
				for _, c := range conns {
					testkit.ExpectEOF(t, c)
					c.Close()
				}
				if network == "unix" {
					require.NoFileExists(t, cfg.Addr)
				}
				_, err = net.Dial(srv.Addr().Network(), srv.Addr().String())
				require.Error(t, err, "the listener is still open")
				require.ErrorIs(t, srv.Shutdown(ctx), servers.ErrClosed)
				goleak.VerifyNone(t)
				require.Equal(t, fds, openFDs(t), "descriptors leaked")
			})
		}
		t.Run(p.name+"/forced", func(t *testing.T) {
			fds := openFDs(t)
			cfg, logs := testConfig(t, "tcp")
			srv, err := NewServer(cfg, p.new)
			require.NoError(t, err)
			require.NoError(t, srv.Start())
			c := dial(t, srv)
			require.NoError(t, c.(*net.TCPConn).SetReadBuffer(64<<10)) // no autotuning
			writeUntilStalled(t, srv, c, 1<<30, 100*time.Millisecond)
			// Stalled, the server holds over OutCap/2 (2 MiB) of output that
			// cannot drain: Shutdown must give up at the deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded)
			require.NoError(t, srv.Err())
			require.Zero(t, srv.(*Server).Paused())
			require.Zero(t, srv.Stats().Active)
			require.Contains(t, logs.String(), "closed connections with unsent output")
			c.Close()
			goleak.VerifyNone(t)
			require.Equal(t, fds, openFDs(t), "descriptors leaked")
		})
		t.Run(p.name+"/loop-fails", func(t *testing.T) {
			fds := openFDs(t)
			cfg, logs := testConfig(t, "tcp")
			cfg.Loops = 2
			var fail atomic.Bool
			srv, err := NewServer(cfg, func() (Poller, error) {
				inner, err := p.new()
				return failPoller{Poller: inner, fail: &fail}, err
			})
			require.NoError(t, err)
			require.NoError(t, srv.Start())
			c := dial(t, srv)
			fail.Store(true)
			_, _ = c.Write([]byte("wake up")) // wakes a loop, whose next Wait fails
			select {
			case <-srv.Done():
			case <-time.After(testTimeout):
				t.Fatal("server did not stop after its loop failed")
			}
			require.ErrorIs(t, srv.Err(), servers.ErrStopped)
			require.ErrorIs(t, srv.Err(), unix.EBADF)
			require.Contains(t, logs.String(), "event loop failed")
			expectClosed(t, c)
			c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, srv.Shutdown(ctx))
			goleak.VerifyNone(t)
			require.Equal(t, fds, openFDs(t), "descriptors leaked")
		})
	}
}

// TestNoAllocPerMessage: once warm, a ping-pong does not allocate, on the
// client (net package) or in the server loop.
func TestNoAllocPerMessage(t *testing.T) {
	for _, p := range pollers {
		for _, framing := range []protocol.Framing{protocol.Raw, protocol.Line, protocol.Length} {
			t.Run(p.name+"/"+framing.String(), func(t *testing.T) {
				cfg, _ := testConfig(t, "tcp")
				cfg.Framing = framing
				srv := start(t, cfg, p.new)
				c := dial(t, srv)
				req := protocol.AppendRequest(nil, framing, []byte("ping pong 16 b"))
				reply := make([]byte, len(protocol.AppendReply(nil, framing, []byte("ping pong 16 b"))))
				round := func() {
					if _, err := c.Write(req); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(c, reply); err != nil {
						t.Fatal(err)
					}
				}
				for range 100 {
					round()
				}
				const n = 2000
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for range n {
					round()
				}
				runtime.ReadMemStats(&m1)
				perMsg := float64(m1.Mallocs-m0.Mallocs) / n
				t.Logf("%.3f allocations per round trip (client and server)", perMsg)
				require.Less(t, perMsg, 0.05)
			})
		}
	}
}
