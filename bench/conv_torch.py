"""The peer of bench/bench_conv.c: torch.nn.Conv1d(300, 100, 5) -> relu ->
max over time -> Linear(100, 1) on the same shapes, timed the same way
(median of N runs after two warm-ups), then the ratios to the seqcls
figures read from the file given as argv[1].  PyTorch has no lengths: a
ragged batch is padded to T, so its figures are those of the full batch
(the ragged rows' padding is computed and then masked out of the max).

    usage: conv_torch.py seqcls_results.txt [repeats]
"""
import statistics
import sys
import time

import torch

F, U, K = 300, 100, 5
SHAPES = {"kim": (50, 56, 6, 36), "doc": (32, 400, 100, 400)}


def median_ms(fn, reps):
    times = []
    for r in range(reps + 2):
        t0 = time.perf_counter()
        fn()
        if r >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


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

        out["%s_t%d_%s_forward_ms" % (name, threads, case)] = median_ms(inference, reps)
        out["%s_t%d_%s_train_ms" % (name, threads, case)] = median_ms(lambda: run(True), reps)
    return out


def main():
    ours = {}
    with open(sys.argv[1]) as f:
        for line in f:
            k, v = line.split(":")
            ours[k.strip()] = float(v)
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    print("torch %s, %s" % (torch.__version__,
                            "oneDNN (mkldnn) on" if torch.backends.mkldnn.is_available() else
                            "oneDNN off"))
    print("%-26s %10s %10s %8s" % ("case", "seqcls ms", "torch ms", "speedup"))
    for name in SHAPES:
        for threads in (1, 2):
            for k, v in bench(name, threads, reps).items():
                print("%-26s %10.3f %10.3f %7.2fx" % (k[:-3], ours[k], v, v / ours[k]))


if __name__ == "__main__":
    main()
