# mk/fuzz.mk -- fuzzing beyond the loader: seqcls_forward/backward/predict
# on arbitrary models and inputs, and the command line's file parser.
#
#   make fuzz [FUZZ_SECONDS=60]    every target in turn, each for FUZZ_SECONDS
#   make fuzz-forward / fuzz-cli / fuzz-extreme   one of them
#   (fuzz-extreme: finite but extreme weights and options through save,
#   load, predict, evaluate and fit)
#
# Corpora grow in build/fuzz/corpus-*; crashes go to build/fuzz/ (keep
# them in fuzz/regressions/<target>/ once fixed: `make check` replays them).

# Shared by every fuzz fragment (this file sorts first in mk/).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -g -O1 -std=c11 -Wall -Wextra -Wpedantic -D_POSIX_C_SOURCE=200809L -Iinclude \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
# Only where clang has its libFuzzer runtime (Debian: clang with libclang-rt-dev).
FUZZ_RT := $(wildcard $(shell $(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-$(shell uname -m).a 2>/dev/null))

FUZZ_TARGETS := fuzz-load fuzz-vocab fuzz-forward fuzz-cli fuzz-extreme
FUZZ_OPTS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048

.PHONY: fuzz fuzz-forward fuzz-cli fuzz-extreme fuzz-regress-more

fuzz:
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory $$t || exit 1; done

build/fuzz/fuzz_forward: fuzz/fuzz_forward.c $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(BLAS_CFLAGS) -o $@ fuzz/fuzz_forward.c $(SRCS) $(LIBS)

build/fuzz/fuzz_extreme: fuzz/fuzz_extreme.c $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(BLAS_CFLAGS) -o $@ fuzz/fuzz_extreme.c $(SRCS) $(LIBS)

fuzz-extreme: build/fuzz/fuzz_extreme
	@mkdir -p build/fuzz/corpus-extreme
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	build/fuzz/fuzz_extreme $(FUZZ_OPTS) -max_len=2048 -artifact_prefix=build/fuzz/extreme- \
	    build/fuzz/corpus-extreme

build/fuzz/fuzz_cli: fuzz/fuzz_cli.c tools/cli/data.c tools/cli/encode.c $(CLI_HDRS) $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(BLAS_CFLAGS) -o $@ fuzz/fuzz_cli.c tools/cli/data.c tools/cli/encode.c \
	    $(SRCS) $(LIBS)

fuzz-forward: build/fuzz/fuzz_forward
	@mkdir -p build/fuzz/corpus-forward
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	build/fuzz/fuzz_forward $(FUZZ_OPTS) -max_len=512 -artifact_prefix=build/fuzz/forward- \
	    build/fuzz/corpus-forward fuzz/regressions/forward

fuzz-cli: build/fuzz/fuzz_cli
	@mkdir -p build/fuzz/corpus-cli
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	build/fuzz/fuzz_cli $(FUZZ_OPTS) -max_len=4096 -artifact_prefix=build/fuzz/cli- \
	    build/fuzz/corpus-cli fuzz/regressions/cli

# The kept inputs of these two targets, once each, under the sanitizers.
FUZZ_MORE_INPUTS = $(filter-out %.md,$(wildcard fuzz/regressions/forward/* fuzz/regressions/cli/*))
fuzz-regress-more: build/fuzz/fuzz_forward build/fuzz/fuzz_cli
	build/fuzz/fuzz_forward -runs=0 $(filter fuzz/regressions/forward/%,$(FUZZ_MORE_INPUTS)) fuzz/regressions/forward/README.md >/dev/null 2>build/fuzz/regress-forward.log \
	    || { cat build/fuzz/regress-forward.log; exit 1; }
	build/fuzz/fuzz_cli -runs=0 $(filter fuzz/regressions/cli/%,$(FUZZ_MORE_INPUTS)) fuzz/regressions/cli/README.md >/dev/null 2>build/fuzz/regress-cli.log \
	    || { cat build/fuzz/regress-cli.log; exit 1; }
	@echo "fuzz-regress-more: $(words $(FUZZ_MORE_INPUTS)) kept inputs replayed cleanly"

ifneq ($(FUZZ_RT),)
CHECK_EXTRA += fuzz-regress-more
endif
