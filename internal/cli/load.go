package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"archbench/internal/settings"
	"archbench/loadgen"
	"archbench/servers"
)

func init() {
	register("load", "drive a running server with the verifying load generator", runLoad)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "[flags]", stderr)
	var (
		form, hgrm string
		thresholds []loadgen.Threshold
	)
	cfg := loadgen.Config{Addr: servers.DefaultAddr}.WithDefaults()
	settings.BindFlags(fs, &cfg)
	// On the command line these must be given positive (a 0 is a mistake
	// here, though it means the default in a scenario file).
	for _, name := range []string{"conns", "depth", "size", "duration", "timeout"} {
		if f := fs.Lookup(name); f != nil {
			f.Usage = strings.Replace(f.Usage, "(0 means the default)", "(more than 0)", 1)
		}
	}
	fs.StringVar(&form, "format", "text", "text or json")
	fs.StringVar(&hgrm, "hgrm", "", "also write the latency percentile distribution (.hgrm, ms) to this file")
	fs.Var(thresholdsFlag{&thresholds}, "threshold", thresholdHelp)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if form != "text" && form != "json" {
		return usagef("load: --format %q: want text or json", form)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"conns", cfg.Conns}, {"depth", cfg.Depth}, {"size", cfg.Size}} {
		if f.v < 1 {
			return usagef("load: --%s %d: must be at least 1 (leave it out for the default)", f.name, f.v)
		}
	}
	if cfg.Duration <= 0 || cfg.Timeout <= 0 {
		return usagef("load: --duration and --timeout must be positive (leave them out for the defaults)")
	}
	if err := cfg.Validate(); err != nil {
		return usagef("load: %v", err)
	}

	if err := loadgen.CheckAddr(ctx, cfg); err != nil {
		return loadStartError(err)
	}

	// Fail on an output file that cannot be written now, not after the load.
	var hgrmFile *os.File
	if hgrm != "" {
		f, err := createHgrm(hgrm)
		if err != nil {
			return err
		}
		hgrmFile = f
		defer func() {
			hgrmFile.Close()
			os.Remove(hgrmFile.Name())
		}()
	}

	fmt.Fprintf(stderr, "load: %d conns to %s %s for %s (+%s warm-up)\n", cfg.Conns, cfg.Network, cfg.Addr, cfg.Duration, cfg.Warmup)
	if form == "text" && isTerminal(stderr) {
		var replies atomic.Int64
		ctx = loadgen.WithReplyCounter(ctx, &replies)
		stop := showProgress(stderr, cfg, &replies)
		defer stop()
	}
	res, err := loadgen.Run(ctx, cfg)
	if res == nil {
		return loadStartError(err)
	}
	if res.Target != nil {
		for _, f := range res.Target.Failed {
			fmt.Fprintf(stderr, "load: %s\n", f)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v (partial result follows)\n", err)
	}
	if hgrm != "" {
		if werr := writeHgrm(hgrmFile, hgrm, res); werr != nil {
			return werr
		}
	}
	if form == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil {
			return fmt.Errorf("load: %w", werr)
		}
	} else if werr := loadgen.WriteText(stdout, res); werr != nil {
		return fmt.Errorf("load: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	var missed []error
	for _, th := range thresholds {
		if terr := th.Check(res); terr != nil {
			fmt.Fprintf(stderr, "threshold: %v\n", terr)
			missed = append(missed, terr)
		}
	}
	if err := checkVerified(res); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if len(missed) > 0 {
		return fmt.Errorf("load: %w: %d of %d", ErrThresholds, len(missed), len(thresholds))
	}
	return nil
}

// loadStartError is load's error for a run that could not start: one line,
// exit 2 for a bad configuration or address (a name that does not exist or
// has no address of the family included), exit 1 otherwise (a resolver
// that failed).
func loadStartError(err error) error {
	if errors.Is(err, loadgen.ErrConfig) || errors.Is(err, loadgen.ErrFDLimit) {
		return usagef("load: %v", err)
	}
	if ne := (*loadgen.NetError)(nil); errors.As(err, &ne) && ne.BadAddr() {
		return usagef("load: %v", err)
	}
	return fmt.Errorf("load: %w", err)
}

var (
	// ErrNoReply: a load run verified no reply at all.
	ErrNoReply = errors.New("no reply verified")
	// ErrMismatch: a reply differed from what the server should have sent.
	ErrMismatch = errors.New("replies mismatched")
)

// checkVerified fails a load run that verified no reply or saw a
// mismatch, whatever its thresholds: neither measures a server. Other
// errors fail a run only by --threshold 'errors==0'.
func checkVerified(res *loadgen.Result) error {
	var why []string
	var errs []error
	if res.Requests == 0 {
		errs = append(errs, ErrNoReply)
		why = append(why, fmt.Sprintf("%v (errors: %s)", ErrNoReply, errorCounts(res.Errors)))
	}
	if res.Mismatches > 0 {
		errs = append(errs, ErrMismatch)
		why = append(why, fmt.Sprintf("%d %v", res.Mismatches, ErrMismatch))
	}
	if len(errs) == 0 {
		return nil
	}
	return &verifyError{msg: strings.Join(why, "; "), errs: errs}
}

// verifyError is checkVerified's one-line error; errors.Is finds each
// sentinel in it.
type verifyError struct {
	msg  string
	errs []error
}

func (e *verifyError) Error() string   { return e.msg }
func (e *verifyError) Unwrap() []error { return e.errs }

// errorCounts lists the nonzero error counts, by kind, or "none".
func errorCounts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// createHgrm checks that path can be written, before any load: it creates
// the temporary file, in path's directory, that writeHgrm renames to path.
func createHgrm(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, usagef("load: --hgrm %s: is a directory; give a file name", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, usagef("load: --hgrm %s: cannot create it: %v", path, errors.Unwrap(err))
	}
	return f, nil
}

// writeHgrm writes res's distribution into f, made by createHgrm, and
// renames it to path.
func writeHgrm(f *os.File, path string, res *loadgen.Result) error {
	if err := loadgen.WriteHgrm(f, res); err != nil {
		return fmt.Errorf("load: --hgrm %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("load: --hgrm %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load: --hgrm %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("load: --hgrm: %w", err)
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}

// showProgress prints a progress line on w once a second until stop is
// called: the time into the run and the verified replies of the last
// second (replies counts them as the generator's loops hand each second
// over, so it lags by up to a second). A terminal only: the line is
// rewritten in place and erased at the end.
func showProgress(w io.Writer, cfg loadgen.Config, replies *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start, last := time.Now(), int64(0)
		total := cfg.Warmup + cfg.Duration
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				n := replies.Load()
				phase := "measuring"
				if now.Sub(start) <= cfg.Warmup {
					phase = "warm-up"
				}
				fmt.Fprintf(w, "\r\033[Kload: %s of %s (%s), %d replies verified, %d in the last second",
					now.Sub(start).Round(time.Second), total, phase, n, n-last)
				last = n
			}
		}
	}()
	return func() { close(done); <-finished }
}
