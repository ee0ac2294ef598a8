"""Reduced-precision benchmark driver (issue 19): the headline model (B =
256, T = 500; bench_model.c / model_torch.py) for inference in seqcls
float32, int8 and bf16 (seqcls_model_quantize) and in PyTorch float32 and
int8 (torch.quantization.quantize_dynamic of the LSTMs and Linears, on
fbgemm if the build has it, else its default engine, printed), each
configuration a separate process, alternating, `rounds`
times; prints each side's median and the ratios of issue 19's targets:

    int8_over_seqcls_f32_*    seqcls float32 time / seqcls int8 time (target >= 2.5)
    bf16_over_seqcls_f32_*    seqcls float32 time / seqcls bf16 time (target >= 2)
    int8_over_torch_int8_*    PyTorch int8 time / seqcls int8 time (target >= 3)

and the CPU's relevant flags and the load average of the run.  The
one-layer benchmark's quantised figures are in `make bench-rnn`.

    usage: run_quant.py path/to/bench_model seqcls_repeats torch_repeats rounds [lengths [threads]]
"""
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_model import run  # noqa: E402  (the same runner and parser)


def cpu_flags():
    wanted = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
              "amx_tile", "amx_int8", "amx_bf16")
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return " ".join(w for w in wanted if w in have) or "none"
    except OSError:
        pass
    return "unknown"


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    exe = os.path.abspath(sys.argv[1])
    sreps, treps, rounds = sys.argv[2], sys.argv[3], int(sys.argv[4])
    lengths = sys.argv[5].split(",") if len(sys.argv) > 5 else ["full", "imdb"]
    thread_list = sys.argv[6].split(",") if len(sys.argv) > 6 else ["1", "2"]
    print("cpu_flags: %s" % cpu_flags())
    engine = subprocess.run([sys.executable, "-c", "import torch; e = torch.backends.quantized; "
                             "print('fbgemm' if 'fbgemm' in e.supported_engines else e.engine)"],
                            capture_output=True, text=True).stdout.strip()
    print("torch_quantized_engine: %s" % (engine or "unknown"))
    print("load_average_start: %.2f" % os.getloadavg()[0])
    for lens in lengths:
        for threads in thread_list:
            runs = {"s_infer": [], "s_infer-int8": [], "s_infer-bf16": [], "t_infer": [],
                    "t_infer-int8": []}
            for _ in range(rounds):
                for mode in ("infer", "infer-int8", "infer-bf16"):
                    runs["s_" + mode].append(run([exe, "imdb", mode, lens, threads, sreps],
                                                 threads))
                for mode in ("infer", "infer-int8"):
                    runs["t_" + mode].append(run([sys.executable, "model_torch.py", "imdb", mode,
                                                  lens, threads, treps], threads))
            med = {}
            for kind, rs in runs.items():
                for k in rs[0]:
                    if k.endswith("_ms"):
                        med[k] = statistics.median(r[k] for r in rs)
                        print("%s: %.1f" % (k, med[k]), flush=True)
            sfx = "%s_%st" % (lens, threads)
            f32 = med["seqcls_model_infer_%s_ms" % sfx]
            i8 = med["seqcls_model_infer_int8_%s_ms" % sfx]
            b16 = med["seqcls_model_infer_bf16_%s_ms" % sfx]
            t32 = med["torch_model_infer_%s_ms" % sfx]
            t8 = med["torch_model_infer_int8_%s_ms" % sfx]
            print("int8_over_seqcls_f32_%s: %.2f" % (sfx, f32 / i8))
            print("bf16_over_seqcls_f32_%s: %.2f" % (sfx, f32 / b16))
            print("int8_over_torch_int8_%s: %.2f" % (sfx, t8 / i8))
            print("bf16_over_torch_int8_%s: %.2f" % (sfx, t8 / b16))
            print("seqcls_f32_over_torch_f32_%s: %.2f" % (sfx, t32 / f32))
            print("torch_int8_over_torch_f32_%s: %.2f" % (sfx, t32 / t8), flush=True)
    print("load_average_end: %.2f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
