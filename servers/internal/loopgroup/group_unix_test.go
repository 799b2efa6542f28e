//go:build unix

package loopgroup

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"archbench/servers"
)

// TestMain fails the run if a goroutine is left over.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a server of n loops that each wait to be woken, release the
// listener once stopping, and exit once stopping (if drain) or forced.
type fake struct {
	servers.Core
	g       Group
	wake    []chan struct{}
	stopped int // Hooks.Stopped calls
}

func newFake(t *testing.T, n int) *fake {
	t.Helper()
	f := &fake{}
	f.InitCore(Defaults(servers.Config{Network: "tcp", Addr: "127.0.0.1:0", Loops: n}))
	f.g.Init(&f.Core, "fake loop", Hooks{
		Wake: func() {
			for _, w := range f.wake {
				select {
				case w <- struct{}{}:
				default:
				}
			}
		},
		Stopped: func() { f.stopped++ },
	})
	return f
}

// launch starts every loop; a loop exits when stopping if drain, or when
// forced.
func (f *fake) launch(drain bool) func(*servers.RawListener) error {
	return func(*servers.RawListener) error {
		for range f.Cfg.Loops {
			w := make(chan struct{}, 1)
			f.wake = append(f.wake, w)
			f.g.Go(func() {
				held := true
				for {
					if held && f.g.Stopping() {
						f.g.ReleaseListener()
						held = false
					}
					if f.g.Forced() || (drain && f.g.Stopping()) {
						if held {
							f.g.ReleaseListener()
						}
						return
					}
					<-w
				}
			})
		}
		return nil
	}
}

func TestGroupShutdown(t *testing.T) {
	f := newFake(t, 3)
	require.Nil(t, f.g.Addr())
	require.NoError(t, f.g.Start(f.launch(true)))
	require.NotNil(t, f.g.Addr())
	require.ErrorIs(t, f.g.Start(f.launch(true)), servers.ErrClosed)
	require.NoError(t, f.g.Shutdown(context.Background()))
	require.Equal(t, 1, f.stopped)
	<-f.Done()
	require.NoError(t, f.Err())
	require.ErrorIs(t, f.g.Shutdown(context.Background()), servers.ErrClosed)
	require.ErrorIs(t, f.g.Start(f.launch(true)), servers.ErrClosed)
}

func TestGroupShutdownForced(t *testing.T) {
	f := newFake(t, 2)
	require.NoError(t, f.g.Start(f.launch(false)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, f.g.Shutdown(ctx), context.DeadlineExceeded)
	require.True(t, f.g.Forced())
	require.Equal(t, 1, f.stopped)
	require.NoError(t, f.Err())
}

func TestGroupShutdownIdle(t *testing.T) {
	f := newFake(t, 1)
	require.ErrorIs(t, f.g.Shutdown(context.Background()), servers.ErrClosed)
	<-f.Done()
	require.Equal(t, 0, f.stopped)
}

func TestGroupFail(t *testing.T) {
	f := newFake(t, 2)
	require.NoError(t, f.g.Start(f.launch(false)))
	boom := errors.New("boom")
	f.g.Fail(boom)
	<-f.g.Exited()
	<-f.Done()
	require.ErrorIs(t, f.Err(), boom)
	require.NoError(t, f.g.Shutdown(context.Background()), "the loops are gone already")
	require.ErrorIs(t, f.Err(), boom, "Err still says why the server stopped")
}

// A launch that fails before starting a loop leaves the group idle, with
// the listener closed, so Start may be tried again.
func TestGroupLaunchFailsBeforeLoops(t *testing.T) {
	f := newFake(t, 2)
	var addr string
	boom := errors.New("boom")
	err := f.g.Start(func(ln *servers.RawListener) error {
		addr = ln.Addr.String()
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Nil(t, f.g.Addr())
	require.Equal(t, 0, f.stopped)
	select {
	case <-f.Done():
		t.Fatal("Done closed by a Start that may be retried")
	default:
	}
	f.Cfg.Addr = addr // free again: the listener was closed
	require.NoError(t, f.g.Start(f.launch(true)))
	require.NoError(t, f.g.Shutdown(context.Background()))
}

// A launch that fails after starting its loops gets them to exit; Start
// waits for them and leaves the group stopped.
func TestGroupLaunchFailsAfterLoops(t *testing.T) {
	f := newFake(t, 3)
	boom := errors.New("boom")
	err := f.g.Start(func(ln *servers.RawListener) error {
		for range 2 { // one loop fewer than Loops: Start counts the third out
			f.g.Go(func() { f.g.ReleaseListener() })
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 1, f.stopped)
	<-f.Done()
	require.NoError(t, f.Err())
	require.ErrorIs(t, f.g.Shutdown(context.Background()), servers.ErrClosed)
}
