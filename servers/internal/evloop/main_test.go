package evloop

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine is left over.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
