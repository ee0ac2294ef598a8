# mk/char-rnn.mk -- the character-level language model that writes text
# (examples/char_rnn.c, bindings/python/examples/char_rnn.py): a stacked
# LSTM with per-step outputs trained on the GNU GPL version 3 as Debian
# ships it (/usr/share/common-licenses/GPL-3, package base-files), then
# text generated one character at a time with a stream and seqcls_sample.
#
#   make char-rnn          the full run in C: 2 x LSTM(256), at most 30 epochs, stopping 4 after
#                          the best held-out loss (about 2 minutes on 2 cores), then 600
#                          characters at temperatures 0.5 and 1.0
#   make char-rnn-python   the same from Python
#   make check-char-rnn    small, fast versions in C and Python (seconds) that fail unless the
#                          held-out loss falls below 0.75 x the entropy of the character
#                          frequencies; run by `make check`

CHAR_RNN_TEXT ?= /usr/share/common-licenses/GPL-3

.PHONY: char-rnn char-rnn-python check-char-rnn

char-rnn: $(BUILD)/examples/char_rnn
	$(BUILD)/examples/char_rnn --text $(CHAR_RNN_TEXT)

char-rnn-python: $(SHARED)
	SEQCLS_LIBRARY=$(abspath $(LIBOUT))/libseqcls.so.1 PYTHONDONTWRITEBYTECODE=1 \
	    $(PYTHON) bindings/python/examples/char_rnn.py --text $(CHAR_RNN_TEXT)

check-char-rnn: $(BUILD)/examples/char_rnn
	$(BUILD)/examples/char_rnn --quick --text $(CHAR_RNN_TEXT) > $(BUILD)/char_rnn_quick.txt \
	    || { cat $(BUILD)/char_rnn_quick.txt; exit 1; }
	@grep -E 'held-out text|passed' $(BUILD)/char_rnn_quick.txt
	SEQCLS_LIBRARY=$(abspath $(LIBOUT))/libseqcls.so.1 PYTHONDONTWRITEBYTECODE=1 \
	    $(PYTHON) bindings/python/examples/char_rnn.py --quick --text $(CHAR_RNN_TEXT) \
	    > $(BUILD)/char_rnn_quick_py.txt || { cat $(BUILD)/char_rnn_quick_py.txt; exit 1; }
	@grep -E 'held-out loss|passed' $(BUILD)/char_rnn_quick_py.txt

CHECK_EXTRA += check-char-rnn
