"""fastText's subword model from Python (1.1): a Vocab with character
n-grams, an embedding bag over encode_subwords_batch, and a model that
reads raw text (predict_text) as the command line does: one trained by
`seqcls train --minn/--maxn` predicts the same from Python."""
import os
import random
import subprocess

import numpy as np

import seqcls
from conftest import ROOT

SEQCLS = os.path.join(ROOT, "bin", "seqcls")
A = ["kalaka", "malaka", "talak", "kakala", "lakama", "makala", "alaka", "kamala"]
B = ["sorrin", "torrin", "norris", "rosrin", "sinnor", "tirros", "ornis", "nosrin"]
UNSEEN = ["makalak", "lakalaka", "norrin", "sorrins"]


def test_bag_model_in_python():
    v = seqcls.Vocab(A + B, min_freq=1, minn=2, maxn=3, bucket=3000, oov_buckets=4)
    assert v.rows == len(v) + 4 + 3000
    ids, lengths = v.encode_subwords_batch(A + B, 2, 16)
    assert ids.shape == (16, 2, 16) and list(lengths) == [1] * 16
    m = seqcls.Model(5)
    m.add_embedding_bag(v.rows, 8, 16)
    m.add_pooling("mean")
    m.add_output(1)
    m.vocab = v
    m.meta["maxlen"] = "2"
    y = np.array([0] * 8 + [1] * 8, np.int32)
    m.fit(ids, y, lengths, epochs=40, batch_size=4, optimizer=seqcls.Optimizer("adam", 0.05),
          verbose=0)
    p = m.predict_text(UNSEEN)
    assert p.shape == (4, 1)
    assert list(p[:, 0] >= 0.5) == [False, False, True, True]
    x, n = m.encode_text(UNSEEN)
    assert x.shape == (4, 2, 16)
    np.testing.assert_array_equal(m.predict(x, n), p)
    # a stream reads the same bags step by step
    s = m.stream()
    np.testing.assert_allclose(s.push(x[2, :n[2]]), p[2], atol=1e-6)


def test_a_command_line_bag_model_reads_text_alike(tmp_path):
    rng = random.Random(2)
    train = tmp_path / "train.txt"
    train.write_text("".join("__label__%s %s\n" % (("a", rng.choice(A)) if i % 2 else
                                                    ("b", rng.choice(B))) for i in range(200)))
    model = tmp_path / "m.sqcl"
    r = subprocess.run([SEQCLS, "train", "-i", str(train), "-o", str(model), "--arch",
                        "meanpool", "--minn", "2", "--maxn", "4", "--bucket", "1000",
                        "--tokens", "char", "--epochs", "3", "--dim", "4"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([SEQCLS, "predict", str(model)], input="\n".join(UNSEEN) + "\n",
                       capture_output=True, text=True)
    cli = [float(l.split()[1]) if l.split()[0] == "__label__b" else 1 - float(l.split()[1])
           for l in r.stdout.splitlines()]
    m = seqcls.Model.load(model)
    assert m.layer_kind(0) == "embedding_bag" and m.vocab.tokens == "char"
    np.testing.assert_allclose(m.predict_text(UNSEEN)[:, 0], cli, atol=1e-5)
