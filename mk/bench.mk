# mk/bench.mk -- the benchmarks (not part of make test). Each bench/*.cpp is its own program (with
# its own main); `make bench` runs them all. (Included by the Makefile.)
BENCH_SRC ?= $(wildcard bench/*.cpp)
BENCH_BIN := $(BENCH_SRC:%.cpp=$(BUILD)/%)

.PHONY: bench bench-memory

# Keep the benchmark objects (make would delete them as intermediates and rebuild every time).
.SECONDARY: $(BENCH_BIN:%=%.o)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(BENCH_LDLIBS)

# bench_memory runs the dlbhc program on a million images three times (about 80 minutes on the
# 2-core machines): built with the others, run by `make bench-memory` (BENCH_ARGS=--quick: 100,000).
bench: deps
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@for b in $(filter-out $(BUILD)/bench/bench_memory,$(BENCH_BIN)); do echo "== $$b"; $$b $(BENCH_ARGS) || exit 1; done
	@# Multi-index hashing at 10M codes as well (about 6 minutes), unless BENCH_ARGS is set.
	@if [ -z "$(BENCH_ARGS)" ] && [ -x $(BUILD)/bench/bench_mih ]; then \
	  echo "== $(BUILD)/bench/bench_mih --n 10000000"; $(BUILD)/bench/bench_mih --n 10000000 || exit 1; fi

bench-memory: deps $(BUILD)/dlbhc $(BUILD)/bench/bench_memory
	$(BUILD)/bench/bench_memory $(BENCH_ARGS)

# ---- FAISS, the reference of the search benchmarks ----------------------------------------------
# bench/bench_search_faiss.cpp times FAISS next to our search on the same data. FAISS is a
# reference for that benchmark program only: never linked into the library or the dlbhc program.
# It is built only when the FAISS headers are installed (Debian: libfaiss-dev, which ships a static
# libfaiss.a needing BLAS and LAPACK); without them `make bench` simply leaves it out.
# bench/bench_mih.cpp is built either way; with the headers it gets DLBHC_BENCH_FAISS and FAISS
# (IndexBinaryFlat) as a third column, without them it says FAISS was not available.
ifeq ($(wildcard /usr/include/faiss/IndexBinaryFlat.h),)
  BENCH_BIN := $(filter-out $(BUILD)/bench/bench_search_faiss,$(BENCH_BIN))
else
$(BUILD)/bench/bench_search_faiss: BENCH_LDLIBS += -lfaiss -llapack -lblas -fopenmp  # libfaiss.a needs libgomp even with OPENMP=0
$(BUILD)/bench/bench_mih.o: CXXFLAGS += -DDLBHC_BENCH_FAISS
$(BUILD)/bench/bench_mih: BENCH_LDLIBS += -lfaiss -llapack -lblas -fopenmp
endif

# ---- OpenBLAS, the reference of the speed benchmark ---------------------------------------------
# bench/bench_speed.cpp prints OpenBLAS's sgemm beside ours when libopenblas-dev is installed; only
# that benchmark program links it (never the library or the dlbhc program). The program itself
# sets OPENBLAS_CORETYPE=SkylakeX (OpenBLAS 0.3.21 misdetects the AVX-512 CPU as SSE3-only).
OPENBLAS_INC := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas))
ifneq ($(OPENBLAS_INC),)
$(BUILD)/bench/bench_speed.o: CXXFLAGS += -DDLBHC_BENCH_OPENBLAS -I$(OPENBLAS_INC)
$(BUILD)/bench/bench_speed: BENCH_LDLIBS += -lopenblas
endif

-include $(BENCH_BIN:%=%.d)
