package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"archbench/loadgen"
	"archbench/protocol"
)

func init() {
	register("load", "drive a running server with the verifying load generator", runLoad)
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", "[flags]", stderr)
	var (
		cfg                    loadgen.Config
		framing, content, form string
		hgrm                   string
		thresholds             []loadgen.Threshold
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:7000", "server address: host:port, or a socket path for unix")
	fs.StringVar(&cfg.Network, "network", "tcp", "tcp, tcp6 or unix (must match the server)")
	fs.StringVar(&framing, "framing", "raw", "raw, line or length (must match the server)")
	fs.IntVar(&cfg.Conns, "conns", 1, "connections")
	fs.IntVar(&cfg.Depth, "depth", 1, "closed loop: messages in flight per connection (pipelining above 1)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: messages per second in total on a fixed schedule (0 = closed loop)")
	cfg.Size = loadgen.DefaultSize
	fs.Var(sizeFlag{&cfg.Size}, "size", "payload bytes per message (e.g. 16, 4KiB)")
	fs.StringVar(&content, "content", "ascii", "ascii or utf8 (multi-byte and length-changing runes)")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "run this long first, not measured")
	fs.DurationVar(&cfg.Duration, "duration", loadgen.DefaultDuration, "measured time")
	fs.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultTimeout, "deadline of every connect, read and write; a connection past it is replaced")
	fs.IntVar(&cfg.Workers, "workers", 0, fmt.Sprintf("event loops (0 = %d)", loadgen.DefaultWorkers()))
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the message contents")
	fs.StringVar(&form, "format", "text", "text or json")
	fs.StringVar(&hgrm, "hgrm", "", "also write the latency percentile distribution (.hgrm, ms) to this file")
	fs.Var(thresholdsFlag{&thresholds}, "threshold", thresholdHelp)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	var err error
	if cfg.Framing, err = protocol.ParseFraming(framing); err != nil {
		return usagef("load: --framing %q: want raw, line or length", framing)
	}
	cfg.Content = loadgen.Content(content)
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

	fmt.Fprintf(stderr, "load: %d conns to %s %s for %s (+%s warm-up)\n", cfg.Conns, cfg.Network, cfg.Addr, cfg.Duration, cfg.Warmup)
	res, err := loadgen.Run(ctx, cfg)
	if res == nil {
		if errors.Is(err, loadgen.ErrConfig) || errors.Is(err, loadgen.ErrFDLimit) {
			return usagef("load: %v", err)
		}
		return fmt.Errorf("load: %w", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "load: %v (partial result follows)\n", err)
	}
	if hgrm != "" {
		if werr := writeHgrm(hgrm, res); werr != nil {
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
	if len(missed) > 0 {
		return fmt.Errorf("load: %w: %d of %d", ErrThresholds, len(missed), len(thresholds))
	}
	return nil
}

func writeHgrm(path string, res *loadgen.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("load: --hgrm: %w", err)
	}
	if err := loadgen.WriteHgrm(f, res); err != nil {
		f.Close()
		return fmt.Errorf("load: --hgrm %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("load: --hgrm %s: %w", path, err)
	}
	return nil
}
