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

.PHONY: help test-kernel build deps deps-test deps-demo deps-bench bench bpf swift-debug test unit-test demo-classifier \
	integration-test demo fuzz clean

help:
	@echo "make            build BPF objects and the release xigmp binary"
	@echo "make test       every test: unit, BPF_PROG_TEST_RUN, namespace integration"
	@echo "make test-kernel the tests needing the kernel MFC / clsact, in Debian's 6.1 kernel (QEMU)"
	@echo "make demo       the namespace demo (kernel hosts join/leave, live stats)"
	@echo "make bench      the benchmark suite (bench/results/latest.json, plot, table)"
	@echo "make fuzz       libFuzzer on the IGMP decoder (FUZZ_SECONDS, default 600)"
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

swift-debug: bpf
	swift build --build-tests $(SWIFT_FLAGS)

unit-test: deps-test swift-debug
	swift test --skip-build $(SWIFT_FLAGS)

integration-test: deps-test swift-debug
	XIGMP=$(XIGMP_DEBUG) tests/integration/run.sh

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
