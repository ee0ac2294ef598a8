"""Build outputs are ignored by git, sources are not (issue 15, item 11)."""
import os
import subprocess
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

OUTPUTS = [
    "lib/libseqcls.so.1", "build/openblas/f32/tensor.o", "bin/seqcls", "pkgconfig/seqcls.pc",
    "bindings/rust/target/debug/examples/first_model", "bindings/rust/target/CACHEDIR.TAG",
    "bindings/python/build/lib/seqcls/model.py", "bindings/python/seqcls.egg-info/PKG-INFO",
    "bindings/python/dist/seqcls-1.1.0-py3-none-any.whl",
    "bindings/python/seqcls/__pycache__/model.cpython-311.pyc",
    "bindings/python/.pytest_cache/README.md", "tools/tests/__pycache__/conftest.pyc",
    "first_model", "first_model.sqcl", "fuzz-0.log", "src/tensor.o",
]
SOURCES = [
    "src/tensor.c", "include/seqcls.h", "bindings/rust/src/lib.rs", "bindings/rust/Cargo.lock",
    "bindings/rust/examples/first_model.rs", "bindings/python/seqcls/model.py",
    "bindings/python/pyproject.toml", "docs/snippets/first_model.c", "tests/docs/run_commands.py",
    "pkgconfig/seqcls.pc.in", "fuzz/regressions/load/README.md", "examples/presence.c",
]


def ignored(paths):
    """The subset of `paths` that git ignores (they need not exist)."""
    r = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"],
                       input="\n".join(paths) + "\n", capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise unittest.SkipTest("git check-ignore: " + r.stderr.strip())
    return set(r.stdout.split())


def in_clone():
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--is-inside-work-tree"],
                          capture_output=True).returncode == 0


@unittest.skipUnless(in_clone(), "not a git clone")
class GitIgnore(unittest.TestCase):
    def test_build_outputs_are_ignored(self):
        self.assertEqual(sorted(set(OUTPUTS) - ignored(OUTPUTS)), [])

    def test_sources_are_not(self):
        self.assertEqual(sorted(ignored(SOURCES)), [])


if __name__ == "__main__":
    unittest.main()
