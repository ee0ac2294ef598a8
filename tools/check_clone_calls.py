#!/usr/bin/env python3
"""check_clone_calls.py LIBRARY -- the per-ISA clones call no baseline helper.

Functions marked SEQCLS_VECTORISED are built once per instruction set
(target_clones: NAME.avx512f, NAME.avx2 and the baseline).  Their helpers
must be inlined into each clone (SEQCLS_CLONE_INLINE): a helper that GCC
chooses to call instead is built once, for the baseline ISA, and the clone
then runs it 4 floats at a time (the AVX-512 and AVX2 cells' sigmoid and
the LSTM's gradient spans were so, unnoticed, until 1 December 2026).

This reads `objdump -d` of the library and fails when a clone calls a
function of the library that is neither a clone itself nor one of the
entry points below, which choose their own kernels or do no arithmetic
worth vectorising.  A new such call: inline the helper, or add it here
if it is such an entry point.
"""
import re
import subprocess
import sys

ENTRY_POINTS = {
    "cpu_isa", "pgemm", "pgemm_pack", "pgemm2", "blas_gemm", "qgemm", "qact", "rnn_qproduct",
    "ws_get", "drop_stream", "sparse_grad_dense", "sparse_grad_row", "sparse_rows_ready",
}
ENTRY_PREFIXES = ("seqcls__",)
CLONE = re.compile(r"^[0-9a-f]+ <([A-Za-z0-9_]+)\.(avx512f|avx2)>:$")
CALL = re.compile(r"\scall\s+[0-9a-f]+ <([^>]+)>")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_clone_calls.py LIBRARY")
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", sys.argv[1]], check=True,
                         capture_output=True, text=True).stdout
    clones, bad, current = 0, [], None
    for line in dis.splitlines():
        m = CLONE.match(line)
        if m:
            current = "%s.%s" % m.groups()
            clones += 1
            continue
        if not line.strip():
            current = None
            continue
        if current is None:
            continue
        c = CALL.search(line)
        if not c:
            continue
        target = c.group(1)
        if "@plt" in target or "." in target or target in ENTRY_POINTS or \
                target.startswith(ENTRY_PREFIXES):
            continue
        bad.append((current, target))
    if clones == 0:
        sys.exit("check_clone_calls: no clones (NAME.avx2, NAME.avx512f) in %s" % sys.argv[1])
    for clone, target in sorted(set(bad)):
        print("check_clone_calls: %s calls %s, built for the baseline ISA only" % (clone, target))
    if bad:
        sys.exit(1)
    print("check_clone_calls: %d clones call no baseline helper" % clones)


if __name__ == "__main__":
    main()
