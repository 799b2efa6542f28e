package loadgen_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/loadgen"
)

// TestDocSchemaNamesEveryConfigKey: the JSON schema in doc.go names every
// json key of Config, and no key Config no longer has.
func TestDocSchemaNamesEveryConfigKey(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, schema, ok := strings.Cut(string(b), "# JSON schema of Result")
	require.True(t, ok, "doc.go has a JSON schema section")
	words := map[string]bool{}
	for _, w := range regexp.MustCompile(`[a-z_]+`).FindAllString(schema, -1) {
		words[w] = true
	}
	ct := reflect.TypeOf(loadgen.Config{})
	for i := range ct.NumField() {
		key, _, _ := strings.Cut(ct.Field(i).Tag.Get("json"), ",")
		assert.True(t, words[key], "doc.go's schema does not mention config key %q", key)
	}
	assert.NotContains(t, schema, "config.workers", "Config.Workers is Loops")
}
