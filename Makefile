# dlbhc -- Deep Learning of Binary Hash Codes, from scratch in C++17.
#
# Switches (set on the command line, e.g. `make OPENMP=0 test`):
#   OPENMP=1  parallel loops with OpenMP (default); OPENMP=0 a plain serial build
#   DEBUG=1   -O1 -g with AddressSanitizer + UndefinedBehaviorSanitizer
#   NATIVE=1  -march=native (the default build is portable x86-64; SIMD is chosen at run time)
OPENMP ?= 1
DEBUG ?= 0
NATIVE ?= 0

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

BUILD_ROOT ?= build
BUILD := $(BUILD_ROOT)/$(VARIANT)

# Every .cpp in these folders is built; the lists may be overridden to build a subset.
LIB_SRC   ?= $(wildcard nn/*.cpp hash/*.cpp search/*.cpp data/*.cpp)
APP_SRC   ?= $(wildcard apps/*.cpp)
TEST_SRC  ?= $(wildcard tests/*.cpp)
# Each bench/*.cpp is its own program (with its own main); `make bench` runs them all.
BENCH_SRC ?= $(wildcard bench/*.cpp)

LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/%.o)
APP_OBJ   := $(APP_SRC:%.cpp=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/%.o)
BENCH_BIN := $(BENCH_SRC:%.cpp=$(BUILD)/%)

LIB   := $(BUILD)/libdlbhc.a
APP   := $(BUILD)/dlbhc
TESTS := $(BUILD)/dlbhc_tests

# Headers the build needs from Debian packages (checked by `make deps`).
STB_H     := /usr/include/stb/stb_image.h
DOCTEST_H := /usr/include/doctest/doctest.h
DEPS_PKGS := libstb-dev doctest-dev

.PHONY: all deps test bench clean help

all: $(APP)
	@ln -sf $(VARIANT)/dlbhc build/dlbhc
	@echo "built $(APP) (also build/dlbhc)"

help:
	@echo "make            build the library and the dlbhc program into $(BUILD)/"
	@echo "make test       install missing dependencies, build and run the doctest suite"
	@echo "make bench      build and run the benchmarks (not part of make test)"
	@echo "make deps       check for (and as root on Debian install) $(DEPS_PKGS)"
	@echo "switches:       OPENMP=0  DEBUG=1  NATIVE=1"

# Checks for the packages; installs them when run as root on Debian, otherwise says what to run.
deps:
	@missing=""; \
	[ -f $(STB_H) ] || missing="$$missing libstb-dev"; \
	[ -f $(DOCTEST_H) ] || missing="$$missing doctest-dev"; \
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

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(APP): $(APP_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(APP_OBJ) $(LIB) $(LDLIBS)

$(TESTS): $(TEST_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS)

# Keep the benchmark objects (make would delete them as intermediates and rebuild every time).
.SECONDARY: $(BENCH_BIN:%=%.o)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(BENCH_LDLIBS)

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

# The test binary is built after deps have been checked (it includes doctest.h).
test: deps
	@$(MAKE) --no-print-directory $(TESTS) $(APP)
	$(TESTS) $(TEST_ARGS)

bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b $(BENCH_ARGS) || exit 1; done

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_BIN:%=%.d)

# ---- FAISS reference benchmark (search/, issue 3) ----------------------------------------------
# bench/bench_search_faiss.cpp times FAISS next to our search on the same data. FAISS is a
# reference for that benchmark program only: never linked into the library or the dlbhc program.
# It is built only when the FAISS headers are installed (Debian: libfaiss-dev, which ships a static
# libfaiss.a needing BLAS and LAPACK); without them `make bench` simply leaves it out.
ifeq ($(wildcard /usr/include/faiss/IndexBinaryFlat.h),)
  BENCH_BIN := $(filter-out $(BUILD)/bench/bench_search_faiss,$(BENCH_BIN))
else
$(BUILD)/bench/bench_search_faiss: BENCH_LDLIBS += -lfaiss -llapack -lblas -fopenmp  # libfaiss.a needs libgomp even with OPENMP=0
endif
# ---- end of the FAISS section -------------------------------------------------------------------
