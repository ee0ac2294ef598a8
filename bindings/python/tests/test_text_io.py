"""Text in, label names out: read_labelled (fastText and TSV, as the
command line reads them), the vocabulary defaults of `seqcls train`,
fit on texts and label names, predict_text / predict_labels with the
model's own vocabulary and maximum length, and a model trained by the
command line used from Python."""
import os
import random
import re
import subprocess

import numpy as np
import pytest

import seqcls
from conftest import ROOT

SEQCLS = os.path.join(ROOT, "bin", "seqcls")

GOOD = ["great", "wonderful", "superb", "loved", "excellent"]
BAD = ["awful", "boring", "terrible", "hated", "dreadful"]
FILLER = ["the", "film", "plot", "actor", "scene", "was", "and", "a", "story", "music"]


def reviews(n, seed):
    """(texts, labels) of n short reviews, 'pos' or 'neg' by one word."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        pos = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if pos else BAD))
        texts.append(" ".join(words).capitalize() + ".")
        labels.append("pos" if pos else "neg")
    return texts, labels


def write_mixed(path, texts, labels):
    """Both formats, CRLF line ends, a byte-order mark, blank lines."""
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        for i, (t, l) in enumerate(zip(texts, labels)):
            if i % 3 == 0:
                line = "%s\t%s\r\n" % (l, t)
            elif i % 3 == 1:
                line = "__label__%s %s\n" % (l, t)
            else:
                line = "  __label__%s __label__extra %s\r\n\n" % (l, t)
            f.write(line.encode("utf-8"))
        f.write(b"\r\n   \n")


def run_cli(*args):
    r = subprocess.run([SEQCLS, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---- the reader ----

def test_read_labelled_both_formats(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeff__label__pos Good film\r\n\n  neg\tBad, bad\tfilm \r\n"
                  "__label__a __label__b  two labels\n\t\n__label__x\n"
                  "héllo wörld\tünïcode".encode("utf-8"))
    texts, labels = seqcls.read_labelled(p)
    assert labels == ["pos", "neg", "a", "x", "héllo wörld"]
    assert texts == ["Good film", "Bad, bad\tfilm ", "two labels", "", "ünïcode"]
    assert seqcls.read_labelled(str(p)) == (texts, labels)
    # unlabelled: a __label__ is dropped, a tab is text
    assert seqcls.read_texts(p)[:2] == ["Good film", "neg\tBad, bad\tfilm "]


@pytest.mark.parametrize("content, message", [
    (b"no label here\n", "t.txt:1: no label"),
    (b"__label__a ok\n__label__ text\n", "t.txt:2: empty label after __label__"),
    (b"a\tb\xff\n", "t.txt:1: invalid UTF-8 at byte 4"),
    (b"a\tb\0c\n", "t.txt:1: NUL byte"),
    (b"\xff\xfea\x00\t\x00", "UTF-16"),
])
def test_read_labelled_errors(tmp_path, content, message):
    p = tmp_path / "t.txt"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        seqcls.read_labelled(p)


def test_read_labelled_empty_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"\n\r\n")
    assert seqcls.read_labelled(p) == ([], [])


# ---- the command line and the package agree ----

def test_vocab_defaults_and_reader_equal_the_command_line(tmp_path):
    texts, labels = reviews(300, 1)
    texts[0] += " rare_word"                   # seen once: below --min-count 2
    write_mixed(tmp_path / "train.txt", texts, labels)
    run_cli("train", "-i", str(tmp_path / "train.txt"), "-o", str(tmp_path / "m.sqcl"),
            "--arch", "meanpool", "--epochs", "1")
    cli = seqcls.Model.load(tmp_path / "m.sqcl")

    t2, l2 = seqcls.read_labelled(tmp_path / "train.txt")
    assert (t2, l2) == (texts, labels)
    v = seqcls.Vocab(t2)                       # the defaults: --min-count 2 --vocab 20000
    assert v.to_bytes() == cli.vocab.to_bytes()
    assert v.id("rare_word") == seqcls.UNK_ID
    assert cli.labels == seqcls.data.label_order(l2) == ["neg", "pos"]
    assert cli.maxlen == seqcls.DEFAULT_MAXLEN == int(cli.meta["maxlen"])
    assert cli.tokens == cli.meta.get("tokens", "word")

    # max_size: the command line's --vocab
    run_cli("train", "-i", str(tmp_path / "train.txt"), "-o", str(tmp_path / "m2.sqcl"),
            "--arch", "meanpool", "--epochs", "1", "--vocab", "10", "--min-count", "1")
    small = seqcls.Vocab(t2, min_freq=1, max_size=10)
    assert small.to_bytes() == seqcls.Model.load(tmp_path / "m2.sqcl").vocab.to_bytes()


def test_model_from_the_command_line_predicts_text_as_it_does(tmp_path):
    texts, labels = reviews(400, 2)
    write_mixed(tmp_path / "train.txt", texts, labels)
    run_cli("train", "-i", str(tmp_path / "train.txt"), "-o", str(tmp_path / "m.sqcl"),
            "--arch", "meanpool", "--epochs", "3", "--maxlen", "6")
    m = seqcls.Model.load(tmp_path / "m.sqcl")
    assert m.maxlen == 6

    new, _ = reviews(40, 3)
    new[0] = "great " + " ".join(["boring"] * 30)      # past maxlen only "boring" counts
    (tmp_path / "new.txt").write_text("\n".join(new) + "\n", encoding="utf-8")
    out = run_cli("predict", str(tmp_path / "m.sqcl"), str(tmp_path / "new.txt"))
    cli = [re.match(r"__label__(\S+) ([0-9.]+)", line).groups() for line in out.splitlines()]

    docs = seqcls.read_texts(tmp_path / "new.txt")
    probs, names = m.predict_text(docs, return_labels=True)
    assert probs.shape == (40, 1)
    assert names == [c[0] for c in cli] == m.predict_labels(docs)
    best = np.where(probs[:, 0] >= 0.5, probs[:, 0], 1 - probs[:, 0])
    np.testing.assert_allclose(best, [float(c[1]) for c in cli], atol=1e-5)
    # the model's own maximum length is used: another one changes the result
    ids, lengths = m.encode_text(docs)
    assert ids.shape == (40, 6) and lengths.max() == 6
    np.testing.assert_array_equal(m.predict(ids, lengths), probs)
    assert not np.array_equal(m.predict_text(docs[:1], maxlen=40), probs[:1])
    # a str is a list of one (a batch of one may differ in the last bit)
    np.testing.assert_allclose(m.predict_text(docs[0]), probs[:1], rtol=1e-6)


# ---- training on texts and label names in Python ----

def text_model(vocab, classes_out=1, seed=1):
    m = seqcls.Model(seed)
    m.add_embedding(len(vocab), 16)
    m.add_pooling("mean")
    m.add_output(classes_out)
    return m


def test_fit_on_texts_and_label_names(tmp_path):
    texts, labels = reviews(600, 4)
    v = seqcls.Vocab(texts)
    m = text_model(v).set_vocab(v, maxlen=20)
    assert dict(m.meta) == {"maxlen": "20", "tokens": "word"}
    m.compile("adam", lr=0.05)
    h = m.fit(texts, labels, epochs=8, validation_split=0.2, verbose=0)
    assert m.labels == ["neg", "pos"]
    assert h.history["val_accuracy"][-1] > 0.95
    test, truth = reviews(100, 5)
    assert np.mean(np.array(m.predict_labels(test)) == np.array(truth)) > 0.95
    assert m.evaluate(test, truth).accuracy > 0.95
    # validation data as texts and names too
    m.fit(texts[:500], labels[:500], epochs=1, verbose=0,
          validation_data=(texts[500:], labels[500:]))
    # saved and loaded: vocabulary, labels, maxlen travel with the model
    m.save(tmp_path / "m.sqcl")
    again = seqcls.Model.load(tmp_path / "m.sqcl")
    assert again.predict_labels(test) == m.predict_labels(test)
    assert again.maxlen == 20


def test_fit_with_many_label_names():
    texts, labels = reviews(300, 6)
    labels = [l if i % 3 else "zzz" for i, l in enumerate(labels)]
    v = seqcls.Vocab(texts)
    m = text_model(v, 3).set_vocab(v)
    m.fit(texts, labels, epochs=1, verbose=0)
    assert m.labels == ["neg", "pos", "zzz"]
    assert set(m.predict_labels(texts[:20])) <= {"neg", "pos", "zzz"}
    # numpy arrays of str work as lists
    assert m.predict_labels(np.array(texts[:5])) == m.predict_labels(texts[:5])
    m.fit(np.array(texts), np.array(labels), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="not one of the model's labels"):
        m.fit(texts, ["other"] + labels[1:], epochs=1, verbose=0)


def test_text_errors():
    texts, labels = reviews(50, 7)
    v = seqcls.Vocab(texts)
    m = text_model(v)
    with pytest.raises(seqcls.StateError, match="no vocabulary"):
        m.predict_text(texts)
    m.set_vocab(v)
    with pytest.raises(seqcls.StateError, match="no label names"):
        m.predict_labels(texts)
    with pytest.raises(ValueError, match="3 label names"):
        m.fit(texts, labels[:-1] + ["third"], epochs=1, verbose=0)
    assert m.labels == []
    with pytest.raises(ValueError, match="do not give lengths"):
        m.predict(texts, np.ones(len(texts), np.int32))
    with pytest.raises(ValueError, match="maxlen"):
        m.set_vocab(v, maxlen=0)
    m.meta["maxlen"] = "12x"
    with pytest.raises(ValueError, match="not a length"):
        m.predict_text(texts)
    with pytest.raises(TypeError, match="texts\\[1\\]"):
        m.encode_text(["a", 3])


def test_vocab_defaults_are_the_command_lines():
    v = seqcls.Vocab(["once twice twice"])
    assert v.id("twice") >= 2 and v.id("once") == seqcls.UNK_ID
    ids, n = v.encode("twice " * 300)
    assert ids.shape == (seqcls.DEFAULT_MAXLEN,) and n == 256
    assert seqcls.Vocab(["once"], min_freq=1).id("once") >= 2
