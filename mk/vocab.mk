# mk/vocab.mk -- fuzzing the text front end (tokeniser, vocabulary,
# serialised form) with libFuzzer.
#
#   make fuzz-vocab [FUZZ_SECONDS=60]
#
# Builds build/fuzz/fuzz_vocab with clang (ASan + UBSan), seeds it with
# fuzz/seeds/vocab/ and fuzz/regressions/vocab/ (inputs that once failed; tests/test_vocab.c
# replays them) and fuzzes for FUZZ_SECONDS.  New corpus entries go to
# build/fuzz/corpus-vocab/, crashes to build/fuzz/crash-*.

FUZZ_VOCAB_SRCS := src/tokenize.c src/vocab.c src/error.c src/alloc.c
FUZZ_VOCAB_FLAGS := -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc \
                -Wall -Wextra -Wpedantic \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzz-vocab

build/fuzz/fuzz_vocab: fuzz/fuzz_vocab.c $(FUZZ_VOCAB_SRCS) $(HDRS)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_VOCAB_FLAGS) -o $@ fuzz/fuzz_vocab.c $(FUZZ_VOCAB_SRCS)

fuzz-vocab: build/fuzz/fuzz_vocab
	@mkdir -p build/fuzz/corpus-vocab
	build/fuzz/fuzz_vocab -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -artifact_prefix=build/fuzz/ build/fuzz/corpus-vocab fuzz/seeds/vocab fuzz/regressions/vocab
