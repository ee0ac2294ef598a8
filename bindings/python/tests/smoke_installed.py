"""The package as a user installs it (make check-python-venv): run by the
interpreter of a fresh virtual environment into which `pip install
./bindings/python` put seqcls, from a directory outside the clone, without
SEQCLS_LIBRARY.  Trains on a fastText file and predicts text.

Usage: smoke_installed.py CLONE
"""
import os
import random
import sys
import tempfile

CLONE = os.path.abspath(sys.argv[1])
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s %s%s" % ("ok" if ok else "FAILED", name, ": " + detail if detail else ""))


import seqcls  # noqa: E402

here = os.path.dirname(os.path.abspath(seqcls.__file__))
check("imported from the environment, not the clone",
      not here.startswith(os.path.join(CLONE, "bindings") + os.sep)
      and os.path.realpath(here).startswith(os.path.realpath(sys.prefix) + os.sep), here)
check("library found in the clone's build tree",
      seqcls.library_path == os.path.join(CLONE, "lib", "libseqcls.so.1"), seqcls.library_path)

rng = random.Random(7)
GOOD, BAD = ["great", "superb", "loved"], ["awful", "boring", "hated"]
FILLER = ["the", "film", "plot", "was", "and", "a", "story"]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "train.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        for i in range(400):
            pos = rng.random() < 0.5
            words = [rng.choice(FILLER) for _ in range(rng.randint(2, 8))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if pos else BAD))
            label = "pos" if pos else "neg"
            f.write(("__label__%s %s\r\n" if i % 2 else "%s\t%s\n") % (label, " ".join(words)))
    texts, labels = seqcls.read_labelled(path)
    check("read_labelled", len(texts) == 400 and set(labels) == {"pos", "neg"})

    vocab = seqcls.Vocab(texts)
    model = seqcls.Model(seed=1)
    model.add_embedding(len(vocab), 16)
    model.add_pooling("mean")
    model.add_output(1)
    model.set_vocab(vocab, maxlen=16)
    model.compile("adam", lr=0.05)
    history = model.fit(texts, labels, epochs=6, validation_split=0.2, verbose=2)
    check("fit on texts and label names", history["val_accuracy"][-1] > 0.9,
          "val_accuracy %.4f" % history["val_accuracy"][-1])

    model.save(os.path.join(tmp, "m.sqcl"))
    again = seqcls.Model.load(os.path.join(tmp, "m.sqcl"))
    names = again.predict_labels(["a superb story", "boring plot and film"])
    check("predict_labels after save and load", names == ["pos", "neg"], str(names))
    probs = again.predict_text(["loved it"])
    check("predict_text", probs.shape == (1, 1) and probs[0, 0] > 0.5, str(probs))

failed = results.count(False)
print("python venv: %d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
