"""Model.quantize, Model.precision, Model.param_precision (seqcls_model_quantize,
issue 19): quantised predictions close to float32, save/load, refusals."""
import numpy as np
import pytest

import seqcls


def model():
    m = seqcls.Model(4)
    m.add_embedding(30, 8, padding_idx=0)
    m.add_lstm(12, bidirectional=True, return_sequences=True)
    m.add_attention("bahdanau", units=6)
    m.add_dense(9, "relu")
    m.add_output(3)
    rng = np.random.default_rng(0)
    for name in m.param_names():
        if "embedding" not in name:
            w = m.param(name)
            w[...] = rng.uniform(-0.5, 0.5, w.shape)
    return m


def data():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 30, size=(10, 14)).astype(np.int32)
    lengths = np.array([14, 3, 7, 1, 14, 9, 2, 11, 5, 8], dtype=np.int32)
    return x, lengths


@pytest.mark.parametrize("precision,tol", [("int8", 0.01), ("bf16", 0.005)])
def test_quantised_predictions_are_close(precision, tol, tmp_path):
    m = model()
    x, lengths = data()
    p32 = m.predict(x, lengths)
    assert m.precision == "fp32"
    assert m.quantize(precision) is m
    assert m.precision == precision
    pq = m.predict(x, lengths)
    assert 0 < np.abs(pq - p32).max() < tol
    assert m.param_precision("1.lstm.weight_ih_l0") == (precision, (48, 8))
    assert m.param_precision("1.lstm.bias_ih_l0") == ("fp32", (48,))
    m.save(str(tmp_path / "q.sqcl"))
    r = seqcls.Model.load(str(tmp_path / "q.sqcl"))
    assert r.precision == precision
    np.testing.assert_array_equal(r.predict(x, lengths), pq)


def test_refusals():
    m = model()
    x, lengths = data()
    with pytest.raises(ValueError):
        m.quantize("int4")
    with pytest.raises(seqcls.InvalidArgumentError):
        m.quantize(seqcls.FP32)
    m.quantize(seqcls.INT8)
    with pytest.raises(seqcls.StateError, match="quantised already"):
        m.quantize("bf16")
    with pytest.raises(seqcls.StateError, match="stored quantised"):
        m.param("3.dense.weight")
    m.param("3.dense.bias")
    with pytest.raises(seqcls.StateError, match="quantised"):
        m.fit(x, np.zeros(10, dtype=np.int32), lengths, epochs=1, verbose=0)
    assert m.predict(x, lengths).shape == (10, 3)
