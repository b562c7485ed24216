# dlbhc -- Deep Learning of Binary Hash Codes, from scratch in C++17.
#
# Switches (set on the command line, e.g. `make OPENMP=0 test`):
#   OPENMP=1  parallel loops with OpenMP (default); OPENMP=0 a plain serial build
#   DEBUG=1   -O1 -g with AddressSanitizer + UndefinedBehaviorSanitizer
#   NATIVE=1  -march=native (the default build is portable x86-64; SIMD is chosen at run time)
#   ARCH=aarch64  cross-compile with $(ARCH)-linux-gnu-g++ into build/aarch64-<variant>/ (the x86
#             kernels and their run-time dispatch compile out; `make test-aarch64` runs the tests)
# The optional parts are in mk/: cross.mk (static, test-aarch64), fuzz.mk, bench.mk, demo.mk, paper.mk.
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
# ARCH: the cross compiler (CROSS_CXX) replaces CXX, even one given on the command line, and sees
# only stb and doctest of /usr/include, through $(CROSS_INC) (why: mk/cross.mk).
ifneq ($(ARCH),)
  CROSS_CXX ?= $(ARCH)-linux-gnu-g++
  override CXX := $(CROSS_CXX)
  VARIANT := $(ARCH)-$(VARIANT)
endif
BUILD_ROOT ?= build
BUILD := $(BUILD_ROOT)/$(VARIANT)
CROSS_INC := $(if $(ARCH),$(BUILD)/include)
CXXFLAGS += $(if $(ARCH),-isystem $(CROSS_INC))

# Every .cpp in these folders is built; the lists may be overridden to build a subset. The tests
# are tests/main.cpp, tests/<product folder>/, tests/support/ (shared helpers) and tests/fuzz/'s
# targets, replayed over the corpus (fuzz_main.cpp and make_seeds.cpp are programs of their own).
LIB_SRC  ?= $(wildcard io/*.cpp nn/*.cpp formats/*.cpp hash/*.cpp search/*.cpp data/*.cpp)
APP_SRC  ?= $(wildcard apps/*.cpp)
TEST_SRC ?= $(filter-out tests/fuzz/fuzz_main.cpp tests/fuzz/make_seeds.cpp,$(wildcard tests/*.cpp tests/*/*.cpp))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
APP_OBJ  := $(APP_SRC:%.cpp=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
LIB   := $(BUILD)/libdlbhc.a
APP   := $(BUILD)/dlbhc
TESTS := $(BUILD)/dlbhc_tests

# What the build, the tests (ONNX's backend cases, a Fashion-MNIST subset, the real FAISS reading
# back `dlbhc export`: a test reference only) and the demo need from Debian: a file each package
# installs. `make deps` checks them; as root on Debian it installs what is missing (mk/deps.mk).
STB_H       := /usr/include/stb/stb_image.h
DOCTEST_H   := /usr/include/doctest/doctest.h
ONNX_DATA   := /usr/share/libonnx-testdata/data/node
FASHION_DIR := /usr/share/datasets/fashion-mnist
FAISS_PY    := /usr/lib/python3/dist-packages/faiss/__init__.py
DEPS_PKGS   := libstb-dev doctest-dev libonnx-testdata dataset-fashion-mnist python3-faiss

.PHONY: all deps test clean help

all: $(APP)
	@ln -sf $(VARIANT)/dlbhc build/dlbhc
	@echo "built $(APP) (also build/dlbhc)"

help:
	@echo "make            build the library and the dlbhc program into $(BUILD)/"
	@echo "make demo       train, index and evaluate on Fashion-MNIST; writes demo/report.html"
	@echo "make paper      the paper's experiments on Fashion-MNIST (every search mode, 48 and 128 bits); writes docs/paper.md"
	@echo "make test       install missing dependencies, build and run the doctest suite"
	@echo "make bench      build and run the benchmarks (not part of make test)"
	@echo "make fuzz       build the libFuzzer targets (clang, ASan+UBSan) and run each FUZZ_SECONDS (default $(FUZZ_SECONDS))"
	@echo "make fuzz-smoke the same for FUZZ_SMOKE_SECONDS (default $(FUZZ_SMOKE_SECONDS)) each; part of .ci/run"
	@echo "make static     link $(STATIC_APP) with -static (OpenMP included), check it is static and runs"
	@echo "make test-aarch64  cross-build the suite for aarch64 (aarch64-linux-gnu-g++, into build/aarch64-<variant>/)"
	@echo "                and run it under qemu-aarch64; prints both times (needs g++-aarch64-linux-gnu, qemu-user)"
	@echo "make deps       check for (and as root on Debian install) $(DEPS_PKGS)"
	@echo "switches:       OPENMP=0  DEBUG=1  NATIVE=1  ARCH=aarch64 (cross-compile with CROSS_CXX, default aarch64-linux-gnu-g++)"

deps:
	$(call need_pkgs,$(STB_H)=libstb-dev $(DOCTEST_H)=doctest-dev $(ONNX_DATA)=libonnx-testdata $(FASHION_DIR)=dataset-fashion-mnist $(FAISS_PY)=python3-faiss)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(APP): $(APP_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(APP_OBJ) $(LIB) $(LDLIBS)

# The tests also link the subcommands (all of apps/ but main), to run a command as a function call.
APP_CMD_OBJ := $(filter-out $(BUILD)/apps/main.o,$(APP_OBJ))
$(TESTS): $(TEST_OBJ) $(APP_CMD_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJ) $(APP_CMD_OBJ) $(LIB) $(LDLIBS)

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

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
include mk/deps.mk mk/cross.mk mk/fuzz.mk mk/bench.mk mk/demo.mk mk/paper.mk
