"""Each public call is reachable from Python: a scenario through the
package's classes, with a counter on every declared C function, must call
all of them."""
import collections

import numpy as np
import pytest

import seqcls
from seqcls import _lib
from conftest import have, tiny_data


@pytest.fixture
def counted(monkeypatch):
    calls = collections.Counter()
    for name in _lib.SIGNATURES:
        real = getattr(seqcls.fn, name)

        def wrapper(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)
        monkeypatch.setattr(seqcls.fn, name, wrapper)
    return calls


def scenario(tmp_path):
    x, lengths, y = tiny_data(48, 8)
    assert seqcls.version() >= 10000 and seqcls.version_string().startswith("1.")
    # text front end
    docs = ["A good film!", "a <b>bad</b> film", "good good", "bad, bad plot"]
    assert seqcls.tokenize(docs[1]) == ["a", "bad", "film"]
    assert seqcls.token_spans("ab cd") == [(0, 2), (3, 5)]
    v = seqcls.Vocab(docs)
    assert v.id("good") >= 2 and v.token(seqcls.UNK_ID) == "<unk>"
    ids, n = v.encode("good film", 4)
    assert n == 2 and v.decode(ids) == "good film"
    v2 = seqcls.Vocab.from_bytes(v.to_bytes())
    assert len(v2) == len(v)
    assert v.encode("good film", 1, truncating="pre")[0][0] == v.id("film")
    assert len(seqcls.Vocab.from_list(["", "", "good", "film"])) == 4
    # vocabulary options (1.1)
    c = seqcls.Vocab(docs, tokens="char", oov_buckets=3, minn=2, maxn=3, bucket=50)
    assert c.tokens == "char" and c.get_option("bucket") == 50
    assert c.rows == len(c) + 3 + 50
    assert c.spans("ab  c") == [(0, 1), (1, 2), (2, 4), (4, 5)]
    sub, n = c.encode_subwords("ab", 4, 6)
    assert n == 2 and sub.shape == (4, 6) and (sub[2:] == -1).all()
    bx, blen = c.encode_subwords_batch(["ab", "b a c"], 6, 6)
    assert bx.shape == (2, 6, 6) and list(blen) == [2, 5]
    fb = seqcls.Model(2)
    fb.add_embedding_bag(c.rows, 4, 6)
    fb.add_pooling("mean")
    fb.add_output(2)
    assert fb.layer_kind(0) == "embedding_bag" and fb.get_option(0, "per_step") == 6
    fb.fit(bx, np.array([0, 1], np.int32), blen, epochs=1, batch_size=2)
    assert fb.predict(bx, blen).shape == (2, 2)
    # tensors
    t = seqcls.Tensor.zeros((2, 3), np.int32)
    assert t.shape == (2, 3) and t.dtype == np.int32 and t.size == 6 and t.ndim == 2
    assert t.numpy().sum() == 0
    # a model with every layer kind
    m = seqcls.Model(3)
    e = m.add_embedding(30, 8, padding_idx=0, weights=np.ones((2, 8), np.float32))
    m.set_option(e, seqcls.OPT_FREEZE, 0)
    m.add_gru(8, bidirectional=True, return_sequences=True, recurrent_activation="sigmoid",
              dropout=0.1)
    m.add_lstm(8, return_sequences=True)
    m.add_attention("learned_query", units=4)
    m.add_dense(8, "relu")
    m.add_batchnorm(momentum=0.1, epsilon=1e-5)
    m.add_dropout(0.1)
    m.add_output(2)
    assert len(m.layers) == 8 and m.num_classes == 2
    # introspection and metadata (1.1)
    assert [m.layer_kind(i) for i in range(len(m))] == [
        "embedding", "gru", "lstm", "attention", "dense", "batchnorm", "dropout", "output"]
    assert m.get_option(0, "vocab") == 30 and m.get_option(6, "dropout") == pytest.approx(0.1)
    m.meta["maxlen"] = "8"
    m.meta["tokens"] = "words"
    assert list(m.meta) == ["maxlen", "tokens"] and m.meta["maxlen"] == "8"
    del m.meta["tokens"]
    assert dict(m.meta) == {"maxlen": "8"}
    m.vocab = v
    m.labels = ["neg", "pos"]
    assert m.labels == ["neg", "pos"] and len(m.vocab) == len(v)
    seqcls.set_num_threads(2)
    assert seqcls.get_num_threads() == 2
    seqcls.set_num_threads(0)
    # low-level training
    opt = seqcls.Optimizer("adamw", 1e-3, weight_decay=0.01, clipnorm=1.0)
    m.zero_grad()
    logits = m.forward(x, lengths, training=True)
    assert logits.shape == (48, 2)
    loss = m.loss_backward(y)
    assert loss > 0
    m.backward(np.zeros((48, 2), np.float32))
    opt.step(m)
    assert opt.steps == 1
    assert m.attention_weights().shape == (48, 8)
    # the high-level loop, evaluation, prediction
    h = m.fit(x, y, lengths, epochs=2, batch_size=16, validation_split=0.25,
              optimizer=opt, lr_schedule=lambda ep, lr: lr)
    assert len(h["loss"]) == 2
    met = m.evaluate(x, y, lengths)
    assert met.count == 48 and met.confusion.sum() == 48
    assert m.predict(x, lengths).shape == (48, 2)
    # data-parallel training, here with one rank (1.1)
    freed = []
    comm = seqcls.Comm.from_callbacks(0, 1, lambda a: None, lambda b: None,
                                      on_free=lambda: freed.append(1))
    assert comm.rank == 0 and comm.size == 1
    comm.set_bucket_bytes(4096)
    m.fit(x, y, lengths, epochs=1, batch_size=16, optimizer=opt, comm=comm)
    assert comm.stats()["steps"] == 3
    comm.broadcast_params(m)
    comm.allreduce_grads(m)
    del comm
    assert freed == [1]
    # final states and the 1.1 recurrent options
    rs = seqcls.Model(6)
    rs.add_embedding(30, 8)
    rs.add_lstm(4, bidirectional=True, merge="ave", recurrent_dropout=0.1)
    rs.add_output(2)
    rs.forward(x, lengths, training=True)
    assert rs.final_states()[1].shape == (48, 8)
    # convolution and flatten (1.1)
    cnn = seqcls.Model(4)
    cnn.add_embedding(30, 8)
    cnn.add_conv1d(6, 3, padding="same", activation="relu")
    cnn.add_pooling("max")
    cnn.add_output(2)
    assert cnn.predict(x, lengths).shape == (48, 2)
    ft = seqcls.Model(5)
    ft.add_input(3)
    ft.add_attention("feature_time", units=4)
    ft.add_flatten()
    ft.add_output(1)
    assert ft.predict(np.ones((2, 4, 3), np.float32)).shape == (2, 1)
    # float input and its gradient
    f = seqcls.Model(1)
    f.add_input(3)
    f.add_pooling("mean")
    f.add_output(1)
    xf = np.ones((2, 4, 3), np.float32)
    f.forward(xf, training=True)
    f.loss_backward(np.array([0, 1], np.int32))
    assert f.input_grad().shape == (2, 4, 3)
    # a per-step model, a stream over it, sampling (1.1)
    g = seqcls.Model(2)
    g.add_embedding(30, 8)
    g.add_lstm(8, return_sequences=True)
    g.add_output(30)
    assert g.output_ndim == 3 and m.output_ndim == 2
    with g.stream() as s:
        probs = s.push(x[0, :3])
        assert probs.shape == (3, 30)
        s.reset()
        assert seqcls.Sampler(1)(probs[-1], 0.8) in range(30)
    # the transformer layers (1.1)
    tf = seqcls.Model(2)
    tf.add_embedding(30, 8, padding_idx=0)
    tf.add_positional_encoding("learned", max_len=8)
    tf.add_transformer_encoder(2, 16, norm_first=True, activation="gelu")
    tf.add_pooling("first")
    tf.add_output(1)
    tf.forward(x, lengths, training=False)
    assert tf.self_attention_weights(2).shape == (48, 2, 8, 8)
    # parameters
    names = m.param_names()
    assert m.param(names[0]).shape == (30, 8) and m.grad(0).shape == (30, 8)
    # errors and strings
    assert seqcls.strerror(seqcls.E_SHAPE)
    with pytest.raises(seqcls.SeqclsError):
        seqcls.Model(0).add_output(0)
    assert seqcls.last_error()
    # save and load, and checkpoints with optimizer state
    p = tmp_path / "m.sqcl"
    m.save(p)
    m2 = seqcls.Model.load(p)
    m3 = seqcls.Model.from_bytes(m.to_bytes())
    np.testing.assert_array_equal(m2.predict(x, lengths), m.predict(x, lengths))
    assert dict(m2.meta) == {"maxlen": "8"}
    np.testing.assert_array_equal(m3.predict(x, lengths), m.predict(x, lengths))
    q = tmp_path / "c.sqcl"
    m2.save_checkpoint(q, seqcls.Optimizer("adam", lr=0.01))
    m4, o4 = seqcls.Model.load_checkpoint(q)
    assert o4.steps == 0
    np.testing.assert_array_equal(m4.predict(x, lengths), m.predict(x, lengths))
    # reduced precision (1.1)
    m3.quantize("int8")
    assert m3.precision == "int8"
    assert m3.param_precision(0) == ("int8", (30, 8))


def test_every_public_function_is_reachable(counted, tmp_path):
    scenario(tmp_path)
    never = sorted(n for n in _lib.SIGNATURES if not counted[n] and n not in seqcls.missing)
    assert not never, "never called through the package: %s" % never
