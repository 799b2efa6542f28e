package runner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseCPUList parses a CPU list as taskset and /sys write them: "0",
// "0-1", "0,2-3". The result is sorted and without duplicates.
func ParseCPUList(s string) ([]int, error) {
	var cpus []int
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty CPU list (want e.g. 0, 0-1 or 0,2-3)")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= maxCPUs {
			return nil, fmt.Errorf("bad CPU list %q at %q (want e.g. 0, 0-1 or 0,2-3)", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// maxCPUs bounds a CPU number (the kernel's CPU mask size here).
const maxCPUs = 1024

// FormatCPUList writes cpus in the shortest list form ("0-3,6"); nil is
// "unpinned".
func FormatCPUList(cpus []int) string {
	if len(cpus) == 0 {
		return "unpinned"
	}
	c := slices.Clone(cpus)
	slices.Sort(c)
	c = slices.Compact(c)
	var parts []string
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] == c[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(c[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c[i], c[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// CheckCPUs reports a CPU that is not online.
func CheckCPUs(cpus []int) error {
	online := onlineCPUs()
	if online == nil {
		return nil
	}
	for _, c := range cpus {
		if !slices.Contains(online, c) {
			return fmt.Errorf("CPU %d is not online (online: %s)", c, FormatCPUList(online))
		}
	}
	return nil
}
