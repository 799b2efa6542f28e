package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReferenceConfigsRoundTrip: the server and load configs recorded in the
// committed reference results decode into servers.Config and loadgen.Config
// and encode back to the same JSON (same keys, durations in nanoseconds).
func TestReferenceConfigsRoundTrip(t *testing.T) {
	files, err := filepath.Glob("reference/*/results.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			var raw struct {
				Scenarios []struct{ Server, Load json.RawMessage }
			}
			require.NoError(t, json.Unmarshal(data, &raw))
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			run, err := ReadJSON(f)
			require.NoError(t, err)
			require.Len(t, run.Scenarios, len(raw.Scenarios))
			for i, sc := range run.Scenarios {
				srv, err := json.Marshal(sc.Server)
				require.NoError(t, err)
				assert.JSONEq(t, string(raw.Scenarios[i].Server), string(srv), sc.Name)
				load, err := json.Marshal(sc.Load)
				require.NoError(t, err)
				assert.JSONEq(t, string(raw.Scenarios[i].Load), string(load), sc.Name)
			}
		})
	}
}
