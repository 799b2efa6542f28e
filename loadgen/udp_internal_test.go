package loadgen

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJitterKnownAnswer: RFC 3550 §6.4.1 on synthetic transit times whose
// jitter has a closed form. Transits alternating 10 and 20 give |D| = 10 at
// every step, so J_n = 10·(1 - (15/16)^n) after n steps; a constant
// transit gives 0; one packet gives 0.
func TestJitterKnownAnswer(t *testing.T) {
	var tr []float64
	for i := range 33 {
		tr = append(tr, float64(10+10*(i%2)))
	}
	want := 10 * (1 - math.Pow(15.0/16, 32))
	assert.InDelta(t, want, Jitter(tr), 1e-9)
	assert.Zero(t, Jitter([]float64{5, 5, 5, 5}))
	assert.Zero(t, Jitter([]float64{7}))
	// One step from 0 by D = -32: J = 32/16 = 2 (the sign of D does not count).
	assert.InDelta(t, 2.0, Jitter([]float64{40, 8}), 1e-12)
}

func TestSeqDigits(t *testing.T) {
	b := make([]byte, 8)
	putSeq(b, 123456789012)
	assert.Equal(t, "56789012", string(b))
	v, ok := parseSeq(b)
	require.True(t, ok)
	assert.EqualValues(t, 56789012, v)
	_, ok = parseSeq([]byte("12a4"))
	assert.False(t, ok)

	for _, tc := range []struct {
		low, next uint64
		digits    int
		want      uint64
		ok        bool
	}{
		{low: 5, next: 10, digits: 16, want: 5, ok: true},
		{low: 10, next: 10, digits: 16, ok: false}, // not sent yet
		{low: 3, next: 1005, digits: 3, want: 1003, ok: true},
		{low: 999, next: 1005, digits: 3, want: 999, ok: true},
		{low: 7, next: 5, digits: 3, ok: false}, // would be below 0
		{low: 0, next: 0, digits: 8, ok: false},
	} {
		got, ok := fullSeq(tc.low, tc.next, tc.digits)
		assert.Equal(t, tc.ok, ok, "%+v", tc)
		if tc.ok {
			assert.Equal(t, tc.want, got, "%+v", tc)
		}
	}
}

func TestSumDrops(t *testing.T) {
	table := `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  256: 0100007F:1F90 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 1 2 0000000000000000 17
  257: 0100007F:1F91 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 2 2 0000000000000000 5
  258: 00000000:1F90 00000000:0000 07 00000000 00000000 00:00000000 00000000     0        0 3 2 0000000000000000 3
`
	n, err := sumDrops(strings.NewReader(table), map[int]bool{0x1f90: true})
	require.NoError(t, err)
	assert.EqualValues(t, 20, n)
}

func TestRetryParse(t *testing.T) {
	r, err := ParseRetry("100ms,x2,2s")
	require.NoError(t, err)
	assert.Equal(t, "100ms,x2,2s", r.String())
	// Sends at 0, .1, .3, .7, 1.5 s; gives up at 2 s.
	assert.Equal(t, []int64{100e6, 200e6, 400e6, 800e6, 500e6}, r.waits())
	var u Retry
	require.NoError(t, u.UnmarshalText([]byte("50ms,x1.5,1s")))
	b, _ := u.MarshalText()
	assert.Equal(t, "50ms,x1.5,1s", string(b))
	for _, bad := range []string{"100ms", "100ms,2,2s", "0s,x2,2s", "100ms,x0.5,2s", "1s,x2,100ms", "a,x2,2s", "1us,x1,1s"} {
		_, err := ParseRetry(bad)
		assert.Error(t, err, bad)
		if err != nil {
			assert.NotContains(t, err.Error(), "\n")
		}
	}
	z, err := ParseRetry("off")
	require.NoError(t, err)
	assert.True(t, z.IsZero())
}
