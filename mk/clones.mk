# mk/clones.mk -- the per-ISA clones of SEQCLS_VECTORISED functions call no
# helper built for the baseline ISA only (tools/check_clone_calls.py reads
# objdump -d of the library).  Run by `make check`.
#
#   make check-clones

.PHONY: check-clones

check-clones: $(SHARED)
	$(PYTHON) tools/check_clone_calls.py $(SHARED)

CHECK_EXTRA += check-clones
