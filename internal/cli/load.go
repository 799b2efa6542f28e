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
			return usagef("load: --%s %d: must be at least 1", f.name, f.v)
		}
	}
	if cfg.Duration <= 0 || cfg.Timeout <= 0 {
		return usagef("load: --duration and --timeout must be positive")
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
