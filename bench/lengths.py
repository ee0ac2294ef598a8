"""The synthetic lengths of the benchmarks, the same numbers as bench/lengths.h."""
import math

M64 = (1 << 64) - 1


def bench_lengths(n, T, mean, seed):
    out = []
    for _ in range(n):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & M64
        u = ((seed >> 11) + 0.5) / 9007199254740992.0
        l = math.ceil(-mean * math.log(u)) if mean > 0 else T
        out.append(max(1, min(T, int(l))))
    return out
