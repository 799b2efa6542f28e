package report

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile replaces a file whole: a writer that fails halfway leaves the
// old content, one that succeeds leaves the new, and neither leaves a
// temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	require.NoError(t, os.WriteFile(path, []byte("old content"), 0o644))

	broken := errors.New("killed")
	err := writeFile(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, "new"); err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, "old content", string(b), "the old file stands while the new one is written")
		return broken
	})
	require.ErrorIs(t, err, broken)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old content", string(b), "a failed write leaves the old file")
	assertOnly(t, dir, "results.json")

	require.NoError(t, writeFile(path, bytesOf([]byte("new"))))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	assertOnly(t, dir, "results.json")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	assert.Equal(t, names, got, "no temporary file left behind")
}
