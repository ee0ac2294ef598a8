"""The peer of bench/bench_rnn.c: the same BiLSTM layer in PyTorch, timed
the same way (median of N runs after two warm-ups), then the ratios to
the seqcls figures read from the file given as argv[1].

    usage: rnn_torch.py seqcls_results.txt [repeats]

Also PyTorch's dynamically quantised model (torch.quantization.quantize_dynamic
of the LSTM and the Linear head, qint8, on fbgemm when the build has it,
else its default engine: Debian's torch 1.13 has onednn and qnnpack only)
at one thread against
seqcls's int8 and bf16 models (issue 19): torch_1thread_*_forward_int8_ms,
int8_speedup_* and bf16_speedup_* lines.  The weights are each program's
own random ones, with the same shapes; neither side's speed depends on
their values.
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


def bench_quantized(reps):
    """Inference of the dynamically quantised LSTM + head, one thread, on
    fbgemm if this build has it (else its default engine)."""
    if "fbgemm" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "fbgemm"
    torch.set_num_threads(1)
    torch.set_flush_denormal(False)
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"lstm": torch.nn.LSTM(IN, H, batch_first=True, bidirectional=True),
                                 "head": torch.nn.Linear(2 * H, 1)})
    q = torch.quantization.quantize_dynamic(model, {torch.nn.LSTM, torch.nn.Linear},
                                            dtype=torch.qint8)
    x = torch.rand(B, T, IN) * 2 - 1
    cases = {
        "full": torch.full((B,), T, dtype=torch.int64),
        "ragged": torch.tensor([T // 4 + (b * 37) % (3 * T // 4 + 1) for b in range(B)]),
    }
    out = {}
    for name, lens in cases.items():
        def inference():
            with torch.no_grad():
                inp = x if name == "full" else pack_padded_sequence(x, lens, batch_first=True,
                                                                     enforce_sorted=False)
                _, (h, _) = q["lstm"](inp)
                q["head"](torch.cat((h[-2], h[-1]), 1))

        out[name + "_forward_int8_ms"] = median_ms(inference, reps)
    return out


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
    quant = bench_quantized(reps)
    print("torch_quantized_engine: %s" % torch.backends.quantized.engine)
    for name in ("full", "ragged"):
        tq = quant[name + "_forward_int8_ms"]
        print("torch_1thread_%s_forward_int8_ms: %.3f" % (name, tq))
        f32 = ours.get(name + "_forward_ms")
        for p in ("int8", "bf16"):
            mine = ours.get("%s_forward_%s_ms" % (name, p))
            if mine and f32:
                # issue 19's targets: int8 >= 2.5x and bf16 >= 2x seqcls float32,
                # int8 >= 3x PyTorch's quantized model
                print("%s_speedup_vs_seqcls_f32_%s_forward: %.2f" % (p, name, f32 / mine))
                print("%s_speedup_vs_torch_int8_1thread_%s_forward: %.2f" % (p, name, tq / mine))
        print("torch_int8_speedup_vs_torch_f32_1thread_%s_forward: %.2f"
              % (name, one[name + "_forward_ms"] / tq))


if __name__ == "__main__":
    main()
