package servertest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"archbench/servers"
	"archbench/servers/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFakeSuite runs the suite against the fake architecture; it only runs
// as a child of TestSuiteCatchesBugs, which picks the bug and the cases.
func TestFakeSuite(t *testing.T) {
	name, ok := os.LookupEnv(fakeBugEnv)
	if !ok {
		t.Skip("runs as a child of TestSuiteCatchesBugs")
	}
	target := fakeTarget
	if name == "known" {
		target = fakeKnownTarget
		t.Setenv(fakeBugEnv, "lower")
	}
	servertest.Run(t, target, servers.Config{})
}

// runFake runs the suite's cases matching pattern (framing/case) against
// the fake architecture with bug, in a child process, and returns its
// output and whether it passed.
func runFake(t *testing.T, bug, pattern string) (string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeSuite$/"+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), fakeBugEnv+"="+bug)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running the child: %v", err)
		}
	}
	return string(out), err == nil
}

// TestSuiteCatchesBugs proves that cases can fail: each deliberate bug of
// the fake architecture fails the case written to catch it, while the
// correct fake passes those cases.
func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	tests := []struct {
		bug, pattern string
	}{
		{bug: "lower", pattern: "^raw$/^ASCII$"},
		{bug: "lower", pattern: "^raw$/^UTF8Whole$"},
		{bug: "drop-tail", pattern: "^raw$/^HalfCloseFlush$"},
		{bug: "async-drop", pattern: "^line$/^HalfCloseFlush$"},
		{bug: "unbounded", pattern: "^raw$/^WriterNotReading$"},
		{bug: "no-maxmsg", pattern: "^line$/^Oversized$"},
		{bug: "maxconns", pattern: "^raw$/^MaxConns$"},
		{bug: "no-idle", pattern: "^raw$/^IdleTimeout$"},
		{bug: "leak", pattern: "^line$/^GracefulStop$"},
		{bug: "emfile-exit", pattern: "^raw$/^EMFILE$"},
	}
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		var cases []string
		for _, tt := range tests {
			cases = append(cases, tt.pattern[strings.LastIndex(tt.pattern, "/")+2:len(tt.pattern)-1])
		}
		out, ok := runFake(t, "", "/^("+strings.Join(cases, "|")+")$")
		assert.True(t, ok, "the correct fake fails the suite:\n%s", out)
	})
	for _, tt := range tests {
		t.Run(tt.bug+"/"+tt.pattern, func(t *testing.T) {
			t.Parallel()
			out, ok := runFake(t, tt.bug, tt.pattern)
			assert.False(t, ok, "bug %q passed the suite:\n%s", tt.bug, out)
			assert.Contains(t, out, "--- FAIL: TestFakeSuite/", "bug %q did not fail a case:\n%s", tt.bug, out)
		})
	}
	t.Run("known defect is skipped, by name", func(t *testing.T) {
		t.Parallel()
		out, ok := runFake(t, "known", "^raw$/^ASCII$")
		assert.True(t, ok, out)
		assert.Contains(t, out, "--- SKIP: TestFakeSuite/raw/ASCII")
		assert.Contains(t, out, "known defect of servertest-fake-known: echoes in lower case (nowhere#1)")
	})
}
