"""The transformer layers of 1.1 from Python: Model.add_transformer_encoder,
Model.add_positional_encoding, pooling "first", Model.self_attention_weights,
their options, and a save/load round trip."""
import numpy as np
import pytest

import seqcls
from conftest import tiny_data


def encoder(seed=1):
    m = seqcls.Model(seed)
    m.add_embedding(30, 8, padding_idx=0)
    m.add_positional_encoding("sinusoidal", max_len=16, scale_input=True)
    m.add_transformer_encoder(2, 16, norm_first=True, dropout=0.0, activation="gelu",
                              ln_eps=1e-3)
    m.add_transformer_encoder(4, 12)
    m.add_positional_encoding("learned", max_len=12)
    m.add_pooling("first")
    m.add_output(1)
    return m


def test_layers_and_options():
    m = encoder()
    assert [m.layer_kind(i) for i in range(len(m))] == [
        "embedding", "positional_encoding", "transformer_encoder", "transformer_encoder",
        "positional_encoding", "pooling", "output"]
    assert m.get_option(1, "scale_input") == 1 and m.get_option(1, "max_len") == 16
    assert m.get_option(1, "kind") == seqcls.POS_SINUSOIDAL
    assert m.get_option(4, "kind") == seqcls.POS_LEARNED and m.get_option(4, "scale_input") == 0
    assert m.get_option(2, "heads") == 2 and m.get_option(2, "ff_dim") == 16
    assert m.get_option(2, "flags") == seqcls.NORM_FIRST
    assert m.get_option(2, "activation") == seqcls.ACT_GELU
    assert m.get_option(2, "dropout") == 0.0
    assert m.get_option(2, "ln_eps") == pytest.approx(1e-3)
    assert m.get_option(3, "dropout") == pytest.approx(0.1)
    assert m.get_option(3, "ln_epsilon") == pytest.approx(1e-5)
    assert m.get_option(3, "activation") == seqcls.ACT_RELU and m.get_option(3, "units") == 8
    assert m.get_option(5, "kind") == seqcls.POOL_FIRST
    assert m.param_names()[1] == "2.transformer.self_attn.in_proj_weight"
    assert m.param("2.transformer.self_attn.in_proj_weight").shape == (24, 8)
    assert m.param("4.positional.weight").shape == (12, 8)
    m.set_option(3, "ln_eps", 1e-4)
    assert m.get_option(3, "ln_eps") == pytest.approx(1e-4)
    assert "transformer(heads=2, ff_dim=16, gelu, dropout=0, norm_first, ln_eps=0.001)" \
        in m.layers[2]


def test_argument_errors():
    m = seqcls.Model(1)
    m.add_input(6)
    with pytest.raises(seqcls.InvalidArgumentError, match="must divide"):
        m.add_transformer_encoder(4, 8)
    with pytest.raises(ValueError, match="unknown activation"):
        m.add_transformer_encoder(2, 8, activation="swish")
    with pytest.raises(seqcls.InvalidArgumentError, match="SEQCLS_ACT_RELU or SEQCLS_ACT_GELU"):
        m.add_transformer_encoder(2, 8, activation="tanh")
    with pytest.raises(seqcls.InvalidArgumentError, match="outside"):
        m.add_transformer_encoder(2, 8, dropout=1.0)
    with pytest.raises(ValueError, match="positional encoding kind"):
        m.add_positional_encoding("rotary")
    with pytest.raises(OverflowError):
        m.add_transformer_encoder(2, 2 ** 40)


def test_training_and_self_attention_weights():
    x, lengths, y = tiny_data(n=48, t=10)
    m = encoder()
    m.compile("adam", lr=3e-3)
    losses = [m.train_step(x, y, lengths) for _ in range(40)]
    assert losses[-1] < losses[0]
    with pytest.raises(seqcls.RangeError, match="not a transformer layer"):
        m.self_attention_weights(1)
    m.forward(x, lengths, training=False)
    w = m.self_attention_weights(2)
    assert w.shape == (48, 2, 10, 10) and w.dtype == np.float32
    for b in range(48):
        n = lengths[b]
        np.testing.assert_allclose(w[b, :, :n, :n].sum(-1), 1, atol=1e-5)
        assert not w[b, :, n:].any() and not w[b, :, :, n:].any()
    assert m.self_attention_weights(3).shape == (48, 4, 10, 10)
    m.set_option(2, "dropout", 0.2)   # the last forward no longer holds
    with pytest.raises(seqcls.StateError):
        m.self_attention_weights(2)


def test_self_attention_weights_needs_a_forward():
    m = encoder()
    with pytest.raises(seqcls.StateError, match="no forward"):
        m.self_attention_weights(2)


def test_save_load_round_trip(tmp_path):
    x, lengths, _ = tiny_data(n=8, t=10)
    m = encoder()
    p = m.predict(x, lengths)
    path = str(tmp_path / "tf.sqcl")
    m.save(path)
    back = seqcls.Model.load(path)
    assert back.layers == m.layers
    np.testing.assert_array_equal(back.predict(x, lengths), p)
