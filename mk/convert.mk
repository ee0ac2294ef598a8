# Weight converters (tools/convert_pytorch.py, tools/convert_keras.py).
#
#   make check-convert      pytest on tools/tests: PyTorch and Keras-layout parity, error cases
#
# Run by `make check`.  A missing torch is a failure, not a skip.

.PHONY: check-convert

check-convert: $(SHARED)
	cd tools/tests && SEQCLS_LIBRARY=$(abspath $(LIBOUT))/libseqcls.so.1 PYTHONDONTWRITEBYTECODE=1 \
	    $(PYTHON) -m pytest -q -p no:cacheprovider .

CHECK_EXTRA += check-convert
