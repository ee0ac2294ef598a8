import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
ROOT = os.path.abspath(os.path.join(PYDIR, "..", ".."))
sys.path.insert(0, PYDIR)

import numpy as np  # noqa: E402

import seqcls  # noqa: E402


def tiny_data(n=64, t=10, vocab=30, seed=0, target=7):
    """Ids [n, t], ragged lengths, labels = 'token `target` occurs'."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, n).astype(np.int32)
    x = rng.integers(1, vocab, (n, t)).astype(np.int32)
    x[x == target] = target + 1
    y = rng.integers(0, 2, n).astype(np.int32)
    for b in range(n):
        x[b, lengths[b]:] = 0
        if y[b]:
            x[b, rng.integers(0, lengths[b])] = target
    return x, lengths, y


def bilstm_attention(seed=1, vocab=30):
    m = seqcls.Model(seed)
    m.add_embedding(vocab, 8, padding_idx=0)
    m.add_lstm(8, bidirectional=True, return_sequences=True)
    m.add_attention("bahdanau", units=8)
    m.add_output(1)
    return m


@pytest.fixture
def data():
    return tiny_data()


@pytest.fixture
def model():
    return bilstm_attention()


def run_python(code, **kw):
    """Run `code` in a fresh interpreter that imports this package."""
    env = dict(os.environ, PYTHONPATH=PYDIR + os.pathsep + HERE, PYTHONDONTWRITEBYTECODE="1")
    env.update(kw.pop("env", {}))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, **kw)


# What a subprocess test starts from: the package and a tiny data set.
SUBPROCESS_PRELUDE = """
import gc, sys, numpy as np, seqcls
from conftest import bilstm_attention, tiny_data
x, lengths, y = tiny_data()
"""


def run_ok(body):
    """Run `body` after SUBPROCESS_PRELUDE in a fresh interpreter, so that a
    crash is a failed test; its standard output."""
    r = run_python(SUBPROCESS_PRELUDE + body)
    assert r.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (r.returncode, r.stdout,
                                                                        r.stderr)
    return r.stdout


def have(name):
    return name not in seqcls.missing


def needs_save_load(test):
    """Marks the tests of saving and loading (never skipped)."""
    return test
