"""numpy arrays pass without copies: the C library sees the caller's memory."""
import numpy as np

import seqcls


def test_wrap_uses_the_arrays_buffer():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = seqcls.Tensor.wrap(a)
    assert t.data_ptr == a.ctypes.data
    assert t.shape == (3, 4) and t.dtype == np.float32
    view = t.numpy()
    a[1, 2] = -7.0
    assert view[1, 2] == -7.0        # the tensor reads the array's memory
    view[0, 0] = 99.0
    assert a[0, 0] == 99.0           # and writes it


def test_mutating_the_input_between_predicts_is_seen(model, data):
    x, lengths, _ = data
    p1 = model.predict(x, lengths).copy()
    row = x[0].copy()
    x[0, :lengths[0]] = 3             # in place: the same buffer is passed again
    p2 = model.predict(x, lengths)
    assert p1[0, 0] != p2[0, 0]
    np.testing.assert_array_equal(p1[1:], p2[1:])
    x[0] = row
    np.testing.assert_array_equal(model.predict(x, lengths), p1)


def test_predict_writes_into_the_callers_output(model, data):
    x, lengths, _ = data
    out = np.full((x.shape[0], 1), -1, np.float32)
    got = model.predict(x, lengths, out=out)
    assert got is out and (out >= 0).all() and (out <= 1).all()


def test_writing_a_parameter_view_changes_the_model(model, data):
    x, lengths, _ = data
    w = model.param("3.output.bias")
    b = model.param("3.output.bias")
    assert w.ctypes.data == b.ctypes.data          # both views of the same C memory
    p1 = model.predict(x, lengths).copy()
    w[0] += 5.0
    p2 = model.predict(x, lengths)
    assert (p2 > p1).all()
    logit = lambda p: np.log(p / (1 - p))          # noqa: E731
    np.testing.assert_allclose(logit(p2) - logit(p1), 5.0, rtol=1e-3, atol=1e-3)


def test_training_updates_the_same_parameter_memory(model, data):
    x, lengths, y = data
    w = model.param("0.embedding.weight")
    before = w.copy()
    model.train_step(x, y, lengths)
    assert not np.array_equal(before, w)           # the view saw the optimiser's update
    assert (w[0] == 0).all()                       # padding row stays zero


def test_state_dict_round_trip(model, data):
    x, lengths, _ = data
    state = {k: v.copy() for k, v in model.parameters().items()}
    p = model.predict(x, lengths).copy()
    other = __import__("conftest").bilstm_attention(seed=99)
    assert not np.array_equal(other.predict(x, lengths), p)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.predict(x, lengths), p)
