"""make bench-dist: the headline model (B = 256 global, T = 500) trained on this
machine by seqcls with 1 process x 1 thread, 1 x 2 threads and 2 ranks x 1
thread (mpirun), and by PyTorch DistributedDataParallel (gloo, 2 processes x 1
thread), in the same run; then the targets of issue 18.

    usage: run_dist.py BENCH_DIST STEPS [full|imdb|both]   ($MPIRUN: the launcher and its flags)

full: every row 500 steps; imdb: IMDB-like lengths (bench/lengths.h, mean 238).

The load average is printed before and after: the machine may be shared.
"""
import os
import shlex
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(cmd, env=None):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=dict(os.environ, **(env or {})), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench-dist: failed:\n" + r.stdout + r.stderr)
    vals = {}
    for line in r.stdout.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            try:
                vals[k.strip()] = float(v)
            except ValueError:
                pass
        print("  " + line)
    return vals


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torch_ddp(steps, lens, size=2):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE=str(size),
               PYTHONDONTWRITEBYTECODE="1", GLOO_SOCKET_IFNAME="lo")
    cmd = [PYTHON, os.path.join(HERE, "dist_torch.py"), str(steps), lens]
    print("$ " + " ".join(cmd) + "   (x%d, RANK=0..%d)" % (size, size - 1), flush=True)
    procs = [subprocess.Popen(cmd, env=dict(env, RANK=str(r)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=HERE) for r in range(size)]
    outs = [p.communicate() for p in procs]
    if any(p.returncode for p in procs):
        sys.exit("bench-dist: PyTorch DDP failed:\n" + "\n".join(o + e for o, e in outs))
    vals = {}
    for line in outs[0][0].splitlines():
        k, v = line.split(":", 1)
        vals[k.strip()] = float(v)
        print("  " + line)
    return vals


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: run_dist.py BENCH_DIST STEPS [full|imdb|both]")
    exe, steps = sys.argv[1], int(sys.argv[2])
    kinds = sys.argv[3] if len(sys.argv) > 3 else "full"
    for lens in (("full", "imdb") if kinds == "both" else (kinds,)):
        one_kind(exe, steps, lens)


def one_kind(exe, steps, lens):
    mpirun = shlex.split(os.environ.get("MPIRUN", "mpirun --oversubscribe"))
    print("\n## %s lengths\nload average before: %s (%d cores)"
          % ("full" if lens == "full" else "IMDB-like", load(), os.cpu_count()), flush=True)
    v = {}
    v.update(run([exe, str(steps), "1", lens, "--no-mpi"]))
    v.update(run([exe, str(steps), "2", lens, "--no-mpi"]))
    v.update(run(mpirun + ["-np", "2", exe, str(steps), "1", lens]))
    # a ragged PyTorch step takes about a minute: one, counted without warm-up
    v.update(torch_ddp(max(2, steps // 2) if lens == "full" else 1, lens))
    print("load average after: %s" % load())
    one = v["seqcls_dist_1x1_%s_seq_per_s" % lens]
    two_threads = v["seqcls_dist_1x2_%s_seq_per_s" % lens]
    two = v["seqcls_dist_2x1_%s_seq_per_s" % lens]
    ddp = v["torch_ddp_2x1_%s_seq_per_s" % lens]
    print()
    print("| run | step ms | sequences/s |")
    print("|---|---|---|")
    for name, key in (("seqcls, 1 process x 1 thread", "seqcls_dist_1x1_%s" % lens),
                      ("seqcls, 1 process x 2 threads", "seqcls_dist_1x2_%s" % lens),
                      ("seqcls, 2 ranks x 1 thread (mpirun)", "seqcls_dist_2x1_%s" % lens),
                      ("PyTorch DDP (gloo), 2 processes x 1 thread", "torch_ddp_2x1_%s" % lens)):
        print("| %s | %.1f | %.1f |" % (name, v[key + "_step_ms"], v[key + "_seq_per_s"]))
    print()
    k = "seqcls_dist_2x1_%s_" % lens
    print("2 ranks: gradient all-reduce %.2f ms per step (%.0f buckets, %.2f MB), %.2f ms of it "
          "waited for after the backward pass (%.1f ms): %.1f%% hidden"
          % (v[k + "comm_ms_per_step"], v[k + "buckets_per_step"], v[k + "grad_mb_per_step"],
             v[k + "exposed_ms_per_step"], v[k + "backward_ms_per_step"],
             100 * v[k + "hidden_fraction"]))
    r1, r2 = two / one, two / ddp
    print("target_%s_2ranks_vs_1rank: %.2f (>= 1.8: %s)" % (lens, r1, "yes" if r1 >= 1.8 else "NO"))
    print("target_%s_2ranks_vs_torch_ddp: %.2f (>= 3: %s)" % (lens, r2, "yes" if r2 >= 3 else "NO"))
    print("%s_2ranks_vs_1process_2threads: %.2f" % (lens, two / two_threads))
    print("%s_1process_2threads_vs_1thread: %.2f (what the machine's second core gives now)"
          % (lens, two_threads / one))


if __name__ == "__main__":
    main()
