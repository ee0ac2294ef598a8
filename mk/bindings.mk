# mk/bindings.mk -- the Python, Rust and C++ bindings and the generated docs.
#
#   make check-python     pytest on bindings/python/tests (ctypes package `seqcls`)
#   make check-python-venv  `pip install ./bindings/python` (offline) into a fresh venv
#                         of the system Python, then train and predict with that copy
#   make check-rust       cargo test --offline and the example, in bindings/rust
#   make check-cpp        build examples/cpp_example.cpp with g++ -Werror and run it
#   make check-docs       docs/api-reference.md is up to date, docs snippets run, and
#                         the commands of docs/getting-started.md run as written
#   make api-reference    regenerate docs/api-reference.md from include/seqcls.h
#
# All run from `make check`.

CXX_BIND   ?= g++
# rustup's cargo may not be on a non-login shell's PATH
CARGO      ?= $(firstword $(shell command -v cargo 2>/dev/null) $(wildcard $(HOME)/.cargo/bin/cargo) cargo)
CARGO_TARGET_DIR_BIND := $(abspath build/cargo)
SEQCLS_SO1 := $(abspath $(LIBOUT))/libseqcls.so.1

.PHONY: check-python check-python-venv check-rust check-cpp check-docs api-reference

# (the command line too: tests/test_text_io.py compares the package with it)
check-python: $(SHARED) $(CLI)
	cd bindings/python && SEQCLS_LIBRARY=$(SEQCLS_SO1) PYTHONDONTWRITEBYTECODE=1 \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests

CHECK_EXTRA += check-python

# The package as a user installs it: a virtual environment of the system
# Python (--system-site-packages: Debian's numpy, setuptools and wheel),
# pip offline, then a script run from outside the clone without
# SEQCLS_LIBRARY (the package finds the library of the clone it came from).
PY_VENV := $(abspath $(BUILD))/python-venv
check-python-venv: $(SHARED)
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv --system-site-packages $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --no-index --no-build-isolation \
	    --disable-pip-version-check ./bindings/python
	cd $(PY_VENV) && env -u SEQCLS_LIBRARY PYTHONDONTWRITEBYTECODE=1 \
	    bin/python $(abspath bindings/python/tests/smoke_installed.py) $(CURDIR)

CHECK_EXTRA += check-python-venv

check-rust: $(SHARED)
	@command -v $(CARGO) >/dev/null || { echo "check-rust: $(CARGO) not found (rustup or Debian's cargo)" >&2; exit 1; }
	cd bindings/rust && SEQCLS_LIB_DIR=$(abspath $(LIBOUT)) CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_BIND) \
	    $(CARGO) test --offline -q
	cd bindings/rust && SEQCLS_LIB_DIR=$(abspath $(LIBOUT)) CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_BIND) \
	    $(CARGO) run --offline -q --example train
	cd bindings/rust && SEQCLS_LIB_DIR=$(abspath $(LIBOUT)) \
	    CARGO_TARGET_DIR=$(CARGO_TARGET_DIR_BIND) $(CARGO) run --offline -q --example first_model

CHECK_EXTRA += check-rust

# The C header from C++: warning-free with -pedantic, and the example runs.
$(BUILD)/examples/cpp_example: examples/cpp_example.cpp include/seqcls.h $(SHARED) | $(BUILD)/examples
	$(CXX_BIND) -std=c++17 -Wall -Wextra -Werror -pedantic $(OPT) -Iinclude -o $@ $< \
	    -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT))

check-cpp: $(BUILD)/examples/cpp_example
	$(BUILD)/examples/cpp_example

CHECK_EXTRA += check-cpp

# docs/api-reference.md is generated from the header; the getting-started
# C snippet compiles warning-free and runs (the Python one runs in
# check-python, the Rust one in check-rust); the page's commands run as
# written (tests/docs/run_commands.py: install into a temporary $HOME/.local,
# build the C program against that copy, pip into a fresh venv, ...).
api-reference:
	$(PYTHON) tools/gen_api_reference.py

$(BUILD)/examples/first_model: docs/snippets/first_model.c $(SHARED) | $(BUILD)/examples
	$(CC) $(WARN) -Werror $(OPT) -Iinclude -o $@ $< -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) -lm

$(BUILD)/examples/transformer: docs/snippets/transformer.c $(SHARED) | $(BUILD)/examples
	$(CC) $(WARN) -Werror $(OPT) -Iinclude -o $@ $< -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) -lm

# (docs/architectures.md's transformer: its C program, and its commands)
check-docs: $(SHARED) $(CLI)
	$(PYTHON) tools/gen_api_reference.py --check
	$(MAKE) --no-print-directory $(BUILD)/examples/first_model $(BUILD)/examples/transformer
	cd $(BUILD)/examples && ./first_model
	$(BUILD)/examples/transformer
	BLAS=$(BLAS) $(PYTHON) tests/docs/run_commands.py docs/getting-started.md \
	    --cargo-target-dir $(CARGO_TARGET_DIR_BIND)
	$(PYTHON) tests/docs/run_commands.py docs/architectures.md

CHECK_EXTRA += check-docs
