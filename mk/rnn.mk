# Recurrent layers: PyTorch parity test and the BiLSTM benchmark.
#
#   make check-rnn-parity   seqcls vs torch.nn.LSTM/GRU (and a numpy reference), run by `make check`
#   make bench              one BiLSTM layer, seqcls vs PyTorch, same machine, same run

.PHONY: check-rnn-parity bench

# A missing torch is an error, not a skip.
check-rnn-parity: $(SHARED)
	cd tests/parity && PYTHONDONTWRITEBYTECODE=1 $(PYTHON) test_rnn_parity.py

CHECK_EXTRA += check-rnn-parity

# The gradient-check harness is a header shared by tests/test_grad*.c.
$(TEST_RUN_F64): tests/gradcheck.h
