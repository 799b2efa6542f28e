// Package baselines holds the servers archbench ships as external
// programs, to compare its Go architectures against: c-epoll, a minimal
// single-threaded C epoll server (the machine's limit for the protocol),
// and the textbook's designs in Python 3 (py-sequential, py-threads,
// py-pool, py-poll).
//
// Each serves raw framing only, on the address its command line gives
// (HOST PORT), prints "listening on ADDR" once it listens and exits 0 on
// SIGTERM. The transform is the protocol's: valid UTF-8 runes upper-cased
// as Go's unicode.ToUpper does, from a table generated from Go
// (upper_table.h, upper_table.py; go test ./baselines -update), invalid
// bytes unchanged, a rune cut by a read completed by the next one.
//
// The runner runs them as external servers (the same machinery as
// --external): Command writes the sources into a cache folder, compiles
// the C one with cc once, and returns the command line; without cc or
// python3 the baseline is unavailable, with that reason, and the run goes
// on.
package baselines
