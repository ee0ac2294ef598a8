# Recurrent layers: PyTorch parity test and the BiLSTM benchmark.
#
#   make check-rnn-parity   seqcls vs torch.nn.LSTM/GRU (and a numpy reference), run by `make check`
#   make bench              one BiLSTM layer, seqcls vs PyTorch, same machine, same run

.PHONY: check-rnn-parity bench

# A missing torch is an error, not a skip.
check-rnn-parity: $(SHARED)
	cd tests/parity && PYTHONDONTWRITEBYTECODE=1 $(PYTHON) test_rnn_parity.py

CHECK_EXTRA += check-rnn-parity

BENCH_REPEATS ?= 10

$(BUILD)/bench/bench_rnn: bench/bench_rnn.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $(CFLAGS) -o $@ $< -Llib -lseqcls -Wl,-rpath,$(abspath lib) -lm

bench: $(BUILD)/bench/bench_rnn
	$(BUILD)/bench/bench_rnn $(BENCH_REPEATS) | tee $(BUILD)/bench/rnn_seqcls.txt
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/rnn_torch.py $(BUILD)/bench/rnn_seqcls.txt $(BENCH_REPEATS)

# The gradient-check harness is a header shared by tests/test_grad*.c.
$(TEST_RUN_F64): tests/gradcheck.h
