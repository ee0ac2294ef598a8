"""Data-parallel training from Python: seqcls.Comm.mpi() (libseqcls-mpi through
ctypes) under mpirun, and Comm.from_callbacks with ranks as threads; both give
the model one process trains, up to float rounding (docs/distributed.md)."""
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import seqcls
from conftest import HERE, PYDIR, ROOT, bilstm_attention, tiny_data

# The ranks add the gradient sums in another order than one process: the
# weights differ by float rounding (about 1e-7 here).  Bahdanau's V.bias
# is left out: its gradient is zero in exact arithmetic, so Adam turns its
# rounding noise into steps of up to lr (it changes no prediction).
TOL = 1e-5


def train(comm=None, seed=1):
    x, lengths, y = tiny_data(200, 10, seed=3)
    m = bilstm_attention(seed=seed)
    m.compile("adam", lr=0.02)
    h = m.fit(x, y, lengths, epochs=3, batch_size=32, validation_split=0.2, seed=5, comm=comm)
    return m, h


def weights(m):
    return {name: np.array(m.param(name)) for name in m.param_names()
            if not name.endswith(".attention.V.bias")}


def assert_close(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    worst = max(float(np.max(np.abs(wa[k] - wb[k]))) for k in wa)
    assert worst <= TOL, worst


def test_ranks_as_threads_with_python_callbacks():
    """Comm.from_callbacks: two ranks in two threads, the collectives in Python."""
    ref, href = train()
    size = 2
    barrier = threading.Barrier(size)
    slots = [None] * size

    def make(rank):
        def allreduce(a):
            slots[rank] = a.copy()
            barrier.wait()
            total = slots[0] + slots[1]       # the same order on every rank
            barrier.wait()
            a[:] = total

        def broadcast(b):
            if rank == 0:
                slots[0] = b.copy()
            barrier.wait()
            if rank != 0:
                b[:] = slots[0]
            barrier.wait()
        return seqcls.Comm.from_callbacks(rank, size, allreduce, broadcast)

    comms = [make(r) for r in range(size)]
    out = [None] * size

    def run(r):
        out[r] = train(comms[r], seed=1 + r)   # rank 1's own weights are replaced
    threads = [threading.Thread(target=run, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert comms[0].rank == 0 and comms[1].size == 2
    for r in range(size):
        assert_close(ref, out[r][0])
        assert out[r][1]["val_loss"] == out[0][1]["val_loss"]
    stats = comms[0].stats()
    assert stats["steps"] == 3 * 5 and stats["buckets"] >= 15 and stats["bytes"] > 0


def test_a_failing_callback_is_a_comm_error():
    def allreduce(a):
        raise RuntimeError("the network is down")
    comm = seqcls.Comm.from_callbacks(0, 1, allreduce, lambda b: None)
    with pytest.raises(RuntimeError, match="the network is down"):
        train(comm)
    assert isinstance(comm.error, RuntimeError)


WORKER = r"""
import sys
import numpy as np
import seqcls
from test_distributed import train
comm = seqcls.Comm.mpi()
m, h = train(comm, seed=1 + comm.rank)
if comm.rank == 0:
    m.save(sys.argv[1])
print("rank %d of %d: %d steps" % (comm.rank, comm.size, comm.stats()["steps"]))
"""


def test_mpirun_with_the_adapter(tmp_path):
    """mpirun -np 2 python3: Comm.mpi() loads libseqcls-mpi.so.1 beside libseqcls.so.1."""
    mpirun = shutil.which("mpirun")
    assert mpirun, "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    lib = os.path.join(os.path.dirname(os.path.abspath(seqcls.library_path)),
                       "libseqcls-mpi.so.1")
    assert os.path.exists(lib), "%s not built (make, with libopenmpi-dev installed)" % lib
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    out = tmp_path / "two.sqcl"
    cmd = [mpirun, "--oversubscribe", "--mca", "btl", "self,vader", "-np", "2"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    env = dict(os.environ, PYTHONPATH=PYDIR + os.pathsep + HERE, PYTHONDONTWRITEBYTECODE="1",
               SEQCLS_LIBRARY=os.path.abspath(seqcls.library_path))
    r = subprocess.run(cmd + [sys.executable, str(worker), str(out)], env=env,
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 0 of 2: 15 steps" in r.stdout and "rank 1 of 2: 15 steps" in r.stdout
    ref, _ = train()
    assert_close(ref, seqcls.Model.load(str(out)))
