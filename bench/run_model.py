"""Model benchmark driver: for each model (the headline IMDB model, then
the tutorial BiGRU) and configuration (train/infer, full/imdb lengths,
1/2 threads) run bench_model (seqcls) and model_torch.py (PyTorch) as
separate processes, alternating, `rounds` times; print each side's median
and the ratios torch / seqcls.  One configuration per process, so each
peak RSS is that configuration's.

    usage: run_model.py path/to/bench_model seqcls_repeats torch_repeats rounds [lengths [models]]

`lengths` (full, imdb or both, the default) picks the configurations,
`models` (imdb, bigru, both (the default: those two) or transformer) the
models.  The headline model's lines are ratio_torch_over_seqcls_model_*,
target_* and imdb_over_full_*; the BiGRU's are the same lines with a
bigru_ prefix, the transformer's (issue 16) with transformer_.  PyTorch's
transformer inference is measured with nested tensors on and off, and the
faster is its time (its best).
"""
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, threads):
    # both sides get the thread count through the environment as well:
    # PyTorch's OpenMP and the OpenBLAS it calls read it there
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE,
                         env=env).stdout
    vals = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        try:
            vals[k.strip()] = float(v)
        except ValueError:   # a line of text, not a figure
            pass
    return vals


# model argument -> (its name in the programs' keys, prefix of the lines
# derived here); the headline model's lines keep their old names
MODELS = {"imdb": ("model", ""), "bigru": ("bigru", "bigru_"),
          "transformer": ("transformer", "transformer_")}


def torch_variants(model, mode):
    """model_torch.py's model arguments for one configuration: the
    transformer's inference with and without nested tensors."""
    if model == "transformer" and mode == "infer":
        return ("transformer-nested", "transformer-padded")
    return (model,)


def torch_ms(r, key):
    """The time of one model_torch.py run: torch_<key>_ms, or a variant's
    torch_<key>_nested_ms / _padded_ms."""
    for k in ("torch_%s_ms" % key, "torch_%s_nested_ms" % key, "torch_%s_padded_ms" % key):
        if k in r:
            return r[k]
    raise KeyError("torch_%s_ms" % key)


def bench(model, exe, sreps, treps, rounds, which):
    name, pre = MODELS[model]
    kinds = ("full", "imdb") if which == "both" else (which,)
    best = {}
    for mode in ("train", "infer"):
        for lens in kinds:
            for threads in ("1", "2"):
                variants = torch_variants(model, mode)
                s_runs, t_runs = [], {v: [] for v in variants}
                for _ in range(rounds):
                    s_runs.append(run([exe, model, mode, lens, threads, sreps], threads))
                    for v in variants:
                        t_runs[v].append(run([sys.executable, "model_torch.py", v, mode, lens,
                                              threads, treps], threads))
                for runs in [s_runs] + list(t_runs.values()):
                    for k in runs[0]:
                        v = statistics.median(r.get(k, 0) for r in runs)
                        print("%s: %.2f" % (k, v), flush=True)
                key = "%s_%s_%s_%st" % (name, mode, lens, threads)
                s = statistics.median(r["seqcls_%s_ms" % key] for r in s_runs)
                t = min(statistics.median(torch_ms(r, key) for r in runs)
                        for runs in t_runs.values())
                if len(variants) > 1:
                    print("torch_%s_best_ms: %.2f" % (key, t), flush=True)
                best.setdefault((mode, lens), {})[threads] = (s, t)
                # ratio_torch_over_seqcls_model_train_full_1t,
                # bigru_ratio_torch_over_seqcls_train_full_1t
                rkey = key if not pre else "%s_%s_%st" % (mode, lens, threads)
                print("%sratio_torch_over_seqcls_%s: %.2f" % (pre, rkey, t / s), flush=True)
    for (mode, lens), d in best.items():
        s1, t1 = d["1"]
        s2, _ = d["2"]
        tbest = min(v[1] for v in d.values())
        print("%starget_%s_%s_1t_vs_torch_1t: %.2f" % (pre, mode, lens, t1 / s1))
        print("%starget_%s_%s_2t_vs_torch_best: %.2f" % (pre, mode, lens, tbest / s2))
        print("%starget_%s_%s_seqcls_best_vs_torch_best: %.2f" % (pre, mode, lens,
                                                                  tbest / min(s1, s2)))
    for mode in ("train", "infer") if which == "both" else ():
        for threads in ("1", "2"):
            print("%simdb_over_full_%s_%st: %.3f" % (pre, mode, threads,
                  best[(mode, "imdb")][threads][0] / best[(mode, "full")][threads][0]))


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    exe, sreps, treps, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    exe = os.path.abspath(exe)
    which = sys.argv[5] if len(sys.argv) > 5 else "both"
    models = sys.argv[6] if len(sys.argv) > 6 else "both"
    if which not in ("full", "imdb", "both") or models not in ("imdb", "bigru", "both",
                                                               "transformer"):
        sys.exit(__doc__)
    for model in ("imdb", "bigru") if models == "both" else (models,):
        bench(model, exe, sreps, treps, rounds, which)


if __name__ == "__main__":
    main()
