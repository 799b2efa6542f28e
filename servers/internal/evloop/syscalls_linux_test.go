package evloop

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/servers/internal/testkit"
)

// TestSyscallsCounted: in a ping-pong the loop makes about three system
// calls per message (a readiness wait, a read, a write), and Stats says so,
// for every poller; the count includes the final closes after Shutdown.
func TestSyscallsCounted(t *testing.T) {
	const msgs = 500
	for _, pc := range pollers {
		t.Run(pc.name, func(t *testing.T) {
			cfg, _ := testConfig(t, "tcp")
			srv := start(t, cfg, pc.new)
			c := dial(t, srv)
			before := srv.Stats().Syscalls
			for range msgs {
				testkit.Echo(t, c, "ping")
			}
			require.NoError(t, c.Close())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, srv.Shutdown(ctx))
			n := srv.Stats().Syscalls - before
			t.Logf("%s: %d system calls for %d messages (%.2f per message)", pc.name, n, msgs, float64(n)/msgs)
			assert.GreaterOrEqual(t, n, int64(2*msgs), "at least a read and a write per message")
			assert.LessOrEqual(t, n, int64(5*msgs+100), "a ping-pong costs a few system calls per message, not more")
		})
	}
}
