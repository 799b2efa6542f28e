#!/bin/sh
# Hostile clients at full size against every architecture (the short form
# runs in `make test`): slowloris 500 connections, a 50 MB writer that never
# reads, a 4 GiB length header, a 10 MB line without a newline, 2,000
# connect-then-reset, a partial rune then a half-close, and 60 writers that
# never read against --out-total 16MiB with the server's peak RSS checked.
# Each server is an `archbench serve` process, stopped with SIGTERM (exit 0
# within 5 s). Prints one line per case and architecture.
set -eu
cd "$(dirname "$0")/.."
exec go test -count=1 -v -timeout 20m -run TestHostileClients ./internal/hostile -args -hostile.full
