package loadgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThresholds(t *testing.T) {
	r := &Result{RPS: 50000, Errors: map[string]int64{ErrTimeout: 2, ErrRead: 1}, Mismatches: 0,
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
