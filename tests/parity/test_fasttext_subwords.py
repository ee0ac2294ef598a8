"""seqcls_vocab_encode_subwords gives the n-gram rows fastText itself uses.

fastText 0.9 (Debian's `fasttext`) trains a tiny supervised model with
character n-grams; `fasttext dump MODEL input` prints its input matrix
(nwords + bucket rows) and `print-word-vectors` the vector of a word
that is not in its dictionary: the mean of the rows of the word's
n-grams.  The same mean over the rows that seqcls's n-gram ids name
(row nwords + id - (size + oov buckets)) must be that vector, for words
with ASCII, 2-, 3- and 4-byte characters (fastText's hash sign-extends
bytes >= 0x80) and every n-gram length.

Skipped, with a line saying so, when the `fasttext` command is missing
(it is not a dependency of seqcls; bench/fasttext_compare.sh installs it).
"""
import ctypes as C
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from seqcls_ctypes import lib, check

_p = C.c_void_p
lib.seqcls_vocab_create.argtypes = [C.POINTER(_p)]
lib.seqcls_vocab_free.argtypes = [_p]
lib.seqcls_vocab_set_int.argtypes = [_p, C.c_int, C.c_int]
lib.seqcls_vocab_add_text.argtypes = [_p, C.c_char_p, C.c_size_t]
lib.seqcls_vocab_build.argtypes = [_p, C.c_int, C.c_int]
lib.seqcls_vocab_size.argtypes = [_p]
lib.seqcls_vocab_encode_subwords.argtypes = [_p, C.c_char_p, C.c_size_t,
                                             C.POINTER(C.c_int32), C.c_int, C.c_int,
                                             C.POINTER(C.c_int)]
VOCAB_MINN, VOCAB_MAXN, VOCAB_BUCKET = 3, 4, 5

TRAIN = ["__label__a hello world", "__label__b naive cafe", "__label__a uber strasse"]
# not in the training data; lower-case (seqcls lower-cases, fastText does not)
WORDS = ["zebra", "naïve", "straße", "日本語", "x", "ab", "😀ok", "ÿ", "ľubovoľný"]
MINN, MAXN, BUCKET, PER = 1, 5, 1000, 128


def seqcls_ngram_rows(word, nwords):
    v = _p()
    check(lib.seqcls_vocab_create(C.byref(v)))
    try:
        for o, val in ((VOCAB_MAXN, MAXN), (VOCAB_MINN, MINN), (VOCAB_BUCKET, BUCKET)):
            check(lib.seqcls_vocab_set_int(v, o, val))
        check(lib.seqcls_vocab_build(v, 0, 0))
        base = lib.seqcls_vocab_size(v)   # no oov buckets: the n-grams follow the tokens
        raw = word.encode()
        ids = np.zeros(PER, np.int32)
        n = C.c_int(0)
        check(lib.seqcls_vocab_encode_subwords(v, raw, len(raw),
                                               ids.ctypes.data_as(C.POINTER(C.c_int32)),
                                               1, PER, C.byref(n)))
        assert n.value == 1 and ids[0] == 1, (word, ids[:4])   # one unknown token
        grams = ids[1:][ids[1:] >= 0]
        assert len(grams) < PER - 1, word
        return [nwords + int(g) - base for g in grams]
    finally:
        lib.seqcls_vocab_free(v)


def main():
    exe = shutil.which("fasttext")
    if not exe:
        print("test_fasttext_subwords: skipped (no `fasttext` command: apt-get install fasttext)")
        return 0
    with tempfile.TemporaryDirectory() as d:
        train = os.path.join(d, "train.txt")
        with open(train, "w") as f:
            f.write("\n".join(TRAIN) + "\n")
        model = os.path.join(d, "m")
        subprocess.run([exe, "supervised", "-input", train, "-output", model, "-dim", "4",
                        "-minn", str(MINN), "-maxn", str(MAXN), "-bucket", str(BUCKET),
                        "-epoch", "1", "-thread", "1", "-verbose", "0"], check=True,
                       stdout=subprocess.DEVNULL)
        dump = subprocess.run([exe, "dump", model + ".bin", "input"], check=True,
                              capture_output=True, text=True).stdout.split("\n")
        rows, dim = map(int, dump[0].split())
        matrix = np.array([[float(x) for x in line.split()] for line in dump[1:rows + 1]])
        nwords = rows - BUCKET
        out = subprocess.run([exe, "print-word-vectors", model + ".bin"], check=True,
                             input="\n".join(WORDS) + "\n", capture_output=True,
                             text=True).stdout.strip().split("\n")
    worst = 0.0
    for word, line in zip(WORDS, out):
        parts = line.rstrip().split(" ")
        assert parts[0] == word, (parts[0], word)
        want = np.array([float(x) for x in parts[1:]])
        rows_ = seqcls_ngram_rows(word, nwords)
        got = matrix[rows_].mean(axis=0)
        err = float(np.max(np.abs(got - want)))
        assert err < 2e-5, (word, len(rows_), got, want)
        worst = max(worst, err)
    print("test_fasttext_subwords: %d words, n-grams %d..%d, bucket %d: seqcls's n-gram rows "
          "give fastText's vectors (max abs diff %.1e)" % (len(WORDS), MINN, MAXN, BUCKET, worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
