"""Model.fit: progress callbacks through CFUNCTYPE, stopping, exceptions, validation."""
import math

import numpy as np
import pytest

import seqcls
from conftest import bilstm_attention, tiny_data


def test_fit_learns_and_reports_every_batch():
    x, lengths, y = tiny_data(256, 10, seed=3)
    m = bilstm_attention(seed=2)
    m.compile("adam", lr=0.02)
    seen = []
    h = m.fit(x, y, lengths, epochs=8, batch_size=32,
              callback=lambda e, b, nb, loss, acc: seen.append((e, b, nb, loss)))
    assert len(seen) == 8 * 8 and seen[0][:3] == (0, 0, 8) and seen[-1][:3] == (7, 7, 8)
    assert h.epoch == list(range(8))
    assert h["loss"][-1] < h["loss"][0]
    assert all(math.isnan(v) for v in h["val_loss"])
    assert m.evaluate(x, y, lengths).accuracy > 0.9


def test_returning_true_stops_training(model, data):
    x, lengths, y = data
    calls = []

    def cb(epoch, batch, batches, loss, acc):
        calls.append(batch)
        return batch == 1
    model.fit(x, y, lengths, epochs=5, batch_size=8, callback=cb)
    assert calls == [0, 1]


def test_exception_in_callback_stops_and_reraises(model, data):
    x, lengths, y = data
    calls = []

    class Boom(Exception):
        pass

    def cb(*args):
        calls.append(args)
        raise Boom("from the callback")
    with pytest.raises(Boom, match="from the callback"):
        model.fit(x, y, lengths, epochs=5, batch_size=8, callback=cb)
    assert len(calls) == 1
    with pytest.raises(ZeroDivisionError):
        model.fit(x, y, lengths, epochs=2, on_epoch=lambda *a: 1 / 0)
    with pytest.raises(KeyError):
        model.fit(x, y, lengths, epochs=2, lr_schedule=lambda e, lr: {}["x"])


def test_validation_data_and_split(model, data):
    x, lengths, y = data
    h = model.fit(x[:48], y[:48], lengths[:48], epochs=2, batch_size=16,
                  validation_data=(x[48:], y[48:], lengths[48:]))
    assert len(h["val_loss"]) == 2 and not math.isnan(h["val_loss"][0])
    h = model.fit(x, y, lengths, epochs=2, validation_split=0.25,
                  on_epoch=lambda e, *a: print("epoch", e, *a))
    assert not math.isnan(h["val_accuracy"][1])
    h = model.fit(x, y, epochs=1, validation_data=(x[:8], y[:8]))
    assert len(h["loss"]) == 1


def test_lr_schedule_is_called(model, data):
    x, lengths, y = data
    lrs = []

    def sched(epoch, initial):
        lrs.append((epoch, initial))
        return initial * 0.5 ** epoch
    model.fit(x, y, lengths, epochs=3, optimizer=seqcls.SGD(0.1), lr_schedule=sched)
    assert [e for e, _ in lrs] == [0, 1, 2]
    assert all(abs(i - 0.1) < 1e-7 for _, i in lrs)


def test_fit_errors_carry_the_message(model, data):
    x, lengths, y = data
    bad = y.copy()
    bad[0] = 5
    with pytest.raises(seqcls.RangeError, match="seqcls_fit"):
        model.fit(x, bad, lengths, epochs=1)
    with pytest.raises(seqcls.InvalidArgumentError, match="seqcls_fit_config_set_int"):
        model.fit(x, y, lengths, epochs=1, batch_size=0)


def test_optimizers_and_options():
    for make in (seqcls.Adam, seqcls.AdamW, seqcls.SGD, seqcls.RMSprop):
        with make(0.01) as o:
            o.set("clipvalue", 1.0)
    o = seqcls.Optimizer(seqcls.OPTIM_SGD, 0.1, momentum=0.9)
    with pytest.raises(seqcls.InvalidArgumentError):
        o.set(seqcls.OPTIM_BETA1, 2.0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        seqcls.Optimizer("adagrad")


def test_keras_style_gru_model_predicts_classes():
    x, lengths, y = tiny_data(128, 10, seed=5)
    m = seqcls.Model(4)
    m.add_embedding(30, 8)
    m.add_gru(8, bidirectional=True, reset_after=False)
    m.add_dense(8, "relu")
    m.add_output(2)
    m.fit(x, y, lengths, epochs=3, batch_size=16)
    c = m.predict_classes(x, lengths)
    assert c.shape == (128,) and set(np.unique(c)) <= {0, 1}
