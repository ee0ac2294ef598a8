# mk/mpi.mk -- libseqcls-mpi, the communicator over MPI (docs/distributed.md),
# built when Open MPI (or another MPI with mpicc) is installed; libseqcls
# itself and the seqcls command line never link MPI (the command line loads
# libseqcls-mpi.so.1 at run time when started by mpirun).
#
#   make                 also lib/libseqcls-mpi.so.1.1.0 and pkgconfig/seqcls-mpi.pc
#                        when $(MPICC) is found
#   make check-mpi       mpirun --oversubscribe with 1, 2, 3 ranks on this machine: the
#                        model of one process up to float rounding, a resumed job equal
#                        to an uninterrupted one, a killed rank ending the job with a
#                        message (tests/mpi/run.sh); run by `make check`, where
#                        tools/ensure-deps.sh installs libopenmpi-dev and openmpi-bin
#   make bench-dist      the headline model, 1 process x 1 and 2 threads, 2 ranks x 1
#                        thread, and PyTorch DistributedDataParallel (gloo, 2 x 1 thread),
#                        full and IMDB-like lengths (BENCH_DIST_LENGTHS=full|imdb|both);
#                        about 5 minutes, most of it PyTorch's ragged step

MPICC   ?= mpicc
MPIRUN  ?= mpirun
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && echo yes)
# mpirun as root (CI) needs --allow-run-as-root; one machine, more ranks than
# cores: --oversubscribe.  The shared-memory and self transports only, so
# that no network interface is probed.
MPIRUN_FLAGS ?= --oversubscribe $(if $(filter 0,$(shell id -u)),--allow-run-as-root) \
                --mca btl self,vader
MPI_PC  := $(shell pkg-config --exists ompi-c 2>/dev/null && echo ompi-c)

MPI_SONAME := libseqcls-mpi.so.$(MAJOR)
MPI_SHARED := $(LIBOUT)/libseqcls-mpi.so.$(VERSION)
MPI_OBJ    := $(BUILD)/mpi/seqcls_mpi.o

.PHONY: check-mpi bench-dist install-mpi uninstall-mpi

$(MPI_OBJ): src/mpi/seqcls_mpi.c include/seqcls_mpi.h include/seqcls.h
	@mkdir -p $(dir $@)
	$(MPICC) $(WARN) $(OPT) -g -D_POSIX_C_SOURCE=200809L -Iinclude -fvisibility=hidden -fPIC \
	    $(CFLAGS) -c $< -o $@

$(MPI_SHARED): $(MPI_OBJ) src/mpi/libseqcls-mpi.map $(SHARED)
	$(MPICC) -shared -Wl,-soname,$(MPI_SONAME) -Wl,--version-script=src/mpi/libseqcls-mpi.map \
	    -Wl,--no-undefined -Wl,-rpath,'$$ORIGIN' $(LDFLAGS) -o $@ $(MPI_OBJ) \
	    -L$(LIBOUT) -lseqcls
	ln -sf libseqcls-mpi.so.$(VERSION) $(LIBOUT)/$(MPI_SONAME)
	ln -sf $(MPI_SONAME) $(LIBOUT)/libseqcls-mpi.so

pkgconfig/seqcls-mpi.pc: pkgconfig/seqcls-mpi.pc.in mk/mpi.mk FORCE
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR_INSTALL)|' \
	     -e 's|@VERSION@|$(VERSION)|' -e 's|@MPI_PC@|$(MPI_PC)|' $< > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

ifeq ($(HAVE_MPI),yes)
all: $(MPI_SHARED) pkgconfig/seqcls-mpi.pc
install: install-mpi
uninstall: uninstall-mpi
endif

install-mpi: $(MPI_SHARED) pkgconfig/seqcls-mpi.pc
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig
	install -m 644 include/seqcls_mpi.h $(DESTDIR)$(PREFIX)/include/seqcls_mpi.h
	install -m 755 $(MPI_SHARED) $(DESTDIR)$(LIBDIR_INSTALL)/
	ln -sf libseqcls-mpi.so.$(VERSION) $(DESTDIR)$(LIBDIR_INSTALL)/$(MPI_SONAME)
	ln -sf $(MPI_SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls-mpi.so
	install -m 644 pkgconfig/seqcls-mpi.pc $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/seqcls-mpi.pc

uninstall-mpi:
	rm -f $(DESTDIR)$(PREFIX)/include/seqcls_mpi.h \
	      $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls-mpi.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR_INSTALL)/$(MPI_SONAME) $(DESTDIR)$(LIBDIR_INSTALL)/libseqcls-mpi.so \
	      $(DESTDIR)$(LIBDIR_INSTALL)/pkgconfig/seqcls-mpi.pc

# The test program: one model trained by a process alone or as a rank.
$(BUILD)/mpi/mpi_fit: tests/mpi/mpi_fit.c include/seqcls_mpi.h $(MPI_SHARED)
	@mkdir -p $(dir $@)
	$(MPICC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) -o $@ $< \
	    -L$(LIBOUT) -lseqcls-mpi -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) -lm

# A missing MPI is an error here, not a skip (make check installs it).
check-mpi:
	@test "$(HAVE_MPI)" = yes || { echo "check-mpi: $(MPICC) not found (apt-get install libopenmpi-dev openmpi-bin)" >&2; exit 1; }
	@$(MAKE) --no-print-directory all $(BUILD)/mpi/mpi_fit
	MPIRUN="$(MPIRUN) $(MPIRUN_FLAGS)" sh tests/mpi/run.sh $(BUILD)/mpi/mpi_fit bin/seqcls $(BUILD)/mpi/run

CHECK_EXTRA += check-mpi

# ---- bench-dist ----

BENCH_DIST_STEPS ?= 5
BENCH_DIST_LENGTHS ?= both
$(BUILD)/bench/bench_dist: bench/bench_dist.c bench/lengths.h include/seqcls_mpi.h $(MPI_SHARED)
	@mkdir -p $(dir $@)
	$(MPICC) $(WARN) $(OPT) -D_POSIX_C_SOURCE=200809L -Iinclude $(CFLAGS) -o $@ $< \
	    -L$(LIBOUT) -lseqcls-mpi -lseqcls -Wl,-rpath,$(abspath $(LIBOUT)) -lm

bench-dist: $(BUILD)/bench/bench_dist
	MPIRUN="$(MPIRUN) $(MPIRUN_FLAGS)" PYTHONDONTWRITEBYTECODE=1 $(PYTHON) bench/run_dist.py \
	    $(BUILD)/bench/bench_dist $(BENCH_DIST_STEPS) $(BENCH_DIST_LENGTHS)

# The Python binding's mpirun test needs the adapter built.
ifeq ($(HAVE_MPI),yes)
check-python: $(MPI_SHARED)
endif
