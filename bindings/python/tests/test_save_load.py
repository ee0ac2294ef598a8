"""A model trained in Python and saved loads in C (and in Python) and gives
the same outputs."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import seqcls
from conftest import HERE, ROOT, bilstm_attention, needs_save_load, tiny_data


@pytest.fixture(scope="module")
def load_predict(tmp_path_factory):
    """tests/load_predict.c built against the library the package loaded."""
    exe = os.environ.get("SEQCLS_LOAD_PREDICT")
    if exe:
        return exe
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    libdir = os.path.dirname(os.path.abspath(seqcls.library_path))
    exe = str(tmp_path_factory.mktemp("c") / "load_predict")
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2",
                    "-I" + os.path.join(ROOT, "include"), "-o", exe,
                    os.path.join(HERE, "load_predict.c"), "-L" + libdir,
                    "-l:libseqcls.so.1", "-Wl,-rpath," + libdir], check=True)
    return exe


def c_predict(exe, path, x, lengths):
    b, t = x.shape
    text = "%d %d\n%s\n%s\n" % (b, t, " ".join(map(str, x.ravel())),
                                 " ".join(map(str, lengths)))
    r = subprocess.run([exe, str(path)], input=text, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    rows = np.array([[float(v) for v in line.split()] for line in r.stdout.splitlines()],
                    dtype=np.float64)
    return rows


@needs_save_load
@pytest.mark.parametrize("classes", [1, 3])
def test_trained_in_python_loaded_in_c(tmp_path, load_predict, classes):
    x, lengths, y = tiny_data(96, 12, seed=11)
    if classes == 3:
        y = (x[:, 0] % 3).astype(np.int32)
    m = seqcls.Model(5)
    m.add_embedding(30, 8, padding_idx=0)
    m.add_lstm(8, bidirectional=True, return_sequences=True)
    m.add_attention("bahdanau", units=8)
    m.add_dense(8, "tanh")
    m.add_output(classes)
    m.fit(x, y, lengths, epochs=2, batch_size=16)
    path = tmp_path / "trained.sqcl"
    m.save(path)
    probs, att = m.predict(x, lengths, return_attention=True)
    rows = c_predict(load_predict, path, x, lengths)
    np.testing.assert_allclose(rows[:, :classes], probs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(rows[:, classes:], att, rtol=0, atol=1e-6)
    # and back in Python, from the file and from bytes
    m2 = seqcls.Model.load(path)
    np.testing.assert_array_equal(m2.predict(x, lengths), probs)
    assert m2.param_names() == m.param_names()
    m3 = seqcls.Model.from_bytes(m.to_bytes())
    np.testing.assert_array_equal(m3.predict(x, lengths), probs)


@needs_save_load
def test_vocab_and_labels_travel_with_the_model(tmp_path):
    docs = ["good film", "bad film", "good plot", "bad acting"]
    v = seqcls.Vocab(docs)
    m = seqcls.Model(1)
    m.add_embedding(len(v), 4)
    m.add_pooling("mean")
    m.add_output(1)
    m.vocab = v
    m.labels = ["neg", "pos"]
    m.save(tmp_path / "m.sqcl")
    m2 = seqcls.Model.load(tmp_path / "m.sqcl")
    assert m2.labels == ["neg", "pos"]
    assert m2.vocab.to_bytes() == v.to_bytes()


@needs_save_load
def test_save_errors(tmp_path):
    m = bilstm_attention()
    with pytest.raises(seqcls.IOError) as e:
        m.save(tmp_path / "no-such-dir" / "m.sqcl")
    assert e.value.message


@needs_save_load
def test_trained_model_can_resume_training(tmp_path):
    x, lengths, y = tiny_data()
    m = bilstm_attention()
    m.fit(x, y, lengths, epochs=1)
    m.save(tmp_path / "a.sqcl")
    m2 = seqcls.Model.load(tmp_path / "a.sqcl")
    h = m2.fit(x, y, lengths, epochs=1)
    assert np.isfinite(h["loss"][0])
