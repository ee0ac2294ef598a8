"""Objects can be dropped in any order: borrowed views keep their parents
alive, and nothing is freed twice or used after being freed.  The risky
orders run in subprocesses so that a crash is a failed test, not a dead
test run."""
import gc
import itertools

import numpy as np

import seqcls
from conftest import run_ok, run_python



def test_model_deleted_before_its_tensors_and_views():
    out = run_ok("""
m = bilstm_attention()
w = m.param("0.embedding.weight")          # numpy view into the model
t = m._param_tensors(1)[0]                 # borrowed tensor
xt = seqcls.Tensor(x)
del m; gc.collect()
w[1, 0] = 3.0                              # still valid memory
print(float(w[1, 0]), t.shape, xt.shape)
del w; gc.collect()
print(t.numpy().shape)
del t, xt; gc.collect()
print("ok")
""")
    assert out.split()[-1] == "ok" and out.startswith("3.0")


def test_array_deleted_before_the_tensor_that_wraps_it():
    run_ok("""
a = np.arange(6, dtype=np.float32)
t = seqcls.Tensor.wrap(a)
del a; gc.collect()
big = [np.ones(1000, np.float32) for _ in range(100)]   # reuse freed memory, if any
assert t.numpy().tolist() == [0, 1, 2, 3, 4, 5]
""")


def test_every_drop_order():
    for order in itertools.permutations(range(5)):
        run_ok("""
m = bilstm_attention()
objs = [m, m.param(0), seqcls.Tensor(x), seqcls.Optimizer("adam"), seqcls.Vocab(["a b"])]
objs[3].step(m)
for i in %r:
    objs[i] = None
    gc.collect()
print("ok")
""" % (order,))
        break   # one subprocess for the first order; the rest in-process below
    for order in itertools.permutations(range(6)):
        m = seqcls.Model(1)
        m.add_embedding(10, 4)
        m.add_pooling("max")
        m.add_output(1)
        opt = seqcls.Adam()
        ids = np.ones((2, 3), np.int32)
        m.train_step(ids, np.array([0, 1], np.int32), optimizer=opt)
        objs = [m, m.param(0), m.grad(1), seqcls.Tensor(ids), opt, m.vocab]
        del m, opt, ids
        for i in order:
            objs[i] = None      # reference counting frees at once, in this order
        gc.collect()


def test_closing_a_model_keeps_views_valid():
    run_ok("""
with bilstm_attention() as m:
    w = m.param("3.output.weight")
    p = m.predict(x, lengths)
assert m._h is None
w += 1.0          # the C model is still alive through the view
del w; gc.collect()
print("ok")
""")


def test_training_input_outlives_the_forward_that_used_it():
    run_ok("""
m = bilstm_attention()
m.forward(np.array(x), lengths, training=True)   # a temporary array
gc.collect()
m.loss_backward(y)
del m; gc.collect()
""")


def test_callbacks_survive_garbage_collection_during_fit():
    run_ok("""
m = bilstm_attention()
def cb(*a):
    gc.collect()
m.fit(x, y, lengths, epochs=2, batch_size=8, callback=cb, on_epoch=lambda *a: gc.collect())
""")


def test_interpreter_exit_with_live_objects():
    out = run_ok("""
m = bilstm_attention()
views = [m.param(i) for i in range(3)]
t = seqcls.Tensor.zeros((4, 4))
v = seqcls.Vocab(["x y z"])
m.vocab = v
cycle = [m]; cycle.append(cycle)
print("ok")
""")
    assert out.strip() == "ok"


def test_many_models_gc_collect():
    for i in range(50):
        m = seqcls.Model(i)
        m.add_embedding(20, 4)
        m.add_lstm(4)
        m.add_output(3)
        v = m.param(0)
        if i % 2:
            del m
        gc.collect()
    del v
    gc.collect()


def test_library_found_without_the_environment_variable():
    r = run_python("import seqcls; print(seqcls.library_path)",
                   env={"SEQCLS_LIBRARY": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("lib/libseqcls.so.1")


def test_environment_variable_wins_and_failure_is_clear(tmp_path):
    r = run_python("import seqcls", env={"SEQCLS_LIBRARY": str(tmp_path / "nope.so")})
    assert r.returncode != 0 and "nope.so" in r.stderr
