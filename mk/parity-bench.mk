# PyTorch parity tests and the recurrent benchmark.
#
#   make check-parity       seqcls vs PyTorch: every tests/parity/test_*.py (nn.LSTM/GRU and a
#                           numpy reference, the tutorial BiLSTM-attention model), run by `make check`
#   make bench              one BiLSTM layer, seqcls vs PyTorch, same machine, same run

.PHONY: check-parity bench

# A missing torch is an error, not a skip.
check-parity: $(SHARED)
	cd tests/parity && for t in test_*.py; do PYTHONDONTWRITEBYTECODE=1 $(PYTHON) $$t || exit 1; done

CHECK_EXTRA += check-parity

BENCH_REPEATS ?= 10

$(BUILD)/bench/bench_rnn: bench/bench_rnn.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $(CFLAGS) -o $@ $< -Llib -lseqcls -Wl,-rpath,$(abspath lib) -lm

bench: $(BUILD)/bench/bench_rnn
	$(BUILD)/bench/bench_rnn $(BENCH_REPEATS) | tee $(BUILD)/bench/rnn_seqcls.txt
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/rnn_torch.py $(BUILD)/bench/rnn_seqcls.txt $(BENCH_REPEATS)

# The gradient-check harness is a header shared by tests/test_grad*.c.
$(TEST_RUN_F64): tests/gradcheck.h
