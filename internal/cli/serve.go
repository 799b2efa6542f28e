package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"archbench/protocol"
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
		for _, d := range a.Defects {
			fmt.Fprintf(stdout, "%-12s   known defect (%s): %s [%s]\n", "", d.Case, d.Reason, d.Upstream)
		}
	}
	return nil
}

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "--arch NAME [flags]", stderr)
	var (
		arch, framing, logLevel string
		cfg                     servers.Config
	)
	fs.StringVar(&arch, "arch", "", "architecture to serve (see archbench list)")
	fs.StringVar(&cfg.Addr, "addr", "", "listen address: host:port, port 0 picks one (default 127.0.0.1:7000; [::1]:7000 for tcp6; a path for unix)")
	fs.StringVar(&cfg.Network, "network", "tcp", "tcp, tcp6 or unix")
	fs.StringVar(&framing, "framing", "raw", "raw, line or length")
	fs.IntVar(&cfg.Workers, "workers", servers.DefaultWorkers, "workerpool: accepting goroutines; epoll-pool, gnet-pool: handler goroutines")
	fs.IntVar(&cfg.Loops, "loops", servers.DefaultLoops, "event-loop architectures: number of loops")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "close connections beyond this many at once (0 = no cap)")
	cfg.OutCap, cfg.MaxMsg = servers.DefaultOutCap, protocol.DefaultMaxMsg
	fs.Var(sizeFlag{&cfg.OutCap}, "out-cap", "per-connection pending output cap, bytes (e.g. 4MiB)")
	fs.Var(sizeFlag{&cfg.MaxMsg}, "max-msg", "largest framed message, bytes (e.g. 1MiB)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close a connection idle this long (0 = never)")
	fs.DurationVar(&cfg.Work.CPU, "work-cpu", 0, "framed modes: busy CPU time spent per message (e.g. 100us)")
	fs.DurationVar(&cfg.Work.Sleep, "work-sleep", 0, "framed modes: blocking sleep per message (e.g. 10ms)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if arch == "" {
		return usagef("serve: --arch is required (one of: %s)", strings.Join(servers.Names(), ", "))
	}
	a, err := servers.Lookup(arch)
	if err != nil {
		return usagef("serve: unknown architecture %q (one of: %s)", arch, strings.Join(servers.Names(), ", "))
	}
	if cfg.Framing, err = protocol.ParseFraming(framing); err != nil {
		return usagef("serve: --framing %q: want raw, line or length", framing)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return usagef("serve: --log-level %q: want debug, info, warn or error", logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return usagef("serve: %v", err)
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
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(stdout, "listening on %s\n", srv.Addr())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}

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
