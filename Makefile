# jailer — build, test, benchmark, demo.
GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A static binary without urfave/cli's document generators starts faster;
# it is also the jail's init, started once per `jailer enter`.
export CGO_ENABLED := 0
TAGS    := urfave_cli_no_docs
DEMO    := testdata/examples/shell.yaml

.PHONY: all build test test-short bench demo install fuzz clean

all: build

build:
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o bin/jailer ./cmd/jailer

# Every test: vet, unit, CLI scripts, and, as root, the tests that build real
# jails (with CI=true they fail rather than skip when not root).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

# Go benchmarks, then the comparison with jailkit, lddtree and cp -a.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 10x ./jail
	bench/compare.sh
	bench/enter.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./manifest

# Build the example jail and run a command in it.
demo: build
	./bin/jailer build $(DEMO)
	./bin/jailer plan $(DEMO) | head -n 12
	@echo '--- inside the jail (jailer enter, as the manifest says: user tester):'
	./bin/jailer enter --no-tty testdata/examples/shell.jail /bin/bash -c 'cat /etc/motd; id; uname -n; ls -l /home; ls /bin'
	./bin/jailer check testdata/examples/shell.jail

install: build
	install -D -m 0755 bin/jailer $(DESTDIR)$(PREFIX)/bin/jailer

clean:
	rm -rf bin testdata/examples/*.jail testdata/examples/*.jailer.lock testdata/examples/.*.jailer.flock
