"""Shared by the converter tests: paths, the seqcls package, running a tool."""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
PYDIR = os.path.join(ROOT, "bindings", "python")
for p in (TOOLS, PYDIR):
    if p not in sys.path:
        sys.path.insert(0, p)

import seqcls  # noqa: E402

TOL = 1e-5
worst = {}


def record(what, err):
    """Keep the largest error of each kind (printed at the end of the run)."""
    worst[what] = max(worst.get(what, 0.0), float(err))
    return err


def pytest_terminal_summary(terminalreporter):
    for what, err in sorted(worst.items()):
        terminalreporter.write_line("converter parity: max abs error %-28s %.2e" % (what, err))


def write_spec(path, spec):
    with open(path, "w") as f:
        json.dump(spec, f)
    return str(path)


def run_tool(tool, *args):
    """Run tools/<tool> in a fresh interpreter: (status, stdout, stderr)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, tool)] + [str(a) for a in args],
                       env=env, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def ragged_ids(rng, B, T, vocab, min_len=1):
    lengths = rng.integers(min_len, T + 1, size=B).astype(np.int32)
    lengths[0] = T
    ids = rng.integers(1, vocab, size=(B, T)).astype(np.int32)
    for b in range(B):
        ids[b, lengths[b]:] = 0
    return ids, lengths
