"""The 1.1 sequence-model additions in Python: conv1d and flatten, the
merge modes ave and mul, recurrent dropout and final states."""
import numpy as np
import pytest

import seqcls


def test_conv1d_kim_cnn_trains_and_round_trips():
    m = seqcls.Model(2)
    m.add_embedding(30, 8, padding_idx=0)
    c = m.add_conv1d(12, 3, padding="same", dilation=2, activation="relu")
    m.add_pooling("max")
    m.add_output(2)
    assert m.layer_kind(c) == "conv1d"
    assert m.get_option(c, "dilation") == 2
    assert m.get_option(c, "activation") == seqcls.ACT_RELU
    assert m.get_option(c, "flags") == seqcls.PAD_SAME
    assert m.param("1.conv1d.weight").shape == (12, 8, 3)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(64, 10)).astype(np.int32)
    lengths = rng.integers(1, 11, size=64).astype(np.int32)
    y = (x[:, 0] % 2).astype(np.int32)
    m.compile("adam", lr=0.01)
    m.fit(x, y, lengths, epochs=2, batch_size=16)
    back = seqcls.Model.from_bytes(m.to_bytes())
    np.testing.assert_array_equal(m.predict(x, lengths), back.predict(x, lengths))
    with pytest.raises(ValueError, match="padding"):
        m.add_conv1d(4, 3, padding="full")


def test_flatten_needs_fixed_steps_and_full_rows():
    m = seqcls.Model(1)
    m.add_input(3)
    with pytest.raises(seqcls.StateError, match="not fixed"):
        m.add_flatten()
    m.add_attention("feature_time", units=4)
    f = m.add_flatten()
    assert m.layer_kind(f) == "flatten" and m.get_option(f, "units") == 4
    m.add_output(1)
    x = np.ones((2, 4, 3), np.float32)
    assert m.predict(x).shape == (2, 1)
    with pytest.raises(seqcls.RangeError, match="flatten"):
        m.predict(x, [4, 2])


def test_merges_recurrent_dropout_and_final_states():
    m = seqcls.Model(3)
    m.add_input(3)
    a = m.add_lstm(4, bidirectional=True, return_sequences=True, merge="ave",
                   recurrent_dropout=0.3)
    g = m.add_gru(5, bidirectional=True, merge="mul", recurrent_dropout=0.2)
    m.add_output(2)
    assert m.get_option(a, "flags") & seqcls.MERGE_AVE
    assert m.get_option(g, "flags") & seqcls.MERGE_MUL
    assert m.get_option(a, "recurrent_dropout") == pytest.approx(0.3)
    assert m.get_option(g, seqcls.OPT_RECURRENT_DROPOUT) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="merge"):
        m.add_lstm(4, bidirectional=True, merge="max")
    with pytest.raises(seqcls.StateError, match="no Model.forward"):
        m.final_states()
    x = np.random.default_rng(1).uniform(-1, 1, (4, 6, 3)).astype(np.float32)
    lengths = [6, 0, 2, 6]
    m.forward(x, lengths, training=False)
    h, c = m.final_states()             # the last recurrent layer: the GRU
    assert h.shape == (4, 10) and c is None
    assert not h[1].any() and h[0].any()
    h, c = m.final_states(a)
    assert h.shape == (4, 8) and c.shape == (4, 8)
    with pytest.raises(seqcls.RangeError, match="not a recurrent layer"):
        m.final_states(0)
    m.forward(x, lengths, training=True)
    m.loss_backward(np.array([0, 1, 0, 1], np.int32))


def test_clipnorm_per_tensor():
    m = seqcls.Model(1)
    m.add_input(2)
    m.add_pooling("last")
    m.add_output(1)
    opt = seqcls.Optimizer("sgd", lr=1.0, clipnorm_per_tensor=1.0, global_clipnorm=10.0)
    w, b = m.param("2.output.weight"), m.param("2.output.bias")
    w[...] = 0
    b[...] = 0
    m.grad("2.output.weight")[...] = [[3.0, 4.0]]
    m.grad("2.output.bias")[...] = [0.5]
    opt.step(m)
    np.testing.assert_allclose(w, [[-0.6, -0.8]], rtol=1e-6)
    np.testing.assert_allclose(b, [-0.5], rtol=1e-6)


def test_vocab_from_list_and_truncating():
    v = seqcls.Vocab.from_list(["", "[UNK]", "a", "b", "c"])
    assert len(v) == 5 and v.token(1) == "<unk>" and v.id("c") == 4
    ids, n = v.encode("a b c zz", 2, truncating="pre")
    assert list(ids) == [4, 1] and n == 2
    ids, n = v.encode("a b c zz", 2)
    assert list(ids) == [2, 3]
    batch, lengths = v.encode_batch(["a b c", "c"], 2, truncating="pre")
    assert batch.tolist() == [[3, 4], [4, 0]] and lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="truncating"):
        v.encode("a", 2, truncating="middle")
    w = seqcls.Vocab.from_list({"the": 2, "film": 3, "<OOV>": 1})
    assert w.id("film") == 3 and w.token(1) == "<unk>"
    with pytest.raises(ValueError, match="without gaps"):
        seqcls.Vocab.from_list({"the": 2, "film": 4})
    with pytest.raises(seqcls.InvalidArgumentError, match=r"tokens\[3\] repeats"):
        seqcls.Vocab.from_list(["", "", "a", "a"])
    assert len(seqcls.Vocab.from_bytes(w.to_bytes())) == 4


def test_text_models_keep_their_truncation():
    v = seqcls.Vocab.from_list(["", "", "good", "bad", "film"])
    m = seqcls.Model(1)
    m.add_embedding(len(v), 4)
    m.add_pooling("last")
    m.add_output(2)
    m.set_vocab(v, maxlen=2, truncating="pre")
    assert m.truncating == "pre" and m.meta["truncate"] == "pre"
    ids, n = m.encode_text(["good film bad"])
    assert ids.tolist() == [[4, 3]]
    assert m.encode_text(["good film bad"], truncating="post")[0].tolist() == [[2, 4]]
    back = seqcls.Model.from_bytes(m.to_bytes())
    assert back.truncating == "pre"
    m.set_vocab(v, maxlen=2)
    assert m.truncating == "post" and "truncate" not in m.meta
    with pytest.raises(ValueError, match="truncating"):
        m.set_vocab(v, truncating="both")
