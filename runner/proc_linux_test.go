package runner

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"archbench/results"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "1234 (my (odd) srv) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 5 0 100 1000000 300 18446744073709551615"
	got, err := parseStatCPU(line)
	require.NoError(t, err)
	assert.InDelta(t, 3.25, got, 1e-9)
	for _, bad := range []string{"", "1234 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s"} {
		_, err := parseStatCPU(bad)
		assert.Error(t, err, bad)
	}
	cpu, err := procCPU(os.Getpid())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, 0.0)
}

func TestParseVmHWM(t *testing.T) {
	got, err := parseVmHWM([]byte("Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    7424 kB\nVmRSS:\t 7000 kB\n"))
	require.NoError(t, err)
	assert.EqualValues(t, 7424<<10, got)
	_, err = parseVmHWM([]byte("Name:\tx\n"))
	assert.Error(t, err)
	_, err = parseVmHWM([]byte("VmHWM:\t lots\n"))
	assert.Error(t, err)
	rss, err := procPeakRSS(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, rss, int64(1<<20))
}

// TestStartServerPinsEveryThread starts this test binary as a fake server
// (see TestMain) pinned to CPU 0 and checks every one of its threads.
func TestStartServerPinsEveryThread(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	p, err := startServer(context.Background(), exe, []string{"serve", "--arch", "fake-ok"}, maskOf([]int{0}), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() {
		exit, detail := p.stop(5 * time.Second)
		assert.Equal(t, results.ExitClean, exit, detail)
	})
	assert.Equal(t, "127.0.0.1:1", p.addr)
	tids, err := threads(p.pid())
	require.NoError(t, err)
	require.NotEmpty(t, tids)
	for _, tid := range tids {
		var set unix.CPUSet
		require.NoError(t, unix.SchedGetaffinity(tid, &set))
		assert.Equal(t, 1, set.Count(), "thread %d", tid)
		assert.True(t, set.IsSet(0), "thread %d", tid)
	}
}
