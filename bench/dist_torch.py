"""The PyTorch peer of bench/bench_dist.c: the headline model of
bench/model_torch.py (TutorialNet: the Keras IMDB tutorial's BiLSTM-attention
network) trained with DistributedDataParallel, gloo backend over the
loopback interface, one process per rank, each taking B / WORLD_SIZE rows of
every global batch of B = 256 (T = 500), Adam, BCEWithLogitsLoss.

    usage: dist_torch.py STEPS full|imdb        (RANK, WORLD_SIZE, MASTER_ADDR,
                                                 MASTER_PORT in the environment)

Run with OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 (as run_dist.py does):
one thread per rank.  Rank 0 prints the median step time of STEPS steps after
one warm-up step.
"""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from lengths import bench_lengths
from model_torch import B, T, VOCAB, WARMUP_SKIP_S, TutorialNet


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("full", "imdb"):
        sys.exit("usage: dist_torch.py STEPS full|imdb")
    steps, lens_kind = int(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lens = bench_lengths(B, T, 238.0 if lens_kind == "imdb" else 0.0, 7)
    packed = lens_kind == "imdb"
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (B, T), generator=g)
    lengths = torch.tensor(lens, dtype=torch.int64)
    ids[torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    y = torch.tensor([b & 1 for b in range(B)], dtype=torch.float32)
    # this rank's rows of the global batch (the rule of seqcls: r, r + N, ...)
    mine = torch.arange(rank, B, size)
    ids, lengths, y = ids[mine], lengths[mine], y[mine]
    net = DDP(TutorialNet())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = nn.BCEWithLogitsLoss()

    def step():
        net.train()
        opt.zero_grad()
        loss = lossf(net(ids, lengths, packed), y)
        loss.backward()          # DDP all-reduces the gradients in buckets here
        opt.step()

    # one warm-up step, unless it takes longer than WARMUP_SKIP_S: then it
    # is counted (a ragged step of this PyTorch takes a minute; one-time
    # costs are far below 1% of it), as bench/model_torch.py does
    times = []
    dist.barrier()
    t0 = time.perf_counter()
    step()
    first = (time.perf_counter() - t0) * 1e3
    if first > WARMUP_SKIP_S * 1e3:
        times.append(first)
    while len(times) < steps:
        dist.barrier()
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    if rank == 0:
        med = statistics.median(times)
        key = "torch_ddp_%dx1_%s" % (size, lens_kind)
        print("%s_step_ms: %.1f" % (key, med))
        print("%s_seq_per_s: %.1f" % (key, B / med * 1e3))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
