#!/usr/bin/env python3
"""Counting the tests of `make check`, for its last line: "N passed, N failed".

    check_count.py [--name NAME] [--echo] -- COMMAND ARG...
        Run COMMAND, its output passed through as it comes.  When the
        environment names a counts file (SEQCLS_CHECK_COUNTS, which
        `make check` sets), count the tests the output reports, append
        "NAME<TAB>passed<TAB>failed<TAB>status" to the file and exit 0, so
        that make goes on to the other suites; otherwise exit with
        COMMAND's status (`make check-python` alone fails as before).

    check_count.py --summary FILE [--status N]
        Print the suites that failed, then the sum as the last line; exit 1
        if anything failed or N (the status of the make that ran the
        suites) is not 0.

What is counted, from the output of one command:
  - Check runners:  "Checks: N, Failures: F, Errors: E"
  - pytest:         "N passed, F failed, E errors ... in 1.23s"
  - unittest:       "Ran N tests" and "OK" / "FAILED (failures=F, errors=E, skipped=S)"
  - cargo test:     "test result: ok. N passed; F failed; ..." (every one)
  - our scripts:    "NAME: N passed, F failed" (test_abi_check.sh, the docs runner, ...)
  - parity tests:   "... parity: N configurations" and a "FAIL ..." line per failure
  - fuzz replays:   "N inputs replayed cleanly"
A command that reports none of these counts as one test.  A command that
failed counts at least one failure, whatever it reported.
"""
import os
import re
import shlex
import subprocess
import sys

ENV = "SEQCLS_CHECK_COUNTS"


def count(text, status):
    """(passed, failed) of one command's output and exit status."""
    p = f = 0
    found = False
    for m in re.finditer(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", text):
        n, fail, err = map(int, m.groups())
        p, f, found = p + n - fail - err, f + fail + err, True
    for m in re.finditer(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s\b", text, re.M):
        parts = dict((w, int(n)) for n, w in re.findall(r"(\d+) (\w+)", m.group(1)))
        p += parts.get("passed", 0) + parts.get("xpassed", 0)
        f += parts.get("failed", 0) + parts.get("error", 0) + parts.get("errors", 0)
        found = True
    for m in re.finditer(r"^Ran (\d+) tests? in [\d.]+s\s*\n\s*\n(OK|FAILED)(?: \((.*)\))?$",
                         text, re.M):
        ran = int(m.group(1))
        parts = dict((k, int(v)) for k, v in re.findall(r"(\w[\w ]*)=(\d+)", m.group(3) or ""))
        bad = parts.get("failures", 0) + parts.get("errors", 0) + \
            parts.get("unexpected successes", 0)
        p, f, found = p + ran - bad - parts.get("skipped", 0), f + bad, True
    for m in re.finditer(r"^test result: \w+\. (\d+) passed; (\d+) failed", text, re.M):
        p, f, found = p + int(m.group(1)), f + int(m.group(2)), True
    for m in re.finditer(r"^[\w./ -]+: (\d+) passed, (\d+) failed$", text, re.M):
        p, f, found = p + int(m.group(1)), f + int(m.group(2)), True
    for m in re.finditer(r"parity: (\d+) configurations", text):
        p, found = p + int(m.group(1)), True
    fails = len(re.findall(r"^FAIL ", text, re.M))
    p, f = p - fails, f + fails
    for m in re.finditer(r"(\d+) (?:kept )?inputs replayed cleanly", text):
        p, found = p + int(m.group(1)), True
    if not found:
        p, f = (1, 0) if status == 0 else (0, 1)
    elif status != 0 and f == 0:
        f = 1
    return max(p, 0), f


def run(args):
    name, echo = None, False
    while args and args[0] != "--":
        if args[0] == "--name":
            name, args = args[1], args[2:]
        elif args[0] == "--echo":
            echo, args = True, args[1:]
        else:
            sys.exit("check_count.py: unknown option %s" % args[0])
    cmd = args[1:]
    if not cmd:
        sys.exit("check_count.py: no command")
    if echo:
        print(" ".join(shlex.quote(a) for a in cmd), flush=True)
    counts = os.environ.get(ENV)
    if not counts:
        os.execvp(cmd[0], cmd)
    env = dict(os.environ)
    del env[ENV]                     # counted here, not again by a command inside
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    seen = bytearray()
    out = sys.stdout.buffer
    while True:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        seen += chunk
        out.write(chunk)
        out.flush()
    status = proc.wait()
    passed, failed = count(seen.decode("utf-8", "replace"), status)
    with open(counts, "a") as f:
        f.write("%s\t%d\t%d\t%d\n" % (name or " ".join(cmd), passed, failed, status))
    return 0


def summary(args):
    path, status = args[0], 0
    if args[1:2] == ["--status"]:
        status = int(args[2])
    passed = failed = 0
    bad = []
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        name, p, f, rc = line.rsplit("\t", 3)
        passed, failed = passed + int(p), failed + int(f)
        if int(f) or int(rc):
            bad.append("%s: %s failed (exit status %s)" % (name, f, rc))
    if status and not bad:
        # make stopped outside the counted suites (a build error): one more
        bad.append("make stopped with status %d before the end" % status)
        failed += 1
    if bad:
        print("\nFailed:")
        for b in bad:
            print("  " + b)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed or status else 0


def main():
    args = sys.argv[1:]
    if args[:1] == ["--summary"]:
        return summary(args[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
