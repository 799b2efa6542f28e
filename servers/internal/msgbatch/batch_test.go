package msgbatch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatch(t *testing.T) {
	var a, b Batch
	require.True(t, a.Empty())
	require.Zero(t, a.Pending())
	a.Add([]byte("one"))
	a.Add(nil)
	a.Add([]byte("three"))
	require.Equal(t, 3, a.Len())
	require.Equal(t, "one", string(a.Msg(0)))
	require.Empty(t, a.Msg(1))
	require.Equal(t, 8+3*8, a.Size())
	require.Equal(t, 8+3*8, a.Pending())

	a.MoveFirst(&b)
	require.Equal(t, 2, a.Len())
	require.Empty(t, a.Msg(0))
	require.Equal(t, "three", string(a.Msg(1)))
	require.Equal(t, 8+3*8, a.Size(), "taken messages still count")
	require.Equal(t, 5+2*8, a.Pending())
	require.Equal(t, "one", string(b.Msg(0)))

	a.MoveFirst(&b)
	a.MoveFirst(&b)
	require.True(t, a.Empty())
	require.Zero(t, a.Size(), "emptied by the last move")
	require.Equal(t, 3, b.Len())
	require.Equal(t, "three", string(b.Msg(2)))

	b.Add(make([]byte, KeepCap+1))
	b.Reset()
	require.True(t, b.Empty())
	require.Nil(t, b.data, "a large buffer is dropped")
}

func TestBatchAllocs(t *testing.T) {
	var a, b Batch
	msg := []byte("hello")
	for range 16 {
		a.Add(msg)
	}
	a.Reset()
	allocs := testing.AllocsPerRun(100, func() {
		for range 16 {
			a.Add(msg)
		}
		for range 16 {
			_ = a.Msg(0)
			a.MoveFirst(&b)
		}
		b.Reset()
	})
	require.Zero(t, allocs)
}
