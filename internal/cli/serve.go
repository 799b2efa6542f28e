package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"archbench/baselines"
	"archbench/internal/settings"
	"archbench/servers"
	_ "archbench/servers/all" // every architecture
)

// ShutdownGrace bounds a graceful stop; the process exits 0 within 5 s.
const ShutdownGrace = 4 * time.Second

func init() {
	register("list", "list the architectures, with any known defects of their libraries", runList)
	register("serve", "run one architecture's server until SIGINT or SIGTERM", runServe)
}

func runList(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", "", stderr)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	for _, a := range servers.Archs() {
		fmt.Fprintf(stdout, "%-12s %s\n", a.Name, a.Summary)
		fmt.Fprintf(stdout, "%-12s   networks: %s\n", "", strings.Join(a.Nets(), ", "))
		if a.Protocol != "" {
			fmt.Fprintf(stdout, "%-12s   protocol %s, not the byte protocol: `archbench call`, `load --protocol %s`\n", "", a.Protocol, a.Protocol)
		}
		for _, d := range a.Defects {
			fmt.Fprintf(stdout, "%-12s   known defect (%s): %s [%s]\n", "", d.Case, d.Reason, d.Upstream)
		}
	}
	fmt.Fprintln(stdout, "\nbaselines (external programs, raw framing over tcp; a suite's external: list, e.g. --suite baselines):")
	for _, b := range baselines.All() {
		fmt.Fprintf(stdout, "%-12s %s\n", b.Name, b.Summary)
	}
	return nil
}

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// serveFlags parses `archbench serve`'s command line.
func serveFlags(args []string, stderr io.Writer) (arch servers.Arch, cfg servers.Config, level slog.Level, err error) {
	fs := newFlags("serve", "--arch NAME [--config JSON] [flags]", stderr)
	var name, logLevel string
	cfg = servers.DefaultConfig()
	cfg.Addr = ""    // its default depends on --network
	cfg.Logger = nil // runServe's, at --log-level
	fs.StringVar(&name, "arch", "", "architecture to serve (see archbench list)")
	fs.Var(configFlag{&cfg}, "config", "the whole server configuration as JSON (as results.json records it; the runner passes it); later flags override its fields")
	settings.BindFlags(fs, &cfg)
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return arch, cfg, level, err
	}
	if name == "" {
		return arch, cfg, level, usagef("serve: --arch is required (one of: %s)", strings.Join(servers.Names(), ", "))
	}
	if arch, err = servers.Lookup(name); err != nil {
		return arch, cfg, level, usagef("serve: unknown architecture %q (one of: %s)", name, strings.Join(servers.Names(), ", "))
	}
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return arch, cfg, level, usagef("serve: --log-level %q: want debug, info, warn or error", logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return arch, cfg, level, usagef("serve: %v", err)
	}
	if err := arch.CheckNetwork(cfg.Network); err != nil {
		return arch, cfg, level, usagef("serve: %v: use --network %s", err, arch.Nets()[0])
	}
	return arch, cfg, level, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, cfg, level, err := serveFlags(args, stderr)
	if err != nil {
		return helpOK(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log.With("arch", a.Name)

	// Signals are caught before the readiness line, so a SIGTERM right after
	// it is a graceful stop, never a kill.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)

	srv, err := servers.New(a.Name, cfg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := srv.Start(); err != nil {
		return startError(a.Name, err)
	}
	fmt.Fprintf(stdout, "%s%s\n", servers.ListeningPrefix, srv.Addr())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	// However it ends, the last line on stdout is the server's counters
	// (the runner records them: accepted, rejected, system calls).
	defer func() {
		if b, err := json.Marshal(srv.Stats()); err == nil {
			fmt.Fprintf(stdout, "%s%s\n", servers.StatsPrefix, b)
		}
	}()

	select {
	case s := <-sig:
		log.Info("stopping", "signal", s.String())
	case <-ctx.Done():
		log.Info("stopping", "reason", ctx.Err())
	case <-srv.Done():
		return fmt.Errorf("serve: %s stopped serving: %w", a.Name, srv.Err())
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("graceful stop timed out; remaining connections were closed", "err", err)
	}
	if err := srv.Err(); err != nil {
		return fmt.Errorf("serve: %s: %w", a.Name, err)
	}
	return nil
}

// startError is serve's error for a server that could not start: one line
// and exit 2 when the architecture cannot run on this machine at all
// (servers.ErrUnavailable) or cannot listen on the address given (in use,
// a unix socket's folder missing, a host that does not resolve:
// servers.IsAddrError), exit 1 otherwise.
func startError(arch string, err error) error {
	if errors.Is(err, servers.ErrUnavailable) || servers.IsAddrError(err) {
		return usagef("serve: %s: %v", arch, err)
	}
	return fmt.Errorf("serve: %w", err)
}

// configFlag is --config: a servers.Config as JSON, decoded over the
// defaults; an unknown key is an error.
type configFlag struct{ cfg *servers.Config }

func (c configFlag) String() string { return "" }

func (c configFlag) Set(s string) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c.cfg); err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	return nil
}
