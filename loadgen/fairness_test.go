package loadgen

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFairness(t *testing.T) {
	tests := []struct {
		name    string
		perSlot []int64
		served  int
		want    Fairness
	}{
		{name: "even", perSlot: []int64{7, 7, 7, 7}, served: 4, want: Fairness{JainIndex: 1, Min: 7, Median: 7, Max: 7}},
		{name: "one slot of 64", perSlot: oneOf(64, 12345), served: 1, want: Fairness{JainIndex: 1.0 / 64, Max: 12345}},
		{name: "4 of 64 even", perSlot: append(make([]int64, 60), 5, 5, 5, 5), served: 4, want: Fairness{JainIndex: 4.0 / 64, Max: 5}},
		// (1+2+3)² / (3·(1+4+9)) = 36/42
		{name: "1 2 3", perSlot: []int64{3, 1, 2}, served: 3, want: Fairness{JainIndex: 6.0 / 7, Min: 1, Median: 2, Max: 3}},
		// (1+3)² / (2·(1+9)) = 16/20; the lower middle of two
		{name: "1 3", perSlot: []int64{3, 1}, served: 2, want: Fairness{JainIndex: 0.8, Min: 1, Median: 1, Max: 3}},
		// (0+2+2+4)² / (4·(4+4+16)) = 64/96
		{name: "0 2 2 4", perSlot: []int64{4, 0, 2, 2}, served: 3, want: Fairness{JainIndex: 2.0 / 3, Median: 2, Max: 4}},
		// (10+0+0)² / (3·100) = 1/3
		{name: "10 0 0", perSlot: []int64{0, 10, 0}, served: 1, want: Fairness{JainIndex: 1.0 / 3, Max: 10}},
		{name: "one slot", perSlot: []int64{9}, served: 1, want: Fairness{JainIndex: 1, Min: 9, Median: 9, Max: 9}},
		{name: "nothing verified", perSlot: []int64{0, 0, 0}, served: 0, want: Fairness{}},
		{name: "no slots", perSlot: nil, served: 0, want: Fairness{}},
		// Σx² = 2·(3e9)² = 1.8e19 does not fit in an int64.
		{name: "large counts", perSlot: []int64{3e9, 3e9}, served: 2, want: Fairness{JainIndex: 1, Min: 3e9, Median: 3e9, Max: 3e9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]int64(nil), tt.perSlot...)
			served, f := fairness(tt.perSlot)
			assert.Equal(t, tt.served, served, "served")
			if assert.NotNil(t, f) {
				assert.InDelta(t, tt.want.JainIndex, f.JainIndex, 1e-12, "jain")
				got := *f
				got.JainIndex = tt.want.JainIndex
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, in, tt.perSlot, "the counts are not reordered")
		})
	}
}

// oneOf is n slots of which the last got all count replies.
func oneOf(n int, count int64) []int64 {
	s := make([]int64, n)
	s[n-1] = count
	return s
}
