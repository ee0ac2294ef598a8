# PyTorch parity tests and the recurrent benchmark.
#
#   make check-parity       seqcls vs PyTorch: every tests/parity/test_*.py (nn.LSTM/GRU and a
#                           numpy reference, the tutorial BiLSTM-attention model), run by `make check`
#   make bench              everything below, in one run (docs/performance.md)
#   make bench-rnn          one BiLSTM layer, seqcls vs PyTorch, same machine, same run
#   make bench-sgemm        the machine's sgemm GFLOP/s with the same BLAS (the ceiling)
#   make bench-dnnl         LSTM/GRU layers, seqcls vs oneDNN 2.x (libdnnl-dev), 1 and 2 threads
#   make bench-model        the headline IMDB model and the tutorial BiGRU, seqcls vs PyTorch:
#                           train step, predict, RSS
#   make bench-transformer  issue 16's transformer classifier (embedding 128, 2 encoder layers
#                           of 4 heads and ff 512, mean pooling, batch 64, T = 256), seqcls vs
#                           nn.TransformerEncoder (inference: nested tensors on and off, the
#                           faster counted), full and IMDB-like lengths, 1 and 2 threads
#   make bench-conv         one conv1d layer of Kim's CNN size (300 -> 100 filters, kernel 5),
#                           seqcls vs torch.nn.Conv1d, full and ragged batches, 1 and 2 threads
#                           (BENCH_ROUNDS rounds of each, alternating)
#   make bench-quant        the headline model's inference in seqcls float32, int8 and bf16
#                           and PyTorch float32 and quantize_dynamic int8 (fbgemm, else
#                           onednn: Debian's torch), with the
#                           ratios of issue 19's targets, the CPU flags and the load
#                           (bench-rnn has the one-layer figures)
#   make bench-baseline     float32, int8 and bf16 on x86-64's SSE2 baseline (no AVX2):
#                           one layer and the headline model, BENCH_BASELINE_REPEATS
#
# BENCH_REPEATS runs per timing (medians); for bench-model also
# BENCH_TORCH_REPEATS, BENCH_ROUNDS (processes per side, alternating),
# BENCH_LENGTHS (full, imdb or both; a ragged PyTorch training step of the
# headline model takes minutes) and BENCH_MODELS (imdb, the headline model;
# bigru, Embedding(25000, 200) -> BiGRU(128) -> Linear at batch 32; or both).

.PHONY: check-parity bench bench-rnn bench-sgemm bench-dnnl bench-model bench-conv \
        bench-transformer bench-quant bench-baseline

# A missing torch is an error, not a skip.
check-parity: $(SHARED)
	cd tests/parity && for t in test_*.py; do PYTHONDONTWRITEBYTECODE=1 $(PYTHON) $$t || exit 1; done

CHECK_EXTRA += check-parity

BENCH_REPEATS ?= 10

$(BUILD)/bench/bench_rnn: bench/bench_rnn.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $(CFLAGS) -o $@ $< -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) -lm

BENCH_TORCH_REPEATS ?= 1
BENCH_ROUNDS ?= 1
BENCH_LENGTHS ?= both
BENCH_MODELS ?= both
BENCH_OUT := $(BUILD)/bench

bench: bench-sgemm bench-dnnl bench-model bench-rnn bench-conv bench-transformer bench-quant \
       bench-baseline

# x86-64's SSE2 baseline, what a CPU without AVX2 runs: the library built
# without its AVX2/AVX-512 clones (SEQCLS_NO_CLONES) in a tree of its own,
# the hand-written kernels at SEQCLS_MAX_CPU_ISA=portable and OpenBLAS's
# Nehalem kernels; one BiLSTM layer and the headline model at one thread,
# float32 beside int8 and bf16 (issue 19: never 10% slower than float32).
BASELINE := build/baseline-$(BLAS)
BASELINE_ENV := SEQCLS_MAX_CPU_ISA=portable OPENBLAS_CORETYPE=Nehalem
BENCH_BASELINE_REPEATS ?= 3
bench-baseline:
	@$(MAKE) --no-print-directory BUILD=$(BASELINE) LIBOUT=$(BASELINE)/lib \
	    CFLAGS=-DSEQCLS_NO_CLONES $(BASELINE)/bench/bench_rnn $(BASELINE)/bench/bench_model
	$(BASELINE_ENV) $(BASELINE)/bench/bench_rnn $(BENCH_BASELINE_REPEATS)
	for m in infer infer-int8 infer-bf16; do \
	    $(BASELINE_ENV) $(BASELINE)/bench/bench_model imdb $$m full 1 $(BENCH_BASELINE_REPEATS) || exit 1; \
	done

# int8 and bf16 inference of the headline model against seqcls float32 and
# PyTorch's quantize_dynamic (issue 19); BENCH_QUANT_LENGTHS, _THREADS
BENCH_QUANT_LENGTHS ?= full,imdb
BENCH_QUANT_THREADS ?= 1,2
bench-quant: $(BUILD)/bench/bench_model
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/run_quant.py $(BUILD)/bench/bench_model \
	    $(BENCH_REPEATS) $(BENCH_TORCH_REPEATS) $(BENCH_ROUNDS) $(BENCH_QUANT_LENGTHS) \
	    $(BENCH_QUANT_THREADS)

bench-rnn: $(BUILD)/bench/bench_rnn
	$(BUILD)/bench/bench_rnn $(BENCH_REPEATS) | tee $(BUILD)/bench/rnn_seqcls.txt
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/rnn_torch.py $(BUILD)/bench/rnn_seqcls.txt $(BENCH_REPEATS)

$(BUILD)/bench/bench_sgemm: bench/bench_sgemm.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(BLAS_CFLAGS) -o $@ $< $(BLAS_LIBS)

$(BUILD)/bench/bench_model: bench/bench_model.c bench/lengths.h $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $(BLAS_CFLAGS) $(CFLAGS) -o $@ $< -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) $(BLAS_LIBS) -lm

# oneDNN's C++ API; Debian's libdnnl is built on OpenMP.
$(BUILD)/bench/bench_dnnl: bench/bench_dnnl.cc bench/lengths.h $(SHARED)
	@mkdir -p $(dir $@)
	@test -f /usr/include/dnnl.hpp || { echo "bench-dnnl: needs libdnnl-dev (apt-get install libdnnl-dev)"; exit 1; }
	$(CXX) -Wall -Wextra $(OPT) -fopenmp -Iinclude -o $@ $< -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) -ldnnl

bench-sgemm: $(BUILD)/bench/bench_sgemm
	$(BUILD)/bench/bench_sgemm $(BENCH_REPEATS)

bench-dnnl: $(BUILD)/bench/bench_dnnl
	$(BUILD)/bench/bench_dnnl $(BENCH_REPEATS)

bench-model: $(BUILD)/bench/bench_model
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/run_model.py $(BUILD)/bench/bench_model \
	    $(BENCH_REPEATS) $(BENCH_TORCH_REPEATS) $(BENCH_ROUNDS) $(BENCH_LENGTHS) $(BENCH_MODELS)

# the transformer's PyTorch step takes seconds: BENCH_REPEATS on both sides
# (a few rounds: BENCH_ROUNDS)
bench-transformer: $(BUILD)/bench/bench_model
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/run_model.py $(BUILD)/bench/bench_model \
	    $(BENCH_REPEATS) $(BENCH_REPEATS) $(BENCH_ROUNDS) both transformer

$(BUILD)/bench/bench_conv: bench/bench_conv.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -Iinclude $(CFLAGS) -o $@ $< -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) -lm

# Rounds of the two programs alternate (BENCH_ROUNDS), so that a machine
# that gets busier or quieter meanwhile favours neither; best median wins.
bench-conv: $(BUILD)/bench/bench_conv
	@rm -f $(BUILD)/bench/conv_seqcls.*.txt $(BUILD)/bench/conv_torch.*.txt
	@for r in $$(seq 1 $(BENCH_ROUNDS)); do \
	    $(BUILD)/bench/bench_conv $(BENCH_REPEATS) > $(BUILD)/bench/conv_seqcls.$$r.txt || exit 1; \
	    PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/conv_torch.py measure $(BENCH_REPEATS) \
	        > $(BUILD)/bench/conv_torch.$$r.txt || exit 1; \
	done
	PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/conv_torch.py compare $(BUILD)/bench/conv_seqcls.*.txt \
	    -- $(BUILD)/bench/conv_torch.*.txt
