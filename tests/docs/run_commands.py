#!/usr/bin/env python3
"""Run the commands of a Markdown page as they are written.

Every ```sh block of the page runs, in the page's order, in one shell
session (`sh -e`) started at the top of the clone, as a reader would type
them into a terminal: a variable exported in one block is there in the
next, a failing command stops the session.  Nothing in the commands is
rewritten; the session's environment is a new user's:

  - HOME is a new temporary directory (so `make install PREFIX=$HOME/.local`
    installs into it, `~/.venvs/...` is made in it), removed afterwards;
  - no DESTDIR, SEQCLS_LIBRARY, PKG_CONFIG_PATH, LD_LIBRARY_PATH,
    PYTHONPATH, VIRTUAL_ENV, nor the calling make's MAKEFLAGS;
  - pip stays offline (PIP_NO_INDEX=1); cargo and rustup keep their own
    homes, and CARGO_TARGET_DIR may be given (--cargo-target-dir) so that
    the Rust example is not built twice.

Files the commands leave at the top of the clone that the page names (the
`-o first_model` of a compile line) are removed afterwards.  The last line
is "PAGE: N passed, M failed" (N blocks that ran to their end, M the block
that failed and those after it); the exit status is 1 if any failed.

Usage: run_commands.py PAGE [--cargo-target-dir DIR]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLEARED = ("DESTDIR", "SEQCLS_LIBRARY", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "PYTHONPATH",
           "PYTHONHOME", "VIRTUAL_ENV", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
           "GNUMAKEFLAGS", "CARGO_TARGET_DIR")


def sh_blocks(page):
    """The code of every ```sh block of the page, in order."""
    text = open(page, encoding="utf-8").read()
    return [m.group(1) for m in re.finditer(r"^```sh\n(.*?)^```[ \t]*$", text, re.M | re.S)]


def environment(home, cargo_target_dir):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    real_home = os.path.expanduser("~")
    # rustup and cargo find their toolchains under the real home
    for var, sub in (("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")):
        if var not in env and os.path.isdir(os.path.join(real_home, sub)):
            env[var] = os.path.join(real_home, sub)
    cargo_bin = os.path.join(env.get("CARGO_HOME", os.path.join(real_home, ".cargo")), "bin")
    if os.path.isdir(cargo_bin) and cargo_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = env.get("PATH", "") + os.pathsep + cargo_bin
    if cargo_target_dir:
        env["CARGO_TARGET_DIR"] = cargo_target_dir
    env.update(HOME=home, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def commands(code):
    """The logical lines of a block (a line ending in a backslash goes on)."""
    out, cur = [], []
    for line in code.splitlines():
        cur.append(line)
        if not line.endswith("\\"):
            out.append("\n".join(cur))
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


def script(blocks, status):
    """One shell script: each command shown as typed ("$ ..."), then run;
    each block recorded as done at its end."""
    out = ["set -e", "cd %s" % shquote(ROOT)]
    for i, code in enumerate(blocks, 1):
        out.append("echo")
        for cmd in commands(code):
            out.append("printf '%%s\\n' %s" % shquote("$ " + cmd.replace("\n", "\n  ")))
            out.append(cmd)
        out.append("echo %d >> %s" % (i, shquote(status)))
    return "\n".join(out) + "\n"


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--cargo-target-dir")
    a = ap.parse_args()
    page = os.path.abspath(a.page)
    name = os.path.relpath(page, ROOT)
    blocks = sh_blocks(page)
    if not blocks:
        print("%s: no ```sh blocks" % name)
        print("%s: 0 passed, 1 failed" % name)
        return 1
    text = open(page, encoding="utf-8").read()
    before = set(os.listdir(ROOT))
    # `make install PREFIX=...` regenerates the build tree's seqcls.pc for
    # that prefix: put back the one of the build
    pc = os.path.join(ROOT, "pkgconfig", "seqcls.pc")
    pc_text = open(pc, "rb").read() if os.path.exists(pc) else None
    home = tempfile.mkdtemp(prefix="seqcls-doc-home-")
    status = os.path.join(home, ".blocks-done")
    try:
        rc = subprocess.call(["sh", "-e", "-c", script(blocks, status)],
                             env=environment(home, a.cargo_target_dir), cwd=ROOT)
        done = len(open(status).read().split()) if os.path.exists(status) else 0
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if pc_text is not None:
            with open(pc, "wb") as f:
                f.write(pc_text)
        for entry in sorted(set(os.listdir(ROOT)) - before):
            path = os.path.join(ROOT, entry)
            if os.path.isfile(path) and re.search(r"(?<![\w./-])%s(?![\w.-])" % re.escape(entry),
                                                  text):
                os.remove(path)
            else:
                print("%s: the commands left %s at the top of the clone" % (name, entry))
    failed = len(blocks) - done
    if rc or failed:
        print("%s: block %d of %d failed (exit status %d)" % (name, done + 1, len(blocks), rc))
        failed = max(failed, 1)
    print("%s: %d passed, %d failed" % (name, done, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
