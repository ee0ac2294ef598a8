"""The 1.1 introspection calls (layer kinds, options, output width) and the
metadata store (Model.meta), including its save/load round trip."""
import numpy as np
import pytest

import seqcls
from conftest import bilstm_attention


def every_kind():
    m = seqcls.Model(3)
    m.add_embedding(30, 8, padding_idx=0)
    m.add_gru(6, bidirectional=True, return_sequences=True, dropout=0.25)
    m.add_lstm(5, return_sequences=True, recurrent_activation="hard_sigmoid")
    m.add_attention("learned_query", units=4)
    m.add_dense(7, "relu")
    m.add_batchnorm(momentum=0.2, epsilon=1e-3)
    m.add_dropout(0.5)
    m.add_output(3)
    return m


def test_layer_kinds():
    m = every_kind()
    assert [m.layer_kind(i) for i in range(len(m))] == [
        "embedding", "gru", "lstm", "attention", "dense", "batchnorm", "dropout", "output"]
    f = seqcls.Model(1)
    f.add_input(4)
    assert f.layer_kind(0) == "input"
    assert set(seqcls.LAYER_KINDS) == {getattr(seqcls, "LAYER_" + n.upper())
                                      for n in seqcls.LAYER_KINDS.values()}
    with pytest.raises(seqcls.RangeError, match="seqcls_layer_kind"):
        m.layer_kind(8)
    with pytest.raises(IndexError):
        m.layer_kind(-1)


def test_options_by_name_and_code_with_their_types():
    m = every_kind()
    assert m.get_option(0, "vocab") == 30 and m.get_option(0, seqcls.OPT_UNITS) == 8
    assert m.get_option(0, "padding_idx") == 0 and m.get_option(0, "freeze") == 0
    assert m.get_option(1, "units") == 6
    assert m.get_option(1, "flags") == seqcls.BIDIRECTIONAL | seqcls.RETURN_SEQUENCES
    d = m.get_option(1, "input_dropout")
    assert isinstance(d, float) and d == pytest.approx(0.25)
    assert m.get_option(2, "recurrent_activation") == seqcls.ACT_HARD_SIGMOID
    assert m.get_option(3, "kind") == seqcls.ATTN_LEARNED_QUERY
    assert m.get_option(4, "activation") == seqcls.ACT_RELU
    assert m.get_option(5, "bn_momentum") == pytest.approx(0.2)
    assert m.get_option(5, seqcls.OPT_BN_EPSILON) == pytest.approx(1e-3)
    assert m.get_option(6, "dropout") == 0.5
    assert m.get_option(7, "units") == 3
    assert isinstance(m.get_option(7, "units"), int)
    # options can be set by name too; the type follows the option
    m.set_option(5, "bn_epsilon", 1)          # an int for a float option
    assert m.get_option(5, "bn_epsilon") == 1.0
    m.set_option(0, "freeze", True)
    assert m.get_option(0, "freeze") == 1
    with pytest.raises(ValueError, match="unknown layer option"):
        m.get_option(0, "nope")
    with pytest.raises(seqcls.InvalidArgumentError, match="does not apply"):
        m.get_option(0, "flags")
    with pytest.raises(seqcls.InvalidArgumentError, match="fixed by its constructor"):
        m.set_option(1, "units", 7)
    with pytest.raises(seqcls.RangeError):
        m.get_option(99, "units")


def test_num_classes_is_the_output_width():
    m = every_kind()
    assert m.num_classes == 3
    assert bilstm_attention().num_classes == 1
    e = seqcls.Model(0)
    e.add_embedding(10, 4)
    with pytest.raises(seqcls.StateError, match="seqcls_model_output_width"):
        e.num_classes
    # a model whose parameter names say nothing about its output still works
    p = seqcls.Model(0)
    p.add_input(3)
    p.add_pooling("max")
    p.add_output(4)
    assert p.num_classes == 4
    assert p.predict(np.ones((2, 5, 3), np.float32)).shape == (2, 4)


def test_meta_is_a_mutable_mapping():
    m = bilstm_attention()
    meta = m.meta
    assert len(meta) == 0 and list(meta) == [] and dict(meta) == {}
    meta["maxlen"] = "200"
    m.meta["tokens"] = "words"
    m.meta["a.b_c-D9"] = "é ✓"
    assert list(m.meta) == ["maxlen", "tokens", "a.b_c-D9"]
    assert len(m.meta) == 3 and "maxlen" in m.meta and "nope" not in m.meta
    assert m.meta["a.b_c-D9"] == "é ✓"
    m.meta["maxlen"] = "100"                       # replacing keeps the order
    assert list(m.meta.items())[0] == ("maxlen", "100")
    del m.meta["maxlen"]
    assert list(m.meta) == ["tokens", "a.b_c-D9"]
    with pytest.raises(KeyError):
        m.meta["maxlen"]
    with pytest.raises(KeyError):
        del m.meta["maxlen"]
    assert m.meta.get("maxlen", "x") == "x"
    m.meta.update({"x": "1", "y": ""})
    assert m.meta["y"] == "" and m.meta == {"tokens": "words", "a.b_c-D9": "é ✓", "x": "1",
                                             "y": ""}
    assert m.meta.pop("x") == "1"
    m.meta = {"only": "this"}
    assert dict(m.meta) == {"only": "this"}
    with pytest.raises(ValueError):
        m.meta = {"fine": "1", "not fine": "2"}
    assert dict(m.meta) == {"only": "this"}      # all or nothing
    m.meta.clear()
    assert len(m.meta) == 0
    assert 1 not in m.meta and "a\0b" not in m.meta


def test_meta_refuses_bad_keys_and_values_with_the_librarys_message():
    m = bilstm_attention()
    for key in ["", "has space", "x" * 65, "ключ", "a/b"]:
        with pytest.raises(ValueError, match="seqcls_model_set_meta: key") as e:
            m.meta[key] = "v"
        assert isinstance(e.value, seqcls.InvalidArgumentError)
    with pytest.raises(ValueError, match="seqcls_model_set_meta: the value"):
        m.meta["big"] = "v" * 65537
    m.meta["edge"] = "v" * 65536
    with pytest.raises(ValueError, match="NUL"):
        m.meta["k"] = "a\0b"
    with pytest.raises(ValueError, match="NUL"):
        m.meta["k\0x"] = "v"
    with pytest.raises(ValueError, match="NUL"):
        m.meta["edge\0"]
    with pytest.raises(ValueError, match="NUL"):
        del m.meta["edge\0"]
    with pytest.raises(TypeError):
        m.meta["n"] = 5
    with pytest.raises(TypeError):
        m.meta[5] = "v"
    assert list(m.meta) == ["edge"]                # nothing was set by a refused call
    for i in range(255):
        m.meta["k%d" % i] = str(i)
    with pytest.raises(ValueError, match="256 keys"):
        m.meta["one-too-many"] = "x"
    assert len(m.meta) == 256


def test_meta_round_trips_through_save_load(tmp_path):
    m = bilstm_attention()
    m.meta["maxlen"] = "200"
    m.meta["tokens"] = "words"
    m.meta["note"] = "ünïcode ✓ and\nnewlines\ttabs"
    m.meta["empty"] = ""
    p = tmp_path / "m.sqcl"
    m.save(p)
    loaded = seqcls.Model.load(p)
    assert list(loaded.meta.items()) == list(m.meta.items())
    assert list(seqcls.Model.from_bytes(m.to_bytes()).meta.items()) == list(m.meta.items())
    q = tmp_path / "c.sqcl"
    m.save_checkpoint(q, seqcls.Adam())
    m2, _ = seqcls.Model.load_checkpoint(q)
    assert dict(m2.meta) == dict(m.meta)
    # a removed key stays removed
    del loaded.meta["tokens"]
    loaded.save(p)
    assert list(seqcls.Model.load(p).meta) == ["maxlen", "note", "empty"]


def test_meta_view_keeps_the_model_alive():
    m = bilstm_attention()
    m.meta["k"] = "v"
    meta = m.meta
    del m
    import gc
    gc.collect()
    assert meta["k"] == "v"
