"""Parity of seqcls' conv1d layer with torch.nn.Conv1d on ragged batches.

PyTorch does not know lengths, so the reference of row b is
torch.nn.Conv1d applied to that row's valid prefix x[b, :len_b] alone
(padding='valid' or 'same', the same dilation); seqcls runs the whole
ragged batch with garbage at the padding steps, which must not matter.

- every valid output step: the model input -> conv1d -> pooling(last) ->
  output(identity) is run with each row cut to the length whose last
  output step is step t, for every t (valid: t + span + 1 steps, the
  window of step t is unchanged; same: t + 1 steps, compared with torch
  on that prefix);
- whole ragged rows: max and mean pooling of the conv outputs, and the
  gradients of the weight, the bias and the input through them;
- Kim's CNN: embedding -> conv1d(relu) -> max pooling -> output, logits
  and every gradient.

Outputs must agree to 1e-5 (absolute), gradients to 1e-4 (relative to
the tensor's largest element).  Run by `make check` (check-parity).
"""
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as Fn

import seqcls_ctypes as S

OUT_TOL = 1e-5
GRAD_TOL = 1e-4
worst = {"step": 0.0, "output": 0.0, "grad": 0.0}
failures = []


def grad_of(p):
    return p.grad.numpy() if p.grad is not None else np.zeros(p.shape, np.float32)


def rel_err(a, b):
    scale = max(float(np.abs(b).max()), 1e-6)
    return float(np.abs(a - b).max()) / scale


def expect(what, err, tol, kind):
    worst[kind] = max(worst[kind], err)
    if not err <= tol:
        failures.append("%s: error %.3g > %.0e" % (what, err, tol))


TORCH_ACT = {S.ACT_NONE: lambda y: y, S.ACT_RELU: torch.relu, S.ACT_TANH: torch.tanh,
             S.ACT_SIGMOID: torch.sigmoid}


def torch_conv_row(x_row, w, b, k, d, same, act):
    """Conv1d of one row's valid prefix [L, F] -> [Lout, U] (Lout may be 0)."""
    L = x_row.shape[0]
    span = (k - 1) * d
    if L == 0 or (not same and L <= span):
        return x_row.new_zeros((0, w.shape[0]))
    y = Fn.conv1d(x_row.t().unsqueeze(0), w, b, dilation=d, padding="same" if same else 0)
    return TORCH_ACT[act](y[0].t())


def build(F, U, k, d, same, act, pool, seed):
    m = S.Model(seed=seed)
    m.add("input", F)
    conv = m.add("conv1d", U, k, S.PAD_SAME if same else 0)
    m.set_int(conv, S.OPT_ACTIVATION, act)
    if d != 1:
        m.set_int(conv, S.OPT_DILATION, d)
    m.add("pooling", pool)
    out = m.add("output", U)
    m.param("%d.output.weight" % out)[0][...] = np.eye(U, dtype=np.float32)
    m.param("%d.output.bias" % out)[0][...] = 0
    return m, conv


def run_config(cfg, seed):
    rng = np.random.default_rng(seed)
    B, T, F, U, k, d, same, act = (cfg[n] for n in ("B", "T", "F", "U", "k", "d", "same", "act"))
    span = (k - 1) * d
    name = "conv1d B=%d T=%d F=%d U=%d k=%d d=%d %s act=%d" % (
        B, T, F, U, k, d, "same" if same else "valid", act)
    lengths = rng.integers(0, T + 1, size=B).astype(np.int32)
    lengths[0] = T
    x = rng.uniform(-1, 1, size=(B, T, F)).astype(np.float32)
    xs = x.copy()
    for b in range(B):
        xs[b, lengths[b]:] = 1e3            # garbage at padding steps must not matter
    conv_t = torch.nn.Conv1d(F, U, k, dilation=d)
    w, bias = conv_t.weight.detach(), conv_t.bias.detach()

    # every valid output step, through pooling(last) on cut rows
    m, conv = build(F, U, k, d, same, act, S.POOL_LAST, seed)
    m.param("%d.conv1d.weight" % conv)[0][...] = w.numpy()
    m.param("%d.conv1d.bias" % conv)[0][...] = bias.numpy()
    steps = 0
    for t in range(T):
        cut = np.array([min(t + 1 + (0 if same else span), lengths[b]) for b in range(B)],
                       dtype=np.int32)
        rows = [b for b in range(B) if (cut[b] - (0 if same else span)) == t + 1]
        if not rows:
            continue
        got = m.forward(xs, cut, U, training=0)
        for b in rows:
            ref = torch_conv_row(torch.tensor(x[b, :cut[b]]), w, bias, k, d, same, act)
            expect("%s step %d of row %d" % (name, t, b),
                   float(np.abs(got[b] - ref[-1].numpy()).max()), OUT_TOL, "step")
            steps += 1

    # whole ragged rows: max and mean pooling, outputs and gradients
    for pool in (S.POOL_MAX, S.POOL_MEAN):
        m, conv = build(F, U, k, d, same, act, pool, seed)
        m.param("%d.conv1d.weight" % conv)[0][...] = w.numpy()
        m.param("%d.conv1d.bias" % conv)[0][...] = bias.numpy()
        wt = w.clone().requires_grad_(True)
        bt = bias.clone().requires_grad_(True)
        xt = torch.tensor(x, requires_grad=True)
        refs = []
        for b in range(B):
            y = torch_conv_row(xt[b, :lengths[b]], wt, bt, k, d, same, act)
            if y.shape[0] == 0:
                refs.append(xt.new_zeros(U) * xt[b].sum())   # zeros, no gradient
            elif pool == S.POOL_MAX:
                refs.append(y.max(0).values)
            else:
                refs.append(y.mean(0))
        ref = torch.stack(refs)
        dlogits = rng.uniform(-1, 1, size=(B, U)).astype(np.float32)
        (ref * torch.tensor(dlogits)).sum().backward()
        got = m.forward(xs, lengths, U, training=1)
        what = "%s pool=%d" % (name, pool)
        expect(what + " output", float(np.abs(got - ref.detach().numpy()).max()), OUT_TOL,
               "output")
        m.zero_grad()
        m.backward(dlogits)
        expect(what + " grad weight", rel_err(m.param("%d.conv1d.weight" % conv)[1],
                                             grad_of(wt)), GRAD_TOL, "grad")
        expect(what + " grad bias", rel_err(m.param("%d.conv1d.bias" % conv)[1],
                                           grad_of(bt)), GRAD_TOL, "grad")
        gx = m.input_grad()
        expect(what + " input grad", rel_err(gx, grad_of(xt)), GRAD_TOL, "grad")
        for b in range(B):
            if np.any(gx[b, lengths[b]:] != 0):
                failures.append("%s: input gradient at padding steps of row %d" % (what, b))
    return steps


def run_kim(seed):
    """Embedding -> conv1d(relu, valid) -> max pooling -> output (3 classes)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    B, T, V, D, U, k, C = 6, 12, 30, 8, 10, 3, 3
    lengths = rng.integers(k, T + 1, size=B).astype(np.int32)
    ids = rng.integers(1, V, size=(B, T)).astype(np.int32)
    for b in range(B):
        ids[b, lengths[b]:] = 0
    emb = torch.nn.Embedding(V, D, padding_idx=0)
    conv_t = torch.nn.Conv1d(D, U, k)
    lin = torch.nn.Linear(U, C)
    m = S.Model(seed=seed)
    m.add("embedding", V, D, 0)
    conv = m.add("conv1d", U, k, 0)
    m.set_int(conv, S.OPT_ACTIVATION, S.ACT_RELU)
    m.add("pooling", S.POOL_MAX)
    out = m.add("output", C)
    m.param("0.embedding.weight")[0][...] = emb.weight.detach().numpy()
    m.param("%d.conv1d.weight" % conv)[0][...] = conv_t.weight.detach().numpy()
    m.param("%d.conv1d.bias" % conv)[0][...] = conv_t.bias.detach().numpy()
    m.param("%d.output.weight" % out)[0][...] = lin.weight.detach().numpy()
    m.param("%d.output.bias" % out)[0][...] = lin.bias.detach().numpy()
    feats = []
    for b in range(B):
        e = emb(torch.tensor(ids[b, :lengths[b]], dtype=torch.int64))
        y = torch.relu(conv_t(e.t().unsqueeze(0)))[0]
        feats.append(y.max(1).values)
    ref = lin(torch.stack(feats))
    dlogits = rng.uniform(-1, 1, size=(B, C)).astype(np.float32)
    (ref * torch.tensor(dlogits)).sum().backward()
    got = m.forward(ids, lengths, C, training=1)
    expect("kim cnn logits", float(np.abs(got - ref.detach().numpy()).max()), OUT_TOL, "output")
    m.zero_grad()
    m.backward(dlogits)
    for name, p in (("0.embedding.weight", emb.weight), ("1.conv1d.weight", conv_t.weight),
                    ("1.conv1d.bias", conv_t.bias), ("3.output.weight", lin.weight),
                    ("3.output.bias", lin.bias)):
        expect("kim cnn grad " + name, rel_err(m.param(name)[1], p.grad.numpy()), GRAD_TOL,
               "grad")


def configs():
    rng = np.random.default_rng(3)
    n = 0
    for same in (0, 1):
        for k in (1, 2, 3, 4, 5):
            for d in (1, 2, 3):
                if k == 1 and d > 1:
                    continue
                act = [S.ACT_NONE, S.ACT_RELU, S.ACT_TANH, S.ACT_SIGMOID][n % 4]
                n += 1
                yield dict(B=int(rng.integers(2, 7)), T=int(rng.integers(1, 13)),
                           F=int(rng.integers(1, 6)), U=int(rng.integers(1, 7)), k=k, d=d,
                           same=same, act=act)


def main():
    # torch notes that padding='same' with an even span copies the input: expected here
    warnings.filterwarnings("ignore", message="Using padding='same'")
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    n = steps = 0
    for i, cfg in enumerate(configs()):
        torch.manual_seed(200 + i)
        steps += run_config(cfg, 200 + i)
        n += 1
    run_kim(77)
    print("conv1d parity: %d configurations (%d output steps compared one by one) and Kim's CNN; "
          "max abs step error %.2e, max abs pooled output error %.2e, max relative gradient "
          "error %.2e" % (n, steps, worst["step"], worst["output"], worst["grad"]))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
