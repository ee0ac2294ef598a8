# mk/io.mk -- save/load: the fuzzer, and the fuzz regression replay that
# `make check` runs.
#
#   make fuzz-load [FUZZ_SECONDS=60] [FUZZ_JOBS=1]   fuzz seqcls_model_load_buffer (make fuzz: all)
#   make fuzz-roundtrip [FUZZ_SECONDS=60]       fuzz save -> load of models built from
#                                                random constructor calls
#       (FUZZ_JOBS > 1 runs libFuzzer's -jobs, which logs to ./fuzz-N.log)
#   make fuzz-regress                            replay fuzz/regressions/load and the seed corpus

FUZZ_JOBS    ?= 1
FUZZ_BIN     := build/fuzz/fuzz_load
FUZZ_CORPUS  := fuzz/corpus/load
FUZZ_WORK    := build/fuzz/corpus
# The library's sources compiled straight into the fuzzer, instrumented.
$(FUZZ_BIN): fuzz/fuzz_load.c tests/crc32_ref.h $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(BLAS_CFLAGS) -o $@ fuzz/fuzz_load.c $(SRCS) $(LIBS)

build/fuzz/fuzz_roundtrip: fuzz/fuzz_roundtrip.c $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(BLAS_CFLAGS) -o $@ fuzz/fuzz_roundtrip.c $(SRCS) $(LIBS)

.PHONY: fuzz-load fuzz-regress fuzz-roundtrip
# New inputs go to build/fuzz/corpus; crashes to build/fuzz/ (copy them
# into fuzz/regressions/load/ once fixed).
fuzz-load: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_WORK)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
	    -artifact_prefix=build/fuzz/ $(FUZZ_WORK) $(FUZZ_CORPUS)

fuzz-roundtrip: build/fuzz/fuzz_roundtrip
	@mkdir -p build/fuzz/corpus-roundtrip
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	build/fuzz/fuzz_roundtrip -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=64 -artifact_prefix=build/fuzz/roundtrip- build/fuzz/corpus-roundtrip

# Every regression input and every seed, once each, under the sanitizers.
FUZZ_INPUTS = $(filter-out %.md,$(wildcard fuzz/regressions/load/* $(FUZZ_CORPUS)/*))
fuzz-regress: $(FUZZ_BIN)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(FUZZ_BIN) -runs=0 $(FUZZ_INPUTS) >/dev/null 2>build/fuzz/regress.log \
	    || { cat build/fuzz/regress.log; exit 1; }
	@echo "fuzz-regress: $(words $(FUZZ_INPUTS)) inputs replayed cleanly"

ifneq ($(FUZZ_RT),)
CHECK_EXTRA += fuzz-regress
endif

# The seed corpus is committed; this regenerates it from the current
# library (run it when the format or the layer set changes).
$(BUILD)/fuzz/make_corpus: fuzz/make_corpus.c tests/crc32_ref.h $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude -o $@ $< -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT))
.PHONY: fuzz-corpus
fuzz-corpus: $(BUILD)/fuzz/make_corpus
	@mkdir -p $(FUZZ_CORPUS)
	$(BUILD)/fuzz/make_corpus $(FUZZ_CORPUS)
