package gnetsrv

import (
	"testing"

	"go.uber.org/goleak"

	"archbench/servers/internal/testkit"
)

// TestMain fails the run if a goroutine is left over (gnet's ants pool
// lives for the process and is ignored).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.GnetLeaks...) }
