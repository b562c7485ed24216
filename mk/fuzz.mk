# mk/fuzz.mk -- fuzzing. (Included by the Makefile.)
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

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-seeds fuzz-deps

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
