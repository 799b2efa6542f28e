package report_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"archbench/report"
	"archbench/results"
	"archbench/results/resultstest"
)

// TestExternalRowsAndVsC: a run with external servers marks their rows in
// every table, and one that includes c-epoll has a vs C column holding
// each row's msg/s over c-epoll's.
func TestExternalRowsAndVsC(t *testing.T) {
	r := resultstest.Quick()
	// c-epoll: goroutine's conns-64 samples at half the rate, as an external.
	for _, s := range r.Samples {
		if s.Scenario == "conns-64" && s.Arch == "goroutine" {
			c := s
			res := *s.Result
			res.RPS /= 2
			c.Arch, c.Result = report.CBaseline, &res
			r.Samples = append(r.Samples, c)
		}
	}
	r.Archs = append(r.Archs, report.CBaseline)
	r.External = []results.External{{Name: report.CBaseline, Command: "exec server {host} {port}"}}

	var out bytes.Buffer
	require.NoError(t, report.NewTextReporter(r)(&out))
	text := out.String()
	assert.Contains(t, text, "c-epoll (ext)")
	assert.Contains(t, text, "(ext): an external server")
	assert.NotContains(t, text, "goroutine (ext)")
	// conns-64: goroutine's median is 64k, c-epoll's 32k: vs C 2.00 and 1.00.
	assert.Regexp(t, regexp.MustCompile(`goroutine .*│ +2\.00 │`), text)
	assert.Regexp(t, regexp.MustCompile(`c-epoll \(ext\) .*│ +1\.00 │`), text)
	// open-1000c-20k has no c-epoll row: the column says so.
	assert.Contains(t, text, "vs C: c-epoll has no msg/s in this scenario")
	assert.Equal(t, 2, strings.Count(text, "vs C │"), "a vs C column in each scenario table")
}

// The verdict and compare's table name an external server as the tables
// do, with its mark.
func TestExternalMarkedInVerdictAndCompare(t *testing.T) {
	r := resultstest.Quick()
	for _, s := range r.Samples {
		if s.Scenario == "conns-64" && s.Arch == "goroutine" {
			c := s
			res := *s.Result
			res.RPS *= 3 // the best of the table
			c.Arch, c.Result = "mine", &res
			r.Samples = append(r.Samples, c)
		}
	}
	r.Archs = append(r.Archs, "mine")
	r.External = []results.External{{Name: "mine", Command: "exec mine {port}"}}

	var md bytes.Buffer
	require.NoError(t, report.Verdict(r).WriteMarkdown(&md))
	assert.Contains(t, md.String(), "Tier 1: mine (ext) (")
	assert.NotContains(t, md.String(), "goroutine (ext)")

	var cmp bytes.Buffer
	require.NoError(t, report.NewComparisonReporter(results.Compare(r, r))(&cmp))
	assert.Regexp(t, regexp.MustCompile(`conns-64 +│ mine \(ext\) `), cmp.String())
	assert.Contains(t, cmp.String(), "(ext): an external server")
	assert.NotContains(t, cmp.String(), "goroutine (ext)")
}
