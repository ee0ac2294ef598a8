"""Parity of seqcls' LSTM and GRU layers with PyTorch (and with a numpy
reference of the equations PyTorch lacks: Keras' GRU reset_after=False
and the hard-sigmoid / relu recurrent activations).  The merge modes ave
and mul, which PyTorch lacks, are applied to its two directions as Keras
does.  seqcls_final_states is compared with (h_n, c_n) of a two-layer
module, and recurrent dropout with the numpy reference under each mask.

For each configuration the same weights go into a seqcls model
    input -> rnn [-> rnn] [-> pooling] -> output(D, identity weights)
and into the same graph of torch modules over packed sequences, so the
logits are the recurrent features themselves.  Outputs must agree to
1e-5 (absolute), gradients of every recurrent weight and of the input
to 1e-4 (relative to the largest element of the tensor).

Run by `make check` (mk/rnn.mk).  A missing torch is a failure.
"""
import itertools
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqcls_ctypes as S

# the bidirectional merge modes (cfg["sum"]: None = concatenation); PyTorch has
# none, so they are applied to its two directions' outputs as Keras does
MERGES = {"sum": lambda f, b: f + b, "ave": lambda f, b: (f + b) / 2, "mul": lambda f, b: f * b}
MERGE_FLAGS = {None: 0, "sum": S.MERGE_SUM, "ave": S.MERGE_AVE, "mul": S.MERGE_MUL}

OUT_TOL = 1e-5
GRAD_TOL = 1e-4
worst = {"output": 0.0, "grad": 0.0, "numpy": 0.0}
failures = []


def rel_err(a, b):
    scale = max(float(np.abs(b).max()), 1e-6)
    return float(np.abs(a - b).max()) / scale


def expect(what, err, tol, kind):
    worst[kind] = max(worst[kind], err)
    if not err <= tol:
        failures.append("%s: error %.3g > %.0e" % (what, err, tol))


def torch_graph(cfg, mods, x, lengths):
    """The torch equivalent of the seqcls model: features [B, D]."""
    T = x.shape[1]
    lens = torch.tensor(lengths, dtype=torch.int64)
    h = x
    for li, mod in enumerate(mods):
        last = li == len(mods) - 1
        packed = pack_padded_sequence(h, lens, batch_first=True, enforce_sorted=False)
        out, hn = mod(packed)
        if cfg["kind"] == "lstm":
            hn = hn[0]
        seq, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        H = cfg["hidden"][li]
        if cfg["bi"] and cfg["sum"]:
            seq = MERGES[cfg["sum"]](seq[..., :H], seq[..., H:])
        if last and not cfg["seq"]:
            if not cfg["bi"]:
                return hn[0]
            return MERGES[cfg["sum"]](hn[0], hn[1]) if cfg["sum"] else torch.cat((hn[0], hn[1]), 1)
        h = seq
    # pooling over the valid steps of the last layer's sequence
    mask = (torch.arange(T)[None, :] < lens[:, None]).unsqueeze(2)
    if cfg["pool"] == S.POOL_LAST:
        return h[torch.arange(h.shape[0]), lens - 1]
    if cfg["pool"] == S.POOL_MEAN:
        return h.sum(1) / lens[:, None].to(h.dtype)
    return h.masked_fill(~mask, float("-inf")).max(1).values


def build(cfg, F, mods):
    m = S.Model(seed=7)
    m.add("input", F)
    layers = []
    for li, H in enumerate(cfg["hidden"]):
        last = li == len(cfg["hidden"]) - 1
        flags = 0
        if cfg["bi"]:
            flags |= S.BIDIRECTIONAL | MERGE_FLAGS[cfg["sum"]]
        if not last or cfg["seq"]:
            flags |= S.RETURN_SEQUENCES
        layers.append(m.add(cfg["kind"], H, flags))
    if cfg["seq"]:
        m.add("pooling", cfg["pool"])
    D = cfg["hidden"][-1] * (2 if cfg["bi"] and not cfg["sum"] else 1)
    out = m.add("output", D)
    w, b = m.param("%d.output.weight" % out)[0], m.param("%d.output.bias" % out)[0]
    w[...] = np.eye(D, dtype=np.float32)
    b[...] = 0
    for layer, mod in zip(layers, mods):
        for name, p in mod.named_parameters():
            m.param("%d.%s.%s" % (layer, cfg["kind"], name))[0][...] = p.detach().numpy()
    return m, layers, D


def run_torch_parity(cfg, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    B, T, F = cfg["B"], cfg["T"], cfg["F"]
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T            # at least one full-length row
    mods, in_f = [], F
    cls = torch.nn.LSTM if cfg["kind"] == "lstm" else torch.nn.GRU
    for H in cfg["hidden"]:
        mods.append(cls(in_f, H, batch_first=True, bidirectional=bool(cfg["bi"])))
        in_f = H * (2 if cfg["bi"] and not cfg["sum"] else 1)
    x = rng.uniform(-1, 1, size=(B, T, F)).astype(np.float32)
    for b in range(B):
        x[b, lengths[b]:] = 0
    m, layers, D = build(cfg, F, mods)

    xt = torch.tensor(x, requires_grad=True)
    ref = torch_graph(cfg, mods, xt, lengths)
    dlogits = rng.uniform(-1, 1, size=(B, D)).astype(np.float32)
    (ref * torch.tensor(dlogits)).sum().backward()

    name = "%s H=%s bi=%d merge=%s seq=%d pool=%d" % (
        cfg["kind"], cfg["hidden"], cfg["bi"], cfg["sum"] or "concat", cfg["seq"], cfg["pool"])
    # garbage at padding steps must not matter
    xs = x.copy()
    for b in range(B):
        xs[b, lengths[b]:] = 1e3
    logits = m.forward(xs, lengths, D, training=1)
    expect(name + " output", float(np.abs(logits - ref.detach().numpy()).max()), OUT_TOL,
           "output")
    m.zero_grad()
    m.backward(dlogits)
    for layer, mod in zip(layers, mods):
        for pname, p in mod.named_parameters():
            g = m.param("%d.%s.%s" % (layer, cfg["kind"], pname))[1]
            expect("%s grad %d.%s" % (name, layer, pname), rel_err(g, p.grad.numpy()), GRAD_TOL,
                   "grad")
    expect(name + " input grad", rel_err(m.input_grad(), xt.grad.numpy()), GRAD_TOL, "grad")
    # inference through seqcls_predict (fresh workspace): softmax of the same logits
    probs = m.predict(xs, lengths, D)
    expect(name + " predict", float(np.abs(probs - torch.softmax(ref, 1).detach().numpy()).max()),
           OUT_TOL, "output")


def torch_configs():
    rng = np.random.default_rng(1)
    pools = itertools.cycle([S.POOL_LAST, S.POOL_MEAN, S.POOL_MAX])
    for kind, nl, (bi, sm), seq in itertools.product(
            ("lstm", "gru"), (1, 2), ((0, None), (1, None), (1, "sum"), (1, "ave"), (1, "mul")),
            (0, 1)):
        yield dict(kind=kind, bi=bi, sum=sm, seq=seq, pool=next(pools),
                   hidden=[int(h) for h in rng.integers(2, 9, size=nl)],
                   B=int(rng.integers(3, 8)), T=int(rng.integers(2, 9)),
                   F=int(rng.integers(1, 6)))


def run_final_states(kind, bi, seed):
    """seqcls_final_states against (h_n, c_n) of a 2-layer torch module over a
    packed batch, after a training and an inference forward."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    B, T, F, H = 7, 6, 3, 4
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    dirs = 2 if bi else 1
    width = H * dirs
    mod = cls(F, H, num_layers=2, batch_first=True, bidirectional=bool(bi))
    x = rng.uniform(-1, 1, size=(B, T, F)).astype(np.float32)
    m = S.Model(seed=3)
    m.add("input", F)
    flags = S.BIDIRECTIONAL if bi else 0
    layers = [m.add(kind, H, flags | S.RETURN_SEQUENCES), m.add(kind, H, flags)]
    m.add("output", width)
    for li, layer in enumerate(layers):
        for d in range(dirs):
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                sfx = "_reverse" if d else ""
                m.param("%d.%s.%s_l0%s" % (layer, kind, n, sfx))[0][...] = \
                    getattr(mod, "%s_l%d%s" % (n, li, sfx)).detach().numpy()
    packed = pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True,
                                  enforce_sorted=False)
    with torch.no_grad():
        _, st = mod(packed)
    hn, cn = (st if kind == "lstm" else (st, None))
    n = 0
    for training in (1, 0):
        m.forward(x, lengths, width, training=training)
        for li, layer in enumerate(layers):
            h, c = m.final_states(layer, B, dirs * H, cell=kind == "lstm")
            want_h = torch.cat([hn[2 * li + d] if bi else hn[li] for d in range(dirs)], 1)
            what = "final states %s bi=%d layer %d training=%d" % (kind, bi, li, training)
            expect(what + " h", float(np.abs(h - want_h.numpy()).max()), OUT_TOL, "output")
            if kind == "lstm":
                want_c = torch.cat([cn[2 * li + d] if bi else cn[li] for d in range(dirs)], 1)
                expect(what + " c", float(np.abs(c - want_c.numpy()).max()), OUT_TOL, "output")
            n += 1
    return n


# ---- numpy reference of the equations, for what torch does not have ----

def np_act(act, x):
    if act == S.ACT_SIGMOID:
        return 1 / (1 + np.exp(-x))
    if act == S.ACT_HARD_SIGMOID:
        return np.clip(0.2 * x + 0.5, 0, 1)
    return np.maximum(x, 0)


def np_cell(kind, reset_before, act, W, U, bw, bu, x, h, c, mask=1.0):
    """One step; `mask` is the recurrent dropout mask on h where it enters
    the products (not the cell state, not the GRU's z * h)."""
    H = h.shape[0]
    hm = h * mask
    if kind == "lstm":
        z = W @ x + bw + U @ hm + bu
        i, f, g, o = (z[k * H:(k + 1) * H] for k in range(4))
        c = np_act(act, f) * c + np_act(act, i) * np.tanh(g)
        return np_act(act, o) * np.tanh(c), c
    gx = W @ x + bw
    r = np_act(act, gx[:H] + U[:H] @ hm + bu[:H])
    z = np_act(act, gx[H:2 * H] + U[H:2 * H] @ hm + bu[H:2 * H])
    if reset_before:   # Keras reset_after=False
        n = np.tanh(gx[2 * H:] + U[2 * H:] @ (r * hm) + bu[2 * H:])
    else:
        n = np.tanh(gx[2 * H:] + r * (U[2 * H:] @ hm + bu[2 * H:]))
    return (1 - z) * n + z * h, c


def run_recurrent_dropout(kind, reset_before, bi, seed):
    """Recurrent dropout at rate 1/2 draws masks of 0 and 2 per sequence,
    unit and direction: every row's final states (h, and c for the LSTM)
    must be those of the numpy reference under one of the four masks of
    H = 2 units, and every mask must turn up among 160 equal rows."""
    rng = np.random.default_rng(seed)
    B, T, F, H = 160, 4, 3, 2
    x1 = rng.uniform(-1, 1, size=(T, F)).astype(np.float32)
    x = np.repeat(x1[None], B, axis=0)
    lengths = np.full(B, T, dtype=np.int32)
    m = S.Model(seed=seed)
    m.add("input", F)
    flags = (S.BIDIRECTIONAL if bi else 0) | (S.GRU_RESET_BEFORE if reset_before else 0)
    layer = m.add(kind, H, flags)
    m.set_float(layer, S.OPT_RECURRENT_DROPOUT, 0.5)
    dirs = 2 if bi else 1
    m.add("output", dirs * H)
    m.forward(x, lengths, dirs * H, training=1)
    h, c = m.final_states(layer, B, dirs * H, cell=kind == "lstm")
    masks = [np.array(mk, np.float64) for mk in ((0, 0), (0, 2), (2, 0), (2, 2))]
    name = "recurrent dropout %s reset_before=%d bi=%d" % (kind, reset_before, bi)
    for d in range(dirs):
        sfx = "_reverse" if d else ""
        W, U, bw, bu = (m.param("%d.%s.%s%s" % (layer, kind, n, sfx))[0].astype(np.float64)
                        for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
        refs = []
        for mk in masks:
            hh, cc = np.zeros(H), np.zeros(H)
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                hh, cc = np_cell(kind, reset_before, S.ACT_SIGMOID, W, U, bw, bu,
                                 x1[t].astype(np.float64), hh, cc, mk)
            refs.append(np.concatenate((hh, cc)))
        seen = set()
        for b in range(B):
            got = np.concatenate((h[b, d * H:(d + 1) * H],
                                  c[b, d * H:(d + 1) * H] if c is not None else np.zeros(H)))
            errs = [float(np.abs(got - r).max()) for r in refs]
            k = int(np.argmin(errs))
            expect("%s row %d direction %d" % (name, b, d), errs[k], OUT_TOL, "numpy")
            seen.add(k)
        if len(seen) != 4:
            failures.append("%s direction %d: masks seen %s of 4" % (name, d, sorted(seen)))
    # inference: no dropout
    m.forward(x, lengths, dirs * H, training=0)
    h, c = m.final_states(layer, B, dirs * H, cell=kind == "lstm")
    expect(name + " inference", float(np.abs(h - h[0]).max()), 0, "numpy")
    return 1


def run_numpy_parity(kind, reset_before, act, bi, seed):
    rng = np.random.default_rng(seed)
    B, T, F, H = 5, 6, 3, 4
    lengths = np.array([6, 2, 0, 5, 1], dtype=np.int32)
    x = rng.uniform(-1, 1, size=(B, T, F)).astype(np.float32)
    m = S.Model(seed=seed)
    m.add("input", F)
    flags = (S.BIDIRECTIONAL if bi else 0) | (S.GRU_RESET_BEFORE if reset_before else 0)
    layer = m.add(kind, H, flags)
    m.set_int(layer, S.OPT_RECURRENT_ACTIVATION, act)
    D = H * (2 if bi else 1)
    out = m.add("output", D)
    m.param("%d.output.weight" % out)[0][...] = np.eye(D, dtype=np.float32)
    m.param("%d.output.bias" % out)[0][...] = 0
    logits = m.forward(x, lengths, D, training=0)
    G = 4 if kind == "lstm" else 3
    ref = np.zeros((B, D))
    for d in range(2 if bi else 1):
        sfx = "_reverse" if d else ""
        W, U, bw, bu = (m.param("%d.%s.%s%s" % (layer, kind, n, sfx))[0].astype(np.float64)
                        for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
        assert W.shape == (G * H, F)
        for b in range(B):
            h, c = np.zeros(H), np.zeros(H)
            steps = range(lengths[b]) if d == 0 else range(lengths[b] - 1, -1, -1)
            for t in steps:
                h, c = np_cell(kind, reset_before, act, W, U, bw, bu, x[b, t].astype(np.float64),
                               h, c)
            ref[b, d * H:(d + 1) * H] = h
    name = "numpy %s reset_before=%d act=%d bi=%d" % (kind, reset_before, act, bi)
    expect(name, float(np.abs(logits - ref).max() / max(1.0, np.abs(ref).max())), OUT_TOL,
           "numpy")


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    n = 0
    for i, cfg in enumerate(torch_configs()):
        run_torch_parity(cfg, 100 + i)
        n += 1
    states = 0
    for i, (kind, bi) in enumerate(itertools.product(("lstm", "gru"), (0, 1))):
        states += run_final_states(kind, bi, 300 + i)
    seed = 500
    for kind, rb in (("lstm", 0), ("gru", 0), ("gru", 1)):
        for act in (S.ACT_SIGMOID, S.ACT_HARD_SIGMOID, S.ACT_RELU):
            for bi in (0, 1):
                run_numpy_parity(kind, rb, act, bi, seed)
                seed += 1
                n += 1
    drops = 0
    for kind, rb in (("lstm", 0), ("gru", 0), ("gru", 1)):
        for bi in (0, 1):
            drops += run_recurrent_dropout(kind, rb, bi, seed)
            seed += 1
    print("rnn parity: %d configurations, %d final states (h_n, c_n), %d recurrent-dropout "
          "references; max abs output error %.2e, max relative gradient error %.2e, max "
          "numpy-reference error %.2e"
          % (n, states, drops, worst["output"], worst["grad"], worst["numpy"]))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
