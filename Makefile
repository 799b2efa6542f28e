# archbench: `make bench` runs the quick suite on this machine; `make test` proves it.
GO      ?= go
BIN     := bin/archbench
SUITE   ?= quick
# REPS empty: the suite's own design (quick: a 4m30s budget, at least 3
# repetitions each); REPS=N: a fixed design of N repetitions.
REPS    ?=
RUNARGS ?=

.PHONY: all build bench test check fmt-check vet cross race fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/archbench

## bench: build, then run the quick suite against every architecture and print the tables
## (under 5 minutes: quick's budget is 4m30s).
bench: build
	$(BIN) run --suite $(SUITE) $(if $(REPS),--reps $(REPS)) $(RUNARGS)

## test: gofmt check, go vet, and every test under the race detector.
test: fmt-check vet race

check: test

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# cross: the darwin build and its tests compile (no Linux-only call outside
# a _linux file). Not in test: about 50 s on a cold cache, for a platform
# archbench does not measure on.
cross:
	GOOS=darwin $(GO) vet ./...

race:
	$(GO) test -race -timeout 9m ./...

## fuzz: a short run of every fuzz target (not part of `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzUpper -fuzztime 30s ./protocol
	$(GO) test -run '^$$' -fuzz FuzzCodec -fuzztime 30s ./protocol
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./xmlrpc

clean:
	rm -rf bin
