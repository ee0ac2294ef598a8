"""The peer of bench/bench_rnn.c: the same BiLSTM layer in PyTorch, timed
the same way (median of N runs after two warm-ups), then the ratios to
the seqcls figures read from the file given as argv[1].

    usage: rnn_torch.py seqcls_results.txt [repeats]
"""
import statistics
import sys
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence

B, T, IN, H = 64, 200, 128, 128


def median_ms(fn, reps):
    times = []
    for r in range(reps + 2):
        t0 = time.perf_counter()
        fn()
        if r >= 2:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench(threads, reps, flush_denormal=False):
    torch.set_num_threads(threads)
    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(IN, H, batch_first=True, bidirectional=True)
    head = torch.nn.Linear(2 * H, 1)
    x = torch.rand(B, T, IN) * 2 - 1
    cases = {
        "full": torch.full((B,), T, dtype=torch.int64),
        "ragged": torch.tensor([T // 4 + (b * 37) % (3 * T // 4 + 1) for b in range(B)]),
    }
    out = {}
    for name, lens in cases.items():
        def run(train):
            # full batches take the padded fast path, ragged ones a packed sequence
            inp = x if name == "full" else pack_padded_sequence(x, lens, batch_first=True,
                                                                 enforce_sorted=False)
            _, (h, _) = lstm(inp)
            logits = head(torch.cat((h[-2], h[-1]), 1))
            if train:
                lstm.zero_grad()
                head.zero_grad()
                (logits.sum() / B).backward()

        def inference():
            with torch.no_grad():
                run(False)

        out[name + "_forward_ms"] = median_ms(inference, reps)
        out[name + "_train_ms"] = median_ms(lambda: run(True), reps)
    return out


def main():
    ours = {}
    with open(sys.argv[1]) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith("seqcls_"):
                ours[k[len("seqcls_"):]] = float(v)
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    default_threads = torch.get_num_threads()
    print("torch_default_threads: %d" % default_threads)
    one = bench(1, reps)
    print("torch_version: %s" % torch.__version__)
    for k, v in one.items():
        print("torch_1thread_%s: %.3f" % (k, v))
        print("torch_1thread_%s: %.1f" % (k.replace("_ms", "_seq_per_s"), B / v * 1e3))
    # The gradient enters at the final states only and vanishes over 200
    # steps into denormal range, where torch's backward slows down badly
    # (seqcls flushes such tiny gradients to zero); so torch is also timed
    # with denormals flushed, the fairer comparison.
    ftz = bench(1, reps, flush_denormal=True)
    for k, v in ftz.items():
        print("torch_1thread_flushdenormal_%s: %.3f" % (k, v))
    many = bench(default_threads, reps)
    for k, v in many.items():
        print("torch_%dthreads_%s: %.3f" % (default_threads, k, v))
    for k, v in one.items():
        if k in ours:
            print("speedup_vs_torch_1thread_%s: %.2f" % (k.replace("_ms", ""), v / ours[k]))
    for k, v in ftz.items():
        if k in ours:
            print("speedup_vs_torch_1thread_flushdenormal_%s: %.2f" % (k.replace("_ms", ""),
                                                                     v / ours[k]))
    for k, v in many.items():
        if k in ours:
            print("speedup_vs_torch_%dthreads_%s: %.2f" % (default_threads, k.replace("_ms", ""),
                                                          v / ours[k]))


if __name__ == "__main__":
    main()
