# dlbhc -- Deep Learning of Binary Hash Codes, from scratch in C++17.
#
# Switches (set on the command line, e.g. `make OPENMP=0 test`):
#   OPENMP=1  parallel loops with OpenMP (default); OPENMP=0 a plain serial build
#   DEBUG=1   -O1 -g with AddressSanitizer + UndefinedBehaviorSanitizer
#   NATIVE=1  -march=native (the default build is portable x86-64; SIMD is chosen at run time)
#   ARCH=aarch64  cross-compile with $(ARCH)-linux-gnu-g++ into build/aarch64-<variant>/ (the x86
#             kernels and their run-time dispatch compile out; `make test-aarch64` runs the tests)
OPENMP ?= 1
DEBUG ?= 0
NATIVE ?= 0
ARCH ?=

CXX      ?= g++
CXXFLAGS := -std=c++17 -Wall -Wextra -Wno-unused-parameter -I. -MMD -MP
LDFLAGS  :=
LDLIBS   := -lpthread

# Each switch combination builds into its own folder, so switching never mixes objects.
VARIANT := release
ifeq ($(DEBUG),1)
  CXXFLAGS += -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
  VARIANT := debug
else
  CXXFLAGS += -O3 -g0 -DNDEBUG
endif
ifeq ($(NATIVE),1)
  CXXFLAGS += -march=native
  VARIANT := $(VARIANT)-native
endif
ifeq ($(OPENMP),1)
  CXXFLAGS += -fopenmp
  LDFLAGS  += -fopenmp
else
  CXXFLAGS += -Wno-unknown-pragmas
  VARIANT := $(VARIANT)-noomp
endif

# The cross compiler replaces CXX even when CXX is given on the command line (a `make CXX=...
# test-aarch64` would otherwise build aarch64 objects with the host compiler); CROSS_CXX may add
# ccache. It does not search /usr/include, where Debian puts the two header-only libraries we use
# (stb, doctest: architecture-independent), so $(CROSS_INC) holds links to just those two folders.
ifneq ($(ARCH),)
  CROSS_CXX ?= $(ARCH)-linux-gnu-g++
  override CXX := $(CROSS_CXX)
  VARIANT := $(ARCH)-$(VARIANT)
endif

BUILD_ROOT ?= build
BUILD := $(BUILD_ROOT)/$(VARIANT)

# Every .cpp in these folders is built; the lists may be overridden to build a subset.
LIB_SRC   ?= $(wildcard io/*.cpp nn/*.cpp formats/*.cpp hash/*.cpp search/*.cpp data/*.cpp)
APP_SRC   ?= $(wildcard apps/*.cpp)
# The tests: tests/main.cpp, tests/<product folder>/ for each product folder, tests/support/ (the
# shared helpers) and tests/fuzz/, whose targets the tests also replay over the corpus (fuzz_main.cpp
# and make_seeds.cpp there are programs of their own).
TEST_SRC  ?= $(filter-out tests/fuzz/fuzz_main.cpp tests/fuzz/make_seeds.cpp,$(wildcard tests/*.cpp tests/*/*.cpp))
# Each bench/*.cpp is its own program (with its own main); `make bench` runs them all.
BENCH_SRC ?= $(wildcard bench/*.cpp)

LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
APP_OBJ   := $(APP_SRC:%.cpp=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
BENCH_BIN := $(BENCH_SRC:%.cpp=$(BUILD)/%)

LIB   := $(BUILD)/libdlbhc.a
APP   := $(BUILD)/dlbhc
TESTS := $(BUILD)/dlbhc_tests

# What the build, the tests and the demo need from Debian packages: a file each package installs.
# `make deps` checks them; as root on Debian it installs what is missing, otherwise it prints the
# apt-get command and fails.
STB_H       := /usr/include/stb/stb_image.h
DOCTEST_H   := /usr/include/doctest/doctest.h
ONNX_DATA   := /usr/share/libonnx-testdata/data/node
FASHION_DIR := /usr/share/datasets/fashion-mnist
# The real FAISS (Python) reads back what `dlbhc export --format faiss` writes (tests/apps/test_export.cpp);
# it is a test reference only, never linked into the product.
FAISS_PY    := /usr/lib/python3/dist-packages/faiss/__init__.py
DEPS_PKGS   := libstb-dev doctest-dev libonnx-testdata dataset-fashion-mnist python3-faiss

# A cross build (ARCH=...) sees only these two of /usr/include's folders (see ARCH above).
ifneq ($(ARCH),)
  CROSS_INC := $(BUILD)/include
  CXXFLAGS  += -isystem $(CROSS_INC)
endif

.PHONY: all deps demo-deps fuzz-deps cross-deps test test-aarch64 cross-test static bench demo clean help fuzz fuzz-smoke \
        fuzz-build fuzz-seeds

all: $(APP)
	@ln -sf $(VARIANT)/dlbhc build/dlbhc
	@echo "built $(APP) (also build/dlbhc)"

help:
	@echo "make            build the library and the dlbhc program into $(BUILD)/"
	@echo "make demo       train, index and evaluate on Fashion-MNIST; writes demo/report.html"
	@echo "make test       install missing dependencies, build and run the doctest suite"
	@echo "make bench      build and run the benchmarks (not part of make test)"
	@echo "make fuzz       build the libFuzzer targets (clang, ASan+UBSan) and run each FUZZ_SECONDS (default $(FUZZ_SECONDS))"
	@echo "make fuzz-smoke the same for FUZZ_SMOKE_SECONDS (default $(FUZZ_SMOKE_SECONDS)) each; part of .ci/run"
	@echo "make static     link $(STATIC_APP) with -static (OpenMP included), check it is static and runs"
	@echo "make test-aarch64  cross-build the suite for aarch64 (aarch64-linux-gnu-g++, into build/aarch64-<variant>/)"
	@echo "                and run it under qemu-aarch64; prints both times (needs g++-aarch64-linux-gnu, qemu-user)"
	@echo "make deps       check for (and as root on Debian install) $(DEPS_PKGS)"
	@echo "switches:       OPENMP=0  DEBUG=1  NATIVE=1  ARCH=aarch64 (cross-compile with CROSS_CXX, default aarch64-linux-gnu-g++)"

# $(call need_pkgs,<file pkg> pairs...): installs (as root) or names the packages whose file is missing.
define need_pkgs
	@missing=""; \
	for pair in $(1); do f=$${pair%%=*}; p=$${pair#*=}; [ -e $$f ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -q && apt-get install -y -q $$missing || { echo "deps: apt-get install$$missing failed" >&2; exit 1; }; \
	  else \
	    echo "deps: missing Debian packages:$$missing" >&2; \
	    echo "deps: run as root:  apt-get update && apt-get install -y$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

# The tests read ONNX's backend cases and a Fashion-MNIST subset (the end-to-end test); the demo
# trains on Fashion-MNIST.
deps:
	$(call need_pkgs,$(STB_H)=libstb-dev $(DOCTEST_H)=doctest-dev $(ONNX_DATA)=libonnx-testdata $(FASHION_DIR)=dataset-fashion-mnist $(FAISS_PY)=python3-faiss)

demo-deps: deps

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(APP): $(APP_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(APP_OBJ) $(LIB) $(LDLIBS)

# The tests also link the subcommands (everything in apps/ but main), so they can run a command
# end to end as a function call.
APP_CMD_OBJ := $(filter-out $(BUILD)/apps/main.o,$(APP_OBJ))

$(TESTS): $(TEST_OBJ) $(APP_CMD_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJ) $(APP_CMD_OBJ) $(LIB) $(LDLIBS)

# Keep the benchmark objects (make would delete them as intermediates and rebuild every time).
.SECONDARY: $(BENCH_BIN:%=%.o)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(BENCH_LDLIBS)

$(BUILD)/%.o: %.cpp | $(CROSS_INC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# stb_image_write's JPEG encoder shifts negative ints left (undefined before C++20, two's
# complement with g++); only that one UBSan check is off, only for the file that compiles stb.
$(BUILD)/data/stb_impl.o: CXXFLAGS += -fno-sanitize=shift-base

# The test binary is built after deps have been checked (it includes doctest.h).
test: deps
	@$(MAKE) --no-print-directory $(TESTS) $(APP)
	$(TESTS) $(TEST_ARGS)

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b $(BENCH_ARGS) || exit 1; done
	@# issue 14: multi-index hashing at 10M codes as well (about 6 minutes), unless BENCH_ARGS is set
	@if [ -z "$(BENCH_ARGS)" ] && [ -x $(BUILD)/bench/bench_mih ]; then \
	  echo "== $(BUILD)/bench/bench_mih --n 10000000"; $(BUILD)/bench/bench_mih --n 10000000 || exit 1; fi

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_BIN:%=%.d)

# ---- Portability (issue 13): a static binary, and the tests on aarch64 under qemu-user ----------
# `make static` links $(BUILD)/dlbhc-static from the same objects as dlbhc, with -static (libc,
# libstdc++ and libgomp included: it runs on any Linux of its architecture), then checks that it
# is static and runs `--help`, `version` and a small forward/backward pass (OpenMP threads too).
# The linker's warning that libgomp uses dlopen concerns OpenMP offloading, which dlbhc never does.
STATIC_APP := $(BUILD)/dlbhc-static
# How to run a program of this build: directly, or (ARCH=...) under qemu-user with the cross
# libraries. binfmt_misc need not be registered for qemu: everything below names qemu itself.
QEMU_SYSROOT ?= /usr/$(ARCH)-linux-gnu
RUN := $(if $(ARCH),qemu-$(ARCH) -L $(QEMU_SYSROOT))

$(STATIC_APP): $(APP_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -static -o $@ $(APP_OBJ) $(LIB) $(LDLIBS)

static:
	@$(MAKE) --no-print-directory $(STATIC_APP)
	@file -b $(STATIC_APP) | grep -q 'statically linked' || \
	  { echo "static: $(STATIC_APP) is not statically linked: $$(file -b $(STATIC_APP))" >&2; exit 1; }
	@$(if $(ARCH),,! ldd $(STATIC_APP) >/dev/null 2>&1 || \
	  { echo "static: ldd lists shared libraries for $(STATIC_APP):" >&2; ldd $(STATIC_APP) >&2; exit 1; })
	@$(RUN) $(STATIC_APP) --help >/dev/null
	@$(RUN) $(STATIC_APP) version
	@$(RUN) $(STATIC_APP) summary --net small --batch 4 --time >/dev/null
	@echo "static: $(STATIC_APP) is statically linked ($$(file -b $(STATIC_APP) | cut -d, -f1-2)) and runs"

# `make test-aarch64` cross-compiles the library, dlbhc and the test suite for aarch64 (ARCH=aarch64:
# aarch64-linux-gnu-g++, into $(BUILD_ROOT)/aarch64-<variant>/) and runs the suite under
# qemu-aarch64; the other switches (OPENMP=0, DEBUG=1) combine with it as usual. The tests that
# start the dlbhc program (directly, through a shell, or through weights/fetch.sh) get
# DLBHC_BIN = dlbhc-qemu, a script beside the cross-built dlbhc that runs it under qemu.
CROSS_PKGS := /usr/bin/aarch64-linux-gnu-g++=g++-aarch64-linux-gnu /usr/bin/qemu-aarch64=qemu-user

cross-deps:
	$(call need_pkgs,$(CROSS_PKGS))

test-aarch64: deps cross-deps
	@$(MAKE) --no-print-directory ARCH=aarch64 cross-test

# (Called by test-aarch64 with ARCH set.) Builds, then runs the suite, timing each.
cross-test:
	@start=$$(date +%s); $(MAKE) --no-print-directory $(TESTS) $(APP) || exit 1; \
	echo "cross-test: building $(BUILD) took $$(( $$(date +%s) - start )) s"
	@printf '#!/bin/sh\n# The $(ARCH) dlbhc beside this script, under qemu-user (written by make cross-test)\nexec $(RUN) "$$(dirname "$$0")/dlbhc" "$$@"\n' \
	  > $(BUILD)/dlbhc-qemu && chmod +x $(BUILD)/dlbhc-qemu
	@start=$$(date +%s); DLBHC_BIN=$(BUILD)/dlbhc-qemu $(RUN) $(TESTS) $(TEST_ARGS); status=$$?; \
	echo "cross-test: the suite under $(firstword $(RUN)) took $$(( $$(date +%s) - start )) s"; exit $$status

# The links of a cross build's include folder (ARCH above): /usr/include/stb and /usr/include/doctest.
ifneq ($(CROSS_INC),)
$(CROSS_INC):
	@mkdir -p $@
	ln -sfn $(patsubst %/,%,$(dir $(STB_H))) $@/stb
	ln -sfn $(patsubst %/,%,$(dir $(DOCTEST_H))) $@/doctest
endif
# ---- end of the portability section -------------------------------------------------------------

# ---- FAISS reference benchmark (search/, issue 3) ----------------------------------------------
# bench/bench_search_faiss.cpp times FAISS next to our search on the same data. FAISS is a
# reference for that benchmark program only: never linked into the library or the dlbhc program.
# It is built only when the FAISS headers are installed (Debian: libfaiss-dev, which ships a static
# libfaiss.a needing BLAS and LAPACK); without them `make bench` simply leaves it out.
# bench/bench_mih.cpp (issue 14) is built either way; with the headers it gets DLBHC_BENCH_FAISS
# and FAISS (IndexBinaryFlat) as a third column, without them it says FAISS was not available.
ifeq ($(wildcard /usr/include/faiss/IndexBinaryFlat.h),)
  BENCH_BIN := $(filter-out $(BUILD)/bench/bench_search_faiss,$(BENCH_BIN))
else
$(BUILD)/bench/bench_search_faiss: BENCH_LDLIBS += -lfaiss -llapack -lblas -fopenmp  # libfaiss.a needs libgomp even with OPENMP=0
$(BUILD)/bench/bench_mih.o: CXXFLAGS += -DDLBHC_BENCH_FAISS
$(BUILD)/bench/bench_mih: BENCH_LDLIBS += -lfaiss -llapack -lblas -fopenmp
endif
# ---- end of the FAISS section -------------------------------------------------------------------

# ---- OpenBLAS reference benchmark (speed, issue 6) ----------------------------------------------
# bench/bench_speed.cpp prints OpenBLAS's sgemm beside ours when libopenblas-dev is installed; only
# that benchmark program links it (never the library or the dlbhc program). The program itself
# sets OPENBLAS_CORETYPE=SkylakeX (OpenBLAS 0.3.21 misdetects the AVX-512 CPU as SSE3-only).
OPENBLAS_INC := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas))
ifneq ($(OPENBLAS_INC),)
$(BUILD)/bench/bench_speed.o: CXXFLAGS += -DDLBHC_BENCH_OPENBLAS -I$(OPENBLAS_INC)
$(BUILD)/bench/bench_speed: BENCH_LDLIBS += -lopenblas
endif
# ---- end of the OpenBLAS section ----------------------------------------------------------------

# ---- make demo (issue 5): the whole job on Fashion-MNIST ----------------------------------------
# Trains the small DLBHC net (weights/small_dlbhc_*.prototxt) on the 60,000 training images,
# indexes them, evaluates the 10,000 test images as queries with the paper's protocol and writes
# $(DEMO)/report.html. DATA=dir takes any folder with MNIST-format idx files (plain or .gz).
DATA ?= $(FASHION_DIR)
DEMO ?= demo
DEMO_NET := weights/small_dlbhc_train_val.prototxt
DEMO_SOLVER := weights/small_dlbhc_solver.prototxt

demo: demo-deps
	@$(MAKE) --no-print-directory -j$$(nproc 2>/dev/null || echo 2) all
	@mkdir -p $(DEMO)
	@set -e; start=$$(date +%s); \
	echo "== 1/3 train ($(DEMO_SOLVER)) on $(DATA)/train"; \
	$(APP) train --solver $(DEMO_SOLVER) --train-data $(DATA)/train --test-data $(DATA)/t10k \
	  --snapshot-prefix $(DEMO)/small_dlbhc --out $(DEMO)/small_dlbhc.weights; \
	t_train=$$(date +%s); \
	echo "== 2/3 index $(DATA)/train"; \
	$(APP) index --net $(DEMO_NET) --weights $(DEMO)/small_dlbhc.weights --data $(DATA)/train \
	  --out $(DEMO)/fashion_train.idx; \
	echo "== 3/3 evaluate $(DATA)/t10k against the index"; \
	$(APP) eval --net $(DEMO_NET) --weights $(DEMO)/small_dlbhc.weights --index $(DEMO)/fashion_train.idx \
	  --queries $(DATA)/t10k --db-data $(DATA)/train --json $(DEMO)/metrics.json \
	  --svg $(DEMO)/precision_at_k.svg --html $(DEMO)/report.html; \
	end=$$(date +%s); \
	echo "demo done in $$((end - start)) s (training $$((t_train - start)) s); report: $(DEMO)/report.html"; \
	echo "next: search the index for one test image (a page with the results as pictures):"; \
	echo "  build/dlbhc query --net $(DEMO_NET) --weights $(DEMO)/small_dlbhc.weights --index $(DEMO)/fashion_train.idx --item $(DATA)/t10k:0 --db-data $(DATA)/train --html $(DEMO)/query.html"; \
	echo "  or with your own picture (converted to 28x28 grey as the net expects):"; \
	echo "  build/dlbhc query --net $(DEMO_NET) --weights $(DEMO)/small_dlbhc.weights --index $(DEMO)/fashion_train.idx --image YOUR.png --html $(DEMO)/query.html"

# ---- Fuzzing (issue 7) --------------------------------------------------------------------------
# Every file reader has a libFuzzer target (tests/fuzz/targets.h); each is its own program
# $(FUZZ_BUILD)/fuzz_<name>, built with clang, AddressSanitizer and UndefinedBehaviorSanitizer and
# without OpenMP, from its own copy of the library objects. FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
# lets the readers go on past a checksum mismatch (io/xxhash64.h) so the fuzzer reaches the
# parsing behind it. The seed corpus is tests/fuzz/corpus/<name>/ (committed); inputs the fuzzer
# finds go to $(FUZZ_BUILD)/corpus/<name>/, crashes to $(FUZZ_BUILD)/artifacts/<name>/.
#   make fuzz FUZZ_SECONDS=1800 [FUZZ_RUNS=10000000] [FUZZ_TARGETS="idx npy"] [FUZZ_JOBS=2] [FUZZ_MAX_LEN=8192]
FUZZ_CXX           ?= clang++
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_RUNS          ?= -1
FUZZ_JOBS          ?= 1
FUZZ_MAX_LEN       ?= 65536
FUZZ_TARGETS       ?= $(notdir $(wildcard tests/fuzz/corpus/*))
FUZZ_BUILD         := $(BUILD_ROOT)/fuzz
FUZZ_CXXFLAGS      := -std=c++17 -I. -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                      -fno-sanitize-recover=undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
                      -Wall -Wno-unused-parameter -Wno-unknown-pragmas -MMD -MP
FUZZ_OBJ := $(LIB_SRC:%.cpp=$(FUZZ_BUILD)/%.o) \
            $(patsubst %.cpp,$(FUZZ_BUILD)/%.o,$(wildcard tests/fuzz/target*.cpp))
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
CLANG_FUZZER_LIB := $(firstword $(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a))

fuzz-deps:
	$(call need_pkgs,/usr/bin/clang++=clang $(or $(CLANG_FUZZER_LIB),/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a)=libclang-rt-14-dev)

# (Quiet: the flags are above; the objects are many.)
$(FUZZ_BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	@echo "fuzz: compiling $<"
	@$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# As in the other builds, stb_image_write's negative left shifts are not ours to fix.
$(FUZZ_BUILD)/data/stb_impl.o: FUZZ_CXXFLAGS += -fno-sanitize=shift-base

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_main.cpp $(FUZZ_OBJ)
	@echo "fuzz: linking $@"
	@$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer -DDLBHC_FUZZ_TARGET='"$*"' -o $@ $< $(FUZZ_OBJ) -lpthread

# Keep the objects (make would delete them as intermediates of the pattern rule above).
.SECONDARY: $(FUZZ_OBJ)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

fuzz: fuzz-build
	FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) -1 2 $(FUZZ_TARGETS)

# Regenerates the seed corpus (committed; run only when a format changes): the files dlbhc's own
# writers make (tests/fuzz/make_seeds.cpp), gzip variants, and the test fixtures.
FIXTURES := tests/fixtures
fuzz-seeds: $(LIB)
	$(CXX) $(CXXFLAGS) -o $(BUILD)/make_seeds tests/fuzz/make_seeds.cpp $(LDFLAGS) $(LIB) $(LDLIBS)
	$(BUILD)/make_seeds
	for f in labels.idx1 images.idx3; do gzip -9 -n -c tests/fuzz/corpus/idx/$$f > tests/fuzz/corpus/idx/$$f.gz; done
	mkdir -p tests/fuzz/corpus/prototxt tests/fuzz/corpus/solver tests/fuzz/corpus/caffemodel \
	         tests/fuzz/corpus/binaryproto tests/fuzz/corpus/onnx tests/fuzz/corpus/npy
	cp weights/caffenet_dlbhc_deploy.prototxt $(FIXTURES)/prototxt/small_dlbhc_v1.prototxt \
	   $(FIXTURES)/prototxt/small_dlbhc_v2.prototxt $(FIXTURES)/prototxt/bad_depth_bomb.prototxt \
	   tests/fuzz/corpus/prototxt/
	cp weights/small_dlbhc_solver.prototxt weights/solver_cifar10_48.prototxt tests/fuzz/corpus/solver/
	cp $(FIXTURES)/caffemodel/tiny_v0.caffemodel $(FIXTURES)/caffemodel/tiny_v1.caffemodel \
	   $(FIXTURES)/caffemodel/tiny_v2.caffemodel tests/fuzz/corpus/caffemodel/
	cp $(FIXTURES)/caffemodel/mini_mean.binaryproto tests/fuzz/corpus/binaryproto/
	cp $(FIXTURES)/caffemodel/tiny.onnx $(FIXTURES)/caffemodel/tensor_double.pb tests/fuzz/corpus/onnx/
	cp $(ONNX_DATA)/test_lrn/model.onnx tests/fuzz/corpus/onnx/lrn_model.onnx
	cp $(ONNX_DATA)/test_lrn/test_data_set_0/input_0.pb tests/fuzz/corpus/onnx/lrn_input_0.pb
	cp $(FIXTURES)/caffemodel/npy/*.npy tests/fuzz/corpus/npy/

-include $(FUZZ_OBJ:.o=.d)
