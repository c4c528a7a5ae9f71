# jailer — build, test, benchmark, demo.
GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A static binary without urfave/cli's document generators starts faster.
export CGO_ENABLED := 0
# encoding/json built on the json/v2 implementation (the same API and
# behaviour): it reads a lock in half the time (1.2 -> 0.66 ms for a jail
# of 100 programs). Added to the experiments the caller's GOEXPERIMENT
# names, if any.
comma   := ,
export GOEXPERIMENT := $(if $(GOEXPERIMENT),$(GOEXPERIMENT)$(comma))jsonv2
TAGS    := urfave_cli_no_docs
# The jail's init is a program of its own, bin/jailer-init, beside
# bin/jailer, which starts it when its Go build ID is the one linked in
# here (else jailer starts itself as the init: see jail/enter/initprog.go).
INITID  := github.com/jailer-dev/jailer/jail/enter.initBuildID
# bin/jailer is lean (tag jailer_lean): it leaves `jailer export` and the
# registry client it needs to bin/jailer-full, the whole program, whose
# build ID is linked in here (cmd/jailer/export_lean.go). Every other
# command starts 0.8 ms sooner.
FULLID  := main.fullBuildID
DEMO    := testdata/examples/shell.yaml

.PHONY: all build test test-short bench demo install fuzz clean man

all: build

build:
	$(GO) build -trimpath -ldflags '-s -w' -o bin/jailer-init ./cmd/jailer-init
	$(GO) build -trimpath -tags $(TAGS) -ldflags "$(LDFLAGS) -X $(INITID)=$$($(GO) tool buildid bin/jailer-init)" -o bin/jailer-full ./cmd/jailer
	$(GO) build -trimpath -tags $(TAGS),jailer_lean -ldflags "$(LDFLAGS) -X $(INITID)=$$($(GO) tool buildid bin/jailer-init) -X $(FULLID)=$$($(GO) tool buildid bin/jailer-full)" -o bin/jailer ./cmd/jailer

# Every test: vet, unit, CLI scripts, and, as root, the tests that build real
# jails (with CI=true they fail rather than skip when not root).
test:
	$(GO) vet ./...
	$(GO) vet -tags $(TAGS),jailer_lean ./cmd/jailer
	$(GO) test -count=1 -timeout 20m ./...

# The quick loop, without root: -short skips the tests that need root, the
# corpus, the foreign suite and the builds of big jails.
test-short:
	$(GO) test -short ./...

# Go benchmarks, then the comparison with jailkit, lddtree and cp -a, entry
# latency against bwrap, the floor under it (a C init started by a C and
# by a Go front end), the same without root (as jailer-ci), and the
# content store's disk use, build time and pushes.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 10x ./jail/...
	bench/compare.sh
	bench/enter.sh
	bench/floor.sh
	bench/rootless.sh
	bench/store.sh

# The parsers of untrusted input: manifests, the init's config and exec
# requests (sent over a pipe and a socket), and a lock's check file.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./manifest
	$(GO) test -run '^$$' -fuzz FuzzConfigDecode -fuzztime 30s ./jail/enter/jailinit
	$(GO) test -run '^$$' -fuzz FuzzDecodeExec -fuzztime 30s ./jail/enter/jailinit
	$(GO) test -run '^$$' -fuzz FuzzDecodeCheck -fuzztime 30s ./jail/lockfile

# Build the example jail and run a command in it: as root, or as any user
# where jailer doctor says enter works.
demo: build
	./bin/jailer doctor
	./bin/jailer build $(DEMO)
	./bin/jailer plan $(DEMO) | head -n 12
	@echo '--- inside the jail (jailer enter, as the manifest says: user tester):'
	./bin/jailer enter --no-tty testdata/examples/shell.jail /bin/bash -c 'cat /etc/motd; id; uname -n; ls -l /home; ls /bin'
	./bin/jailer check testdata/examples/shell.jail
	@echo '--- jailer run: build if stale, then run (here: up to date):'
	./bin/jailer run $(DEMO) -- /bin/bash -c 'echo "hello from $$(uname -n) as $$(whoami)"'
	@echo '--- jailer export: a reproducible tar and a docker-archive image:'
	./bin/jailer export testdata/examples/shell.jail -o bin/shell.tar
	./bin/jailer export testdata/examples/shell.jail -f docker -o bin/shell.docker.tar
	./bin/jailer info testdata/examples/shell.jail

# The manual page, made from the commands and flags by a build that keeps
# urfave/cli's document generators (bin/jailer leaves them out).
man: jailer.1

jailer.1: go.mod $(wildcard cmd/jailer/*.go)
	$(GO) run -trimpath ./cmd/jailer man > $@.tmp
	mv $@.tmp $@

# The program, its manual page, and completion for bash, zsh and fish.
install: build jailer.1
	install -D -m 0755 bin/jailer $(DESTDIR)$(PREFIX)/bin/jailer
	install -D -m 0755 bin/jailer-init $(DESTDIR)$(PREFIX)/bin/jailer-init
	install -D -m 0755 bin/jailer-full $(DESTDIR)$(PREFIX)/bin/jailer-full
	install -D -m 0644 jailer.1 $(DESTDIR)$(PREFIX)/share/man/man1/jailer.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	bin/jailer completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/jailer
	bin/jailer completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_jailer
	bin/jailer completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/jailer.fish

clean:
	rm -rf bin jailer.1 jailer.1.tmp testdata/examples/*.jail testdata/examples/*.jailer.lock testdata/examples/.*.jailer.flock
