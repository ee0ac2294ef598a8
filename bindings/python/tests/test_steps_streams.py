"""Per-step models (an output layer after a sequence), streams and the
sampler from Python (1.1)."""
import numpy as np
import pytest

import seqcls


def tagger(classes=3, seed=3):
    m = seqcls.Model(seed=seed)
    m.add_embedding(vocab=6, dim=8, padding_idx=0)
    m.add_lstm(16, return_sequences=True)
    m.add_output(classes)
    return m


def task(n=256, T=9, seed=1):
    """The tag of a step is the token before it (0 at the first step)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=n).astype(np.int32)
    x = rng.integers(1, 3, size=(n, T)).astype(np.int32)
    y = np.zeros((n, T), np.int32)
    y[:, 1:] = x[:, :-1]
    for b in range(n):
        x[b, lengths[b]:] = 0
        y[b, lengths[b]:] = -100        # never read
    return x, y, lengths


def test_per_step_shapes_fit_evaluate():
    m = tagger()
    assert m.output_ndim == 3 and m.num_classes == 3
    x, y, lengths = task()
    logits = m.forward(x[:4], lengths[:4], training=True)
    assert logits.shape == (4, 9, 3)
    loss = m.loss_backward(y[:4])
    assert np.isfinite(loss)
    hist = m.fit(x, y, lengths, epochs=6, batch_size=32, optimizer=seqcls.Adam(0.03))
    assert hist["accuracy"][-1] > 0.95
    p = m.predict(x, lengths)
    assert p.shape == (256, 9, 3)
    for b in range(4):
        assert np.all(p[b, lengths[b]:] == 0)
        np.testing.assert_allclose(p[b, :lengths[b]].sum(-1), 1, rtol=1e-5)
    cls = m.predict_classes(x, lengths)
    assert cls.shape == (256, 9)
    mt = m.evaluate(x, y, lengths)
    assert mt.count == int(lengths.sum())
    assert mt.accuracy > 0.95
    assert sum(mt.support) == mt.count
    with pytest.raises(seqcls.ShapeError):
        m.evaluate(x, np.ascontiguousarray(y[:, 0]), lengths)


def test_stream_chunks_equal_predict():
    rng = np.random.default_rng(5)
    m = seqcls.Model(seed=9)
    m.add_embedding(vocab=10, dim=6, padding_idx=0)
    m.add_gru(12, return_sequences=True)
    m.add_lstm(8)
    m.add_output(4)
    ids = rng.integers(1, 10, size=30).astype(np.int32)
    s = m.stream()
    t = 0
    while t < 30:
        n = int(rng.integers(0, 6))
        p = s.push(ids[t:t + n])
        t += len(ids[t:t + n])
        want = m.predict(ids[None, :], [t])[0]
        np.testing.assert_array_equal(p, want)
    s.reset()
    np.testing.assert_array_equal(s.push(ids), m.predict(ids[None, :])[0])
    with pytest.raises(seqcls.RangeError):
        s.push(np.array([99], np.int32))
    # per step: one row per pushed step
    t = tagger()
    st = t.stream()
    assert st.push(np.array([1, 2, 1], np.int32)).shape == (3, 3)
    # a bidirectional layer cannot stream
    b = seqcls.Model(seed=1)
    b.add_embedding(10, 4)
    b.add_lstm(4, bidirectional=True)
    b.add_output(2)
    with pytest.raises(seqcls.UnsupportedError, match="bidirectional"):
        b.stream()


def test_stream_keeps_model_alive():
    m = tagger()
    s = m.stream()
    m.close()
    del m
    assert s.push([1, 2]).shape == (2, 3)


def test_sampler():
    p = np.array([0.1, 0.6, 0.3], np.float32)
    assert seqcls.Sampler()(p, 0) == 1
    a, b = seqcls.Sampler(11), seqcls.Sampler(11)
    assert [a(p) for _ in range(50)] == [b(p) for _ in range(50)]
    assert a.state == b.state != 11
    counts = np.bincount([a(p, 0.5) for _ in range(20000)], minlength=3)
    want = p ** 2 / (p ** 2).sum()
    np.testing.assert_allclose(counts / 20000, want, atol=0.015)
    with pytest.raises(seqcls.InvalidArgumentError):
        a(np.array([-1, 2], np.float32))
    with pytest.raises(ValueError):
        a(np.ones((2, 2), np.float32))
