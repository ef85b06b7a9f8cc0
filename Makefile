# The README's test command is `make test`; .ci/run calls exactly that.
GO       ?= go
FUZZTIME ?= 60s
SOAKTIME ?= 10m
ATTACKFLAGS ?=

# Nested modules with peers for interop tests and benchmarks.
NESTED   := internal/interop internal/bench

.PHONY: test fmtcheck vet race nested fuzz bench soak attack

test: fmtcheck vet race nested

fmtcheck:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path '*/node_modules/*' -not -path '*/testdata/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 ./...

nested:
	@set -e; for m in $(NESTED); do \
		echo "== $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -count=1 ./...); \
	done

# Runs every fuzz target for FUZZTIME each (seed corpora also run in `make test`).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$fz"; \
			$(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./framing ./hpackz ./flowctl ./session

# The long run: spdyproxy, several origins and a media-client simulation for
# SOAKTIME, reporting memory, goroutines, streams, errors and throughput each
# minute; it fails if they grow after warm-up.
soak:
	$(GO) run ./internal/soak -duration $(SOAKTIME)

# The full attack suite, aimed at spdyd and spdyproxy processes it builds and
# starts on 127.0.0.1, with their peak memory and CPU per attack.
attack:
	$(GO) run ./internal/attack/cmd/spdyattack -spawn $(ATTACKFLAGS)
