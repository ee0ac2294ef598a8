# mk/abi.mk -- the ABI guard's own test (tools/tests/test_abi_check.sh).
#
#   make check-abi-guard   relink the library's objects in a temporary directory with
#                          deliberately bad version scripts (a 1.0 function moved to
#                          SEQCLS_1.1, a new function in SEQCLS_1.0, a wildcard, ...):
#                          tools/abi-check.sh must fail on each, and pass on the real map
#
# Run by `make check`, and by `make abi-check` before its own check.  A few
# seconds; skipped, with a line saying so, when abidiff (abigail-tools) is missing.

.PHONY: check-abi-guard

check-abi-guard: $(OBJS_F32) src/libseqcls.map tools/abi-check.sh
	@echo 'sh tools/tests/test_abi_check.sh $$(OBJS_F32) ($(BUILD)/f32/*.o)'
	@CC="$(CC)" LIBS="$(LIBS)" sh tools/tests/test_abi_check.sh $(OBJS_F32)

CHECK_EXTRA += check-abi-guard

abi-check: check-abi-guard
