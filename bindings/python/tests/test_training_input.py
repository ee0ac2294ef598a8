"""Issue 14, item 2: what a training forward reads again in backward cannot
be changed from Python in between.  Model.forward(training=True) runs on a
private copy of the ids, kept until the next forward; Model.fit runs on
private copies of the lengths and labels, which its Python callbacks could
otherwise change while the library reads them.  The risky cases run in
subprocesses, so that a crash is a failed test."""
import numpy as np

import seqcls

from conftest import bilstm_attention, run_ok, tiny_data



def test_ids_changed_between_forward_and_backward_do_not_reach_backward():
    out = run_ok("""
def grads(m):
    return {n: m.grad(n).copy() for n in m.param_names()}
ref = bilstm_attention()
ref.zero_grad()
ref.forward(x, lengths, training=True)
ref_loss = ref.loss_backward(y)
want = grads(ref)
for bad in (10 ** 6, -5, 2 ** 31 - 1, 29):
    m = bilstm_attention()
    m.zero_grad()
    ids = x.copy()
    m.forward(ids, lengths, training=True)
    ids[:] = bad                                # in place, out of the vocabulary
    assert m.loss_backward(y) == ref_loss
    got = grads(m)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    m.backward(np.ones((x.shape[0], 1), np.float32))   # the custom-loss backward too
print("same")
""")
    assert out.split() == ["same"]


def test_mutated_ids_in_a_subprocess():
    out = run_ok("""
m = bilstm_attention()
ids = x.copy()
m.forward(ids, lengths, training=True)
ids[:] = 2_000_000_000                 # far outside the 30-row embedding
m.loss_backward(y)
ids[:] = -2_000_000_000
m.backward(np.ones((x.shape[0], 1), np.float32))
w = m.grad("0.embedding.weight")
print("ok", bool(np.isfinite(w).all()))
""")
    assert out.split() == ["ok", "True"]


def test_ids_freed_between_forward_and_backward():
    run_ok("""
m = bilstm_attention()
m.forward(x.copy(), lengths, training=True)     # the only reference to the array
gc.collect()
junk = [np.full(x.shape, 10 ** 6, np.int32) for _ in range(50)]   # reuse the memory
m.loss_backward(y)
m.forward(np.array(x.tolist(), np.int32), lengths.copy(), training=True)
gc.collect()
junk = [np.full(x.shape, -1, np.int32) for _ in range(50)]
m.loss_backward(y)
print("ok")
""")


def test_a_failed_forward_keeps_what_the_last_one_needs():
    run_ok("""
m = bilstm_attention()
ids = x.copy()
m.forward(ids, lengths, training=True)
bad = x.copy(); bad[0, 0] = 999
try:
    m.forward(bad, lengths, training=True)
except seqcls.RangeError:
    pass
del ids, bad; gc.collect()
try:
    m.loss_backward(y)          # the library may refuse it; it must not crash
except seqcls.SeqclsError:
    pass
print("ok")
""")


def test_float_input_is_kept_too():
    m = seqcls.Model(2)
    m.add_input(3)
    m.add_lstm(4)
    m.add_output(1)
    xf = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    yb = np.array([0, 1, 0, 1], np.int32)
    ref = m.forward(xf.copy(), training=True)
    m.zero_grad()
    m.forward(xf, training=True)
    m.loss_backward(yb)
    want = {n: m.grad(n).copy() for n in m.param_names()}
    m.zero_grad()
    xs = xf.copy()
    assert (m.forward(xs, training=True) == ref).all()
    xs[:] = np.nan
    m.loss_backward(yb)
    for n, g in want.items():
        np.testing.assert_array_equal(m.grad(n), g, err_msg=n)


def test_fit_callbacks_cannot_change_lengths_or_labels_under_it():
    x, lengths, y = tiny_data()

    def train(mutate):
        m = bilstm_attention()
        ls, ys = lengths.copy(), y.copy()

        def cb(epoch, batch, batches, loss, acc):
            if mutate:
                ls[:] = 10 ** 6 if batch % 2 else -7      # beyond T, and negative
                ys[:] = 1000
        m.fit(x, ys, ls, epochs=2, batch_size=16, callback=cb, validation_data=(x, ys, ls),
              shuffle=False)
        return m

    a, b = train(False), train(True)
    for n in a.param_names():
        np.testing.assert_array_equal(a.param(n), b.param(n), err_msg=n)


def test_fit_callback_that_corrupts_the_ids():
    out = run_ok("""
m = bilstm_attention()
xs = x.copy()
def cb(epoch, batch, batches, loss, acc):
    xs[:] = 10 ** 6
try:
    m.fit(xs, y, lengths, epochs=2, batch_size=16, callback=cb, verbose=0)
    print("finished")
except seqcls.RangeError as e:
    print("refused", e)
""")
    assert out.startswith(("finished", "refused"))
