"""Every non-zero status raises its SeqclsError subclass carrying the C message."""
import numpy as np
import pytest

import seqcls
from seqcls.errors import ERRORS


def test_one_subclass_per_status_code():
    codes = {v for k, v in vars(seqcls.constants).items() if k.startswith("E_")}
    assert set(ERRORS) == codes
    for code, cls in ERRORS.items():
        assert issubclass(cls, seqcls.SeqclsError) and cls.status == code


def test_exception_carries_the_c_message(model, data):
    x, lengths, y = data
    bad = x.copy()
    bad[3, 0] = 1000
    with pytest.raises(seqcls.RangeError) as e:
        model.predict(bad, lengths)
    assert e.value.status == seqcls.E_RANGE
    assert e.value.function == "seqcls_predict"
    assert "token id 1000" in str(e.value) and str(e.value) == e.value.message
    assert e.value.message.startswith("seqcls_predict")
    assert isinstance(e.value, IndexError)     # the closest built-in, too


def test_invalid_argument():
    m = seqcls.Model(0)
    with pytest.raises(seqcls.InvalidArgumentError) as e:
        m.add_embedding(0, 4)
    assert "seqcls_add_embedding" in str(e.value)
    with pytest.raises(ValueError):
        m.add_embedding(-5, 4)


def test_state_error():
    m = seqcls.Model(0)
    m.add_embedding(10, 4)
    m.add_pooling("mean")
    m.add_output(1)
    with pytest.raises(seqcls.StateError) as e:
        m.add_dense(3)
    assert e.value.status == seqcls.E_STATE and "seqcls_add_dense" in e.value.message
    with pytest.raises(seqcls.StateError):
        m.backward(np.zeros((1, 1), np.float32))


def test_shape_error(model):
    with pytest.raises(seqcls.ShapeError) as e:
        model.predict(np.zeros((2, 3), np.int32), out=np.zeros((2, 5), np.float32))
    assert e.value.status == seqcls.E_SHAPE and e.value.message


def test_numeric_error():
    m = seqcls.Model(0)
    m.add_input(2)
    m.add_pooling("mean")
    m.add_output(1)
    x = np.full((1, 2, 2), np.nan, np.float32)
    with pytest.raises(seqcls.NumericError) as e:
        m.predict(x)
    assert e.value.message == "seqcls_predict: input[0, 0, 0] is not finite"


def test_format_error():
    with pytest.raises(seqcls.FormatError) as e:
        seqcls.Vocab.from_bytes(b"\x01")
    assert e.value.message.startswith("seqcls_vocab_load_buffer")


def test_io_and_format_errors_of_load(tmp_path):
    if "seqcls_model_load" in seqcls.missing:
        with pytest.raises(seqcls.UnsupportedError):
            seqcls.Model.load(tmp_path / "none")
        return
    with pytest.raises(seqcls.IOError) as e:
        seqcls.Model.load(tmp_path / "does-not-exist.sqcl")
    assert isinstance(e.value, OSError) and e.value.message
    junk = tmp_path / "junk.sqcl"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(seqcls.FormatError) as e:
        seqcls.Model.load(junk)
    assert e.value.message
    with pytest.raises(seqcls.FormatError):
        seqcls.Model.from_bytes(b"SQCL")


def test_python_side_checks_are_clear(model):
    with pytest.raises(TypeError, match="int32"):
        model.predict(np.zeros((2, 3), np.int64))
    with pytest.raises(TypeError, match="float32"):
        seqcls.Tensor.wrap(np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        model.predict(np.zeros((3, 2), np.int32).T)
    with pytest.raises(ValueError, match="one value per row"):
        model.predict(np.zeros((2, 3), np.int32), np.array([1, 2, 3], np.int32))
    with pytest.raises(ValueError, match="unknown attention"):
        seqcls.Model(0).add_attention("nope")


def test_closed_objects_raise():
    m = seqcls.Model(0)
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.add_output(1)
    with seqcls.Vocab() as v:
        pass
    with pytest.raises(ValueError, match="closed"):
        len(v)
