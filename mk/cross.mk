# mk/cross.mk -- portability: a static binary, and the tests on aarch64 under qemu-user.
# (Included by the Makefile, which sets the switch itself: ARCH, CROSS_CXX, CROSS_INC.)
#
# With ARCH set, the cross compiler replaces CXX even when CXX is given on the command line (a
# `make CXX=... test-aarch64` would otherwise build aarch64 objects with the host compiler);
# CROSS_CXX may add ccache. It does not search /usr/include, where Debian puts the two header-only
# libraries we use (stb, doctest: architecture-independent), so $(CROSS_INC) holds links to just
# those two folders (the rule at the end).

# `make static` links $(BUILD)/dlbhc-static from the same objects as dlbhc, with -static (libc,
# libstdc++ and libgomp included: it runs on any Linux of its architecture), then checks that it
# is static and runs `--help`, `version` and a small forward/backward pass (OpenMP threads too).
# The linker's warning that libgomp uses dlopen concerns OpenMP offloading, which dlbhc never does.
STATIC_APP := $(BUILD)/dlbhc-static
# How to run a program of this build: directly, or (ARCH=...) under qemu-user with the cross
# libraries. binfmt_misc need not be registered for qemu: everything below names qemu itself.
QEMU_SYSROOT ?= /usr/$(ARCH)-linux-gnu
RUN := $(if $(ARCH),qemu-$(ARCH) -L $(QEMU_SYSROOT))

.PHONY: static cross-deps test-aarch64 cross-test

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

# The links of a cross build's include folder (see ARCH in the Makefile): /usr/include/stb and
# /usr/include/doctest.
ifneq ($(CROSS_INC),)
$(CROSS_INC):
	@mkdir -p $@
	ln -sfn $(patsubst %/,%,$(dir $(STB_H))) $@/stb
	ln -sfn $(patsubst %/,%,$(dir $(DOCTEST_H))) $@/doctest
endif
