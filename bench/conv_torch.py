"""The peer of bench/bench_conv.c: torch.nn.Conv1d(300, 100, 5) -> relu ->
max over time -> Linear(100, 1) on the same shapes, timed the same way
(median of N runs after two warm-ups).  PyTorch has no lengths: a ragged
batch is padded to T and its padding is computed, then masked out of the
max.  `make bench-conv` alternates rounds of the two programs and compares
the best median of each case: wall time, and the process's CPU time (what
a one-thread run costs on a machine that other work shares; at two threads
only the wall time says what threads bring).

    usage: conv_torch.py measure [repeats]            # name: value lines
           conv_torch.py compare SEQCLS... -- TORCH...  # the table
"""
import statistics
import sys
import time

import torch

F, U, K = 300, 100, 5
SHAPES = {"kim": (50, 56, 6, 36), "doc": (32, 400, 100, 400)}


def median_ms(fn, reps):
    """(median wall ms, median process CPU ms) of reps runs after two warm-ups."""
    times, cpu = [], []
    for r in range(reps + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if r >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(times), statistics.median(cpu)


def bench(name, threads, reps):
    B, T, lo, hi = SHAPES[name]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(F, U, K)
    head = torch.nn.Linear(U, 1)
    x = torch.rand(B, F, T) * 2 - 1
    lens = torch.tensor([lo + (b * 37) % (hi - lo + 1) for b in range(B)])
    out = {}
    for case in ("full", "ragged"):
        def run(train):
            xi = x.requires_grad_(train)
            y = torch.relu(conv(xi))
            if case == "ragged":   # mask each row's padding out of the max
                valid = torch.arange(T - K + 1)[None, :] < (lens - K + 1)[:, None]
                y = y.masked_fill(~valid[:, None, :], float("-inf"))
            logits = head(y.max(2).values)
            if train:
                conv.zero_grad()
                head.zero_grad()
                x.grad = None
                logits.sum().backward()

        def inference():
            with torch.no_grad():
                run(False)

        for what, fn in (("forward", inference), ("train", lambda: run(True))):
            wall, cpu = median_ms(fn, reps)
            out["%s_t%d_%s_%s_ms" % (name, threads, case, what)] = wall
            out["%s_t%d_%s_%s_cpu_ms" % (name, threads, case, what)] = cpu
    return out


def read(paths):
    """The smallest value of each `name: value` key over the files (rounds)."""
    out = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if ":" not in line:
                    continue
                k, v = line.split(":", 1)
                out[k.strip()] = min(float(v), out.get(k.strip(), float("inf")))
    return out


def main():
    if sys.argv[1] == "measure":
        reps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
        for name in SHAPES:
            for threads in (1, 2):
                for k, v in bench(name, threads, reps).items():
                    print("%s: %.3f" % (k, v))
        return
    # compare: seqcls files, then "--", then torch files
    i = sys.argv.index("--")
    ours, theirs = read(sys.argv[2:i]), read(sys.argv[i + 1:])
    print("torch %s, %s; best of %d round(s) of medians"
          % (torch.__version__, "oneDNN (mkldnn) on" if torch.backends.mkldnn.is_available()
             else "oneDNN off", len(sys.argv) - i - 1))
    print("%-24s %10s %10s %8s   %10s %10s %8s" % ("case", "seqcls ms", "torch ms", "speedup",
                                                  "seqcls cpu", "torch cpu", "speedup"))
    for k in ours:
        if k.endswith("_cpu_ms"):
            continue
        c = k[:-3] + "_cpu_ms"
        print("%-24s %10.3f %10.3f %7.2fx   %10.3f %10.3f %7.2fx"
              % (k[:-3], ours[k], theirs[k], theirs[k] / ours[k], ours[c], theirs[c],
                 theirs[c] / ours[c]))


if __name__ == "__main__":
    main()
