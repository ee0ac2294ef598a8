"""Model.fit(verbose=...): Keras-like progress on stdout."""
import io
import re

import pytest

import seqcls
from conftest import bilstm_attention, tiny_data
from seqcls._progress import Progress

FIGURES = r"loss: \d\.\d{4} - accuracy: \d\.\d{4}"
VALID = r" - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}"
TIME = r"\d+(\.\d+)?s \d+(ms|us)/step"


def test_verbose_1_is_the_default(capsys):
    x, lengths, y = tiny_data(64)
    m = bilstm_attention()
    m.fit(x, y, lengths, epochs=2, batch_size=16, validation_split=0.25)
    out = capsys.readouterr().out.splitlines()
    # not a terminal: "Epoch i/n", then the finished bar, per epoch
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    for line in (out[1], out[3]):
        assert re.fullmatch(r"3/3 \[=+\] - %s - %s%s" % (TIME, FIGURES, VALID), line), line
    assert len(out) in (4, 5)          # and perhaps the epoch that was kept


def test_verbose_2_one_line_per_epoch(capsys):
    x, lengths, y = tiny_data(64)
    m = bilstm_attention()
    m.fit(x, y, lengths, epochs=3, batch_size=16, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    for i, line in enumerate(out):
        assert re.fullmatch(r"Epoch %d/3 - \d+(\.\d+)?s - \d+(ms|us)/step - %s" % (i + 1, FIGURES),
                            line), line


def test_verbose_0_is_silent(capsys):
    x, lengths, y = tiny_data(32)
    bilstm_attention().fit(x, y, lengths, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_bad_verbose():
    x, lengths, y = tiny_data(32)
    for bad in (3, -1, "yes", True):
        with pytest.raises(ValueError, match="verbose"):
            bilstm_attention().fit(x, y, lengths, epochs=1, verbose=bad)


def test_the_kept_epoch_is_named(capsys):
    # validation data the model cannot learn: its loss rises after epoch 1
    x, lengths, y = tiny_data(128, seed=1)
    vx, vl, vy = tiny_data(64, seed=2)
    m = bilstm_attention()
    m.compile("adam", lr=0.05)
    h = m.fit(x, y, lengths, epochs=6, batch_size=16, validation_data=(vx, 1 - vy, vl))
    out = capsys.readouterr().out
    vloss = h["val_loss"]
    best = min(range(6), key=lambda e: vloss[e])
    assert h.best_epoch == best
    if best != 5:
        assert out.splitlines()[-1] == (
            "Kept the weights of epoch %d (the lowest val_loss, %.4f), not those of the last "
            "epoch, 6 (restore_best=True)" % (best + 1, vloss[best]))
    assert m.evaluate(vx, 1 - vy, vl).loss == pytest.approx(vloss[best], rel=1e-4)
    # without validation, or without restoring, nothing is kept
    assert m.fit(x, y, lengths, epochs=1, verbose=0).best_epoch is None
    assert m.fit(x, y, lengths, epochs=2, verbose=0, validation_split=0.2,
                 restore_best=False).best_epoch is None


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_bar_is_redrawn_in_place():
    t = FakeTerminal()
    p = Progress(1, 2, stream=t)
    for b in range(4):
        p.on_batch(0, b, 4, 0.5, 0.75)
    p.on_epoch(0, 0.5, 0.75, float("nan"), float("nan"))
    out = t.getvalue()
    assert out.startswith("Epoch 1/2\n\r1/4 [=======>......................] - ETA: ")
    assert "\r4/4 [==============================] - ETA: 0.00s - loss: 0.5000" in out
    assert re.search(r"\r4/4 \[=+\] - %s - loss: 0.5000 - accuracy: 0.7500\n$" % TIME, out)
    # a line left open (an exception stopped training) is ended
    p.on_batch(1, 0, 4, 0.5, 0.75)
    p.close()
    assert t.getvalue().endswith("accuracy: 0.7500\n")


def test_exception_in_callback_ends_the_bar_line():
    t = FakeTerminal()
    x, lengths, y = tiny_data(64)

    def boom(*a):
        raise KeyError("stop")
    import sys
    old, sys.stdout = sys.stdout, t
    try:
        with pytest.raises(KeyError):
            bilstm_attention().fit(x, y, lengths, epochs=2, batch_size=16, callback=boom)
    finally:
        sys.stdout = old
    assert t.getvalue().endswith("\n")
