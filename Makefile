# The README's test command is `make test`; .ci/run calls exactly that.
GO       ?= go
FUZZTIME ?= 60s

# Nested modules with peers for interop tests and benchmarks.
NESTED   := internal/interop internal/bench

.PHONY: test fmtcheck vet race nested fuzz bench

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
