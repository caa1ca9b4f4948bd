# xigmp - build, test, demo.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# The Swift toolchain's clang targets bpf; any clang >= 14 does.
CLANG ?= $(shell command -v clang)
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -Ibpf -I/usr/include/$(MULTIARCH)
BUILD := build
BPF_OBJS := $(BUILD)/bpf/igmp_classify.bpf.o $(BUILD)/bpf/igmp_egress.bpf.o \
	$(BUILD)/bpf/xdp_pass.bpf.o
EMBED := Sources/CXigmp/generated/bpf_objects.inc
SWIFT_FLAGS ?=
XIGMP_DEBUG := .build/debug/xigmp
XIGMP := .build/release/xigmp

# make install: PREFIX for the binary, unit and completions; SYSCONFDIR for
# the configuration (the unit reads /etc/xigmp/xigmp.yaml whatever PREFIX
# is); DESTDIR is prepended to every path (staging, packaging).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR = $(PREFIX)/bin
# The unit goes under PREFIX, where packages put theirs (/usr/local/lib/
# systemd/system and /usr/lib/systemd/system are on systemd's search path,
# systemd.unit(5)): /etc/systemd/system stays the admin's, so an override
# made there (`systemctl edit xigmp`) wins and `make uninstall` never
# removes it.
UNITDIR = $(PREFIX)/lib/systemd/system
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
EXAMPLE_CONFIG := contrib/xigmp.example.yaml

.PHONY: help test-kernel build deps deps-test deps-demo deps-bench bench bpf swift-debug test unit-test demo-classifier \
	integration-test demo fuzz clean install uninstall

help:
	@echo "make            build BPF objects and the release xigmp binary"
	@echo "make test       every test: unit, BPF_PROG_TEST_RUN, namespace integration"
	@echo "make test-kernel the tests needing the kernel MFC / clsact, in Debian's 6.1 kernel (QEMU)"
	@echo "make demo       the namespace demo (kernel hosts join/leave, live stats)"
	@echo "make bench      the benchmark suite (bench/results/latest.json, plot, table)"
	@echo "make fuzz       libFuzzer on the IGMP decoder, then the config parser (FUZZ_SECONDS each, default 600)"
	@echo "make install    binary, systemd unit, completions, example config (PREFIX=/usr/local, DESTDIR)"
	@echo "make uninstall  remove them (the config only if it is still the example)"
	@echo "make clean      remove build products"

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-demo:
	@scripts/deps.sh demo
deps-bench:
	@scripts/deps.sh bench

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.h | deps
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(EMBED): $(BPF_OBJS) bpf/embed.sh
	@mkdir -p $(@D)
	bpf/embed.sh $@ igmp_classify=$(BUILD)/bpf/igmp_classify.bpf.o \
		igmp_egress=$(BUILD)/bpf/igmp_egress.bpf.o \
		xdp_pass=$(BUILD)/bpf/xdp_pass.bpf.o

bpf: $(EMBED)

build: bpf
	swift build -c release $(SWIFT_FLAGS)

# The release binary as a file, rebuilt when a source is newer: what
# `make install` needs (XIGMP=PATH installs another build instead).
SWIFT_SOURCES := $(shell find Sources examples/membership-reporter -name '*.swift' -o -name '*.[ch]') Package.swift
.build/release/xigmp: $(SWIFT_SOURCES) $(EMBED)
	swift build -c release $(SWIFT_FLAGS)

install: $(XIGMP)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/xigmp \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(XIGMP) $(DESTDIR)$(BINDIR)/xigmp
	sed -e 's|/usr/local/bin/xigmp|$(BINDIR)/xigmp|g' -e 's|/etc/xigmp/|$(SYSCONFDIR)/xigmp/|g' \
		-e 's|/usr/local/lib/systemd/system/xigmp.service|$(UNITDIR)/xigmp.service|g' \
		contrib/systemd/xigmp.service >$(DESTDIR)$(UNITDIR)/xigmp.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/xigmp.service
	$(XIGMP) --generate-completion-script bash >$(DESTDIR)$(BASHCOMPDIR)/xigmp
	$(XIGMP) --generate-completion-script zsh >$(DESTDIR)$(ZSHCOMPDIR)/_xigmp
	$(XIGMP) --generate-completion-script fish >$(DESTDIR)$(FISHCOMPDIR)/xigmp.fish
	@conf=$(DESTDIR)$(SYSCONFDIR)/xigmp/xigmp.yaml; \
	if [ -e "$$conf" ]; then echo "kept $$conf (not replaced)"; \
	else install -m 0644 $(EXAMPLE_CONFIG) "$$conf" && echo "installed the example config $$conf: name your interfaces in it"; fi
	@[ -n "$(DESTDIR)" ] || echo "then: systemctl daemon-reload && systemctl enable --now xigmp"

# The configuration goes only if it is still the example: an edited one stays.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/xigmp $(DESTDIR)$(UNITDIR)/xigmp.service $(DESTDIR)$(BASHCOMPDIR)/xigmp \
		$(DESTDIR)$(ZSHCOMPDIR)/_xigmp $(DESTDIR)$(FISHCOMPDIR)/xigmp.fish
	@conf=$(DESTDIR)$(SYSCONFDIR)/xigmp/xigmp.yaml; \
	if cmp -s $(EXAMPLE_CONFIG) "$$conf"; then rm -f "$$conf"; \
	elif [ -e "$$conf" ]; then echo "kept $$conf (edited; remove it by hand)"; fi; \
	rmdir $(DESTDIR)$(SYSCONFDIR)/xigmp 2>/dev/null || true
	@[ -n "$(DESTDIR)" ] || echo "then: systemctl daemon-reload"

swift-debug: bpf
	swift build --build-tests $(SWIFT_FLAGS)

unit-test: deps-test swift-debug
	swift test --skip-build $(SWIFT_FLAGS)

integration-test: deps-test swift-debug
	XIGMP=$(XIGMP_DEBUG) netns-tests/run.sh

test: deps-test swift-debug
	scripts/run-tests.sh

# The tests that need what this kernel may lack (the MFC, clsact without tcx),
# in Debian's 6.1 kernel under QEMU.
test-kernel: deps-test swift-debug
	scripts/test-kernel.sh

demo: deps-demo build
	XIGMP=$(XIGMP) scripts/demo.sh

demo-classifier: deps-demo build
	XIGMP=$(XIGMP) scripts/demo-classifier.sh

bench: deps-bench build
	bench/run.sh

fuzz: deps
	fuzz/run.sh $${FUZZ_SECONDS:-600}

clean:
	rm -rf $(BUILD) Sources/CXigmp/generated .build
