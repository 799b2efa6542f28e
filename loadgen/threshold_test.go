package loadgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThresholds(t *testing.T) {
	r := &Result{Requests: 500000, RPS: 50000, Errors: map[string]int64{ErrTimeout: 2, ErrRead: 1}, Mismatches: 0,
		Latency: LatencyUS{P50: 80, P99: 1500, Max: 9000}}
	tests := []struct {
		text string
		pass bool
	}{
		{"p99<2ms", true},
		{"p99 < 1ms", false},
		{"p50<=80us", true},
		{"max>5ms", true},
		{"rps>=50000", true},
		{"rps>50000", false},
		{"errors==0", false},
		{"errors<=3", true},
		{"mismatches==0", true},
	}
	for _, tt := range tests {
		th, err := ParseThreshold(tt.text)
		require.NoError(t, err, tt.text)
		if tt.pass {
			assert.NoError(t, th.Check(r), tt.text)
		} else {
			assert.Error(t, th.Check(r), tt.text)
		}
	}
	for _, bad := range []string{"", "p99", "p99<2", "p42<2ms", "rps>lots", "p99=2ms", "p99<2ms extra"} {
		_, err := ParseThreshold(bad)
		assert.Error(t, err, bad)
	}
}

// A run that verified no reply has no latency: a latency threshold fails
// and says why, instead of reading the empty histogram as 0us.
func TestThresholdsNoVerifiedReply(t *testing.T) {
	r := &Result{Errors: map[string]int64{ErrConnect: 4}}
	for _, text := range []string{"p99<1ms", "p50<=1s", "max<1s", "mean<1s", "min>=0s"} {
		th, err := ParseThreshold(text)
		require.NoError(t, err, text)
		err = th.Check(r)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), "no verified reply: "+th.Metric+" is absent")
	}
	th, err := ParseThreshold("rps<1")
	require.NoError(t, err)
	assert.NoError(t, th.Check(r), "a non-latency metric is still measured")
}
