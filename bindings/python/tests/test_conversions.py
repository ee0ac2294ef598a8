"""Issue 14, item 12: what Python passes is never changed on its way to C.
An integer outside the C type (int32 sizes and ids, uint64 seeds, int64
fit settings) raises OverflowError instead of wrapping; a NUL inside a
string raises ValueError instead of cutting the string short; a finite
float beyond float32 raises OverflowError instead of becoming infinite."""
import ast
import os

import numpy as np
import pytest

import seqcls
from seqcls import _convert
from conftest import PYDIR, bilstm_attention, tiny_data

BIG = [2 ** 31, -2 ** 31 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 63, 2 ** 64 + 1, -2 ** 70]


def small():
    m = seqcls.Model(1)
    m.add_embedding(10, 4, padding_idx=0)
    m.add_pooling("mean")
    m.add_output(2)
    return m


def test_the_helper():
    assert _convert.int32(2 ** 31 - 1, "n") == 2 ** 31 - 1
    assert _convert.int32(-2 ** 31, "n") == -2 ** 31
    assert _convert.int32(np.int64(7), "n") == 7 and _convert.int32(True, "n") == 1
    assert _convert.int32(3.0, "n") == 3
    for v in BIG[:2]:
        with pytest.raises(OverflowError, match="hidden = %d is outside int32" % v):
            _convert.int32(v, "hidden")
    with pytest.raises(ValueError, match="not a whole number"):
        _convert.int32(2.5, "n")
    with pytest.raises(ValueError):
        _convert.int32(float("nan"), "n")
    with pytest.raises(TypeError):
        _convert.int32("5", "n")
    assert _convert.uint64(2 ** 64 - 1, "seed") == 2 ** 64 - 1
    with pytest.raises(OverflowError):
        _convert.uint64(-1, "seed")
    with pytest.raises(OverflowError):
        _convert.uint64(2 ** 64, "seed")
    with pytest.raises(OverflowError):
        _convert.float32(1e39, "lr")
    assert _convert.float32(float("inf"), "lr") == float("inf")   # the library refuses it
    assert _convert.cstring("é", "s") == "é".encode()
    with pytest.raises(ValueError, match="NUL"):
        _convert.cstring("a\0b", "s")
    with pytest.raises(ValueError, match="NUL"):
        _convert.cstring(b"a\0", "s")


@pytest.mark.parametrize("big", BIG)
def test_layer_sizes_and_codes(big):
    m = seqcls.Model(0)
    for call in (lambda: m.add_embedding(big, 4), lambda: m.add_embedding(10, big),
                 lambda: m.add_embedding(10, 4, padding_idx=big), lambda: m.add_input(big)):
        with pytest.raises(OverflowError):
            call()
    assert len(m) == 0                      # nothing was added with a wrapped value
    m.add_embedding(10, 4)
    for call in (lambda: m.add_lstm(big), lambda: m.add_gru(big), lambda: m.add_dense(big),
                 lambda: m.add_attention("bahdanau", big), lambda: m.add_attention(big, 4),
                 lambda: m.add_pooling(big), lambda: m.add_dense(4, big),
                 lambda: m.add_output(big),
                 lambda: m.add_lstm(4, flags=big + 2 ** 32 if big > 0 else big)):  # uint32
        with pytest.raises(OverflowError):
            call()
    assert len(m) == 1
    m.add_pooling("max")
    m.add_output(2)
    for call in (lambda: m.set_option(0, "freeze", big), lambda: m.set_option(big, 1, 1),
                 lambda: m.set_option(0, big, 1), lambda: m.get_option(big, "units"),
                 lambda: m.layer_kind(big), lambda: m.param(big), lambda: m.attention_weights(big),
                 lambda: m.set_embedding_rows(big, np.zeros((1, 4), np.float32)),
                 lambda: m.set_embedding_rows(0, np.zeros((1, 4), np.float32), first_row=big)):
        with pytest.raises(OverflowError):
            call()


def test_a_wrapped_value_would_have_been_accepted():
    # 2**32 + 5 wraps to 5 in a C int: a valid size, so the old silent
    # conversion built a model the caller never asked for.
    m = seqcls.Model(0)
    with pytest.raises(OverflowError):
        m.add_embedding(2 ** 32 + 10, 2 ** 32 + 4)
    with pytest.raises(OverflowError):
        m.add_input(2 ** 32 + 3)
    assert len(m) == 0


@pytest.mark.parametrize("seed", [-1, 2 ** 64, -2 ** 63])
def test_seeds(seed):
    with pytest.raises(OverflowError):
        seqcls.Model(seed)                       # uint64
    assert seqcls.Model(2 ** 64 - 1) is not None


@pytest.mark.parametrize("big", [2 ** 63, -2 ** 63 - 1, 2 ** 64])
def test_fit_settings(big):
    x, lengths, y = tiny_data(8, 4)
    m = bilstm_attention()
    for kw in ("seed", "batch_size", "epochs", "patience", "initial_epoch"):
        with pytest.raises(OverflowError, match=kw):   # int64
            m.fit(x, y, lengths, **{kw: big})


@pytest.mark.parametrize("big", [2 ** 31, 2 ** 32 + 1, -2 ** 31 - 1, 2 ** 40])
def test_ids_lengths_and_labels_given_as_python_ints(big):
    m = small()
    ids = [[1, 2, big], [3, 4, 5]]
    for call in (lambda: m.predict(ids), lambda: m.forward(ids),
                 lambda: m.evaluate(ids, [0, 1]), lambda: m.fit(ids, [0, 1], epochs=1),
                 lambda: m.predict([[1, 2, 3]], [big]),
                 lambda: m.evaluate([[1, 2, 3]], [big]),
                 lambda: m.fit([[1, 2, 3]], [0], [big], epochs=1),
                 lambda: m.train_step([[1, 2, 3]], [big])):
        with pytest.raises(OverflowError):
            call()
    # float and object arrays are checked the same way
    with pytest.raises(OverflowError):
        m.predict([[1.0, 2.0, float(big)]])
    with pytest.raises(ValueError, match="whole number"):
        m.predict([[1.0, 2.5, 3.0]])
    with pytest.raises(OverflowError):
        m.predict(np.array([[1, 2, big]], dtype=object).tolist())
    # numpy arrays of another dtype are refused, never cast
    with pytest.raises(TypeError, match="int32"):
        m.predict(np.array([[1, 2, big]], dtype=np.int64))
    # in range, lists still work
    assert m.predict([[1, 2, 3], [4, 5, 0]], [3, 2]).shape == (2, 2)


@pytest.mark.parametrize("big", [2 ** 31, -2 ** 31 - 1, 2 ** 64])
def test_evaluate_optimizer_threads_and_text(big):
    m = small()
    x, y = [[1, 2], [3, 4]], [0, 1]
    with pytest.raises(OverflowError):
        m.evaluate(x, y, batch_size=big)
    with pytest.raises(OverflowError):
        seqcls.set_num_threads(big)
    with pytest.raises(OverflowError):
        seqcls.Optimizer(big)
    with pytest.raises(OverflowError):
        seqcls.Optimizer("adam", lr=1e39)
    with pytest.raises(OverflowError):
        seqcls.Adam().set("lr", 1e39)
    with pytest.raises(OverflowError):
        seqcls.Adam().set(big, 0.1)
    v = seqcls.Vocab(["a b c"])
    for call in (lambda: v.token(big), lambda: v.encode("a b", big),
                 lambda: v.encode_batch(["a"], big), lambda: v.build(big),
                 lambda: v.decode([1, big]), lambda: seqcls.token_spans("a b", big),
                 lambda: seqcls.Tensor.zeros((big, 2 ** 64))):
        with pytest.raises(OverflowError):
            call()
    with pytest.raises(OverflowError):
        seqcls.Model(0).add_dropout(1e39)


def test_nul_inside_strings_raises():
    m = small()
    with pytest.raises(ValueError, match="NUL"):
        m.labels = ["neg", "pos\0itive"]
    with pytest.raises(ValueError, match="NUL"):
        m.labels = [b"neg\0", b"pos"]
    assert m.labels == []                     # nothing was set
    m.labels = ["neg", "pos"]
    v = seqcls.Vocab(["good film", "bad film"], min_freq=1)
    assert v.id("good") >= 2
    with pytest.raises(ValueError, match="NUL"):
        v.id("good\0bad")                     # would have been "good"
    with pytest.raises(ValueError, match="NUL"):
        m.param("0.embedding.weight\0junk")
    with pytest.raises(ValueError, match="NUL"):
        m.save("/tmp/x\0y.sqcl")
    with pytest.raises(ValueError, match="NUL"):
        seqcls.Model.load("/tmp/x\0y.sqcl")
    with pytest.raises(ValueError, match="NUL"):
        m.save_checkpoint("/tmp/x\0y.sqcl", seqcls.Adam())
    with pytest.raises(ValueError, match="NUL"):
        seqcls.Model.load_checkpoint("/tmp/x\0y.sqcl")
    # text that the tokeniser reads with its length may hold NUL (a separator)
    assert seqcls.tokenize("ab\0cd") == ["ab", "cd"]


def test_no_unchecked_conversion_reaches_a_c_call():
    """The class, not the instances: in the package's source no argument of
    a C call (fn.seqcls_*, Model._add) is a bare int(), float() or
    .encode(); each goes through seqcls._convert."""
    bad = []
    pkg = os.path.join(PYDIR, "seqcls")
    for name in sorted(os.listdir(pkg)):
        if not name.endswith(".py") or name == "_convert.py":
            continue
        tree = ast.parse(open(os.path.join(pkg, name)).read())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            target = (isinstance(f, ast.Attribute) and
                      ((isinstance(f.value, ast.Name) and f.value.id == "fn") or f.attr == "_add"))
            if not target:
                continue
            for arg in node.args:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Call):
                        g = sub.func
                        if (isinstance(g, ast.Name) and g.id in ("int", "float")) or \
                                (isinstance(g, ast.Attribute) and
                                 g.attr in ("encode", "fsencode")):
                            bad.append("%s:%d" % (name, sub.lineno))
    assert not bad, "unchecked conversions passed to C: %s" % bad
