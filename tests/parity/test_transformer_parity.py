"""Parity with PyTorch 1.13 for the transformer layers:

- random stacks of 1-3 nn.TransformerEncoderLayer(batch_first=True), both
  norm orders, relu and gelu, odd and even head counts, ragged lengths
  with src_key_padding_mask, dropout 0: the outputs at every valid step to
  1e-5, the gradients of every parameter and of the input to 1e-4
  (relative to the largest value of each tensor), with PyTorch's standard
  path (eval mode with gradients enabled, which keeps the fast path off);
- the same outputs against PyTorch's eval fast path (nested tensors,
  torch.no_grad, nn.TransformerEncoder with even head counts);
- the self-attention weights of one layer against MultiheadAttention's
  per-head weights;
- the sinusoidal encoding against the PyTorch tutorial's
  PositionalEncoding (float32, as the tutorial computes it), with and
  without scaling the input by sqrt(d); the learned encoding against an
  nn.Embedding of the positions, values and gradients;
- a whole classifier: Embedding -> sinusoidal encoding -> 2 encoder
  layers -> masked mean -> Linear, logits and every gradient.

seqcls exposes no per-step output, so the outputs are read through a probe
model: the stack, pooling SEQCLS_POOL_FIRST and an output layer holding
the identity.  Without positions an encoder is permutation-equivariant
over a row's valid steps, so the output at step t of a row is the first
output of the same row rotated to start at t (the padding filled with
garbage, which must change nothing).  A missing torch is a failure, not a
skip.
"""
import ctypes as C
import math
import sys
import warnings

import numpy as np
import torch
from torch import nn

import seqcls_ctypes as S

warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")

_p = C.c_void_p
_intp = C.POINTER(C.c_int)
S._decl("seqcls_add_transformer_encoder", C.c_int, _p, C.c_int, C.c_int, C.c_uint, _intp)
S._decl("seqcls_add_positional_encoding", C.c_int, _p, C.c_int, C.c_int, _intp)
S._decl("seqcls_self_attention_weights", C.c_int, _p, C.c_int, _p)

NORM_FIRST = 0x10
POOL_FIRST = 4
ACT_GELU = 5
POS_SINUSOIDAL, POS_LEARNED = 1, 2
OPT_ACTIVATION, OPT_DROPOUT, OPT_LN_EPSILON, OPT_SCALE_INPUT = 9, 12, 15, 17

worst = {"out": 0.0, "fast": 0.0, "grad": 0.0, "logit": 0.0, "attn": 0.0, "pos": 0.0,
         "posgrad": 0.0, "clf": 0.0, "clfgrad": 0.0}


def note(key, value):
    worst[key] = max(worst[key], float(value))


def rel_err(got, ref):
    return np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-3)


def lengths_for(rng, B, T):
    """Ragged lengths in [1, T] with a row of length 1 and one of T."""
    lens = rng.integers(1, T + 1, size=B).astype(np.int32)
    lens[0] = T
    lens[1] = 1
    return lens


def key_padding_mask(lens, T):
    return torch.arange(T).unsqueeze(0) >= torch.from_numpy(lens).long().unsqueeze(1)


class Stack:
    """A list of (heads, ff, norm_first, activation, eps) layer settings, as
    PyTorch layers and as seqcls layers with the same weights."""

    def __init__(self, d, specs, seed):
        torch.manual_seed(seed)
        self.d = d
        self.specs = specs
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(d, h, ff, dropout=0.0, activation=act, layer_norm_eps=eps,
                                       batch_first=True, norm_first=nf)
            for (h, ff, nf, act, eps) in specs])
        # non-trivial norms and biases
        with torch.no_grad():
            for layer in self.layers:
                for norm in (layer.norm1, layer.norm2):
                    norm.weight.uniform_(0.5, 1.5)
                    norm.bias.uniform_(-0.3, 0.3)
                layer.self_attn.in_proj_bias.uniform_(-0.2, 0.2)
                layer.self_attn.out_proj.bias.uniform_(-0.2, 0.2)

    def torch_forward(self, x, mask):
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=mask)
        return x

    def add_to(self, m, first_index):
        for i, ((h, ff, nf, act, eps), layer) in enumerate(zip(self.specs, self.layers)):
            idx = m.add("transformer_encoder", h, ff, NORM_FIRST if nf else 0)
            assert idx == first_index + i
            m.set_float(idx, OPT_DROPOUT, 0.0)
            if act == "gelu":
                m.set_int(idx, OPT_ACTIVATION, ACT_GELU)
            if eps != 1e-5:
                m.set_float(idx, OPT_LN_EPSILON, eps)
            for name, value in layer.state_dict().items():
                v, _ = m.param("%d.transformer.%s" % (idx, name))
                assert v.shape == tuple(value.shape), (name, v.shape, value.shape)
                v[...] = value.numpy()

    def grads_match(self, m, first_index):
        err = 0.0
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                _, g = m.param("%d.transformer.%s" % (first_index + i, name))
                err = max(err, rel_err(g, p.grad.numpy()))
        return err


def probe_model(stack):
    """input -> stack -> pooling FIRST -> output(d) = identity."""
    d = stack.d
    m = S.Model(7)
    m.add("input", d)
    stack.add_to(m, 1)
    m.add("pooling", POOL_FIRST)
    out = m.add("output", d)
    w, _ = m.param("%d.output.weight" % out)
    b, _ = m.param("%d.output.bias" % out)
    w[...] = np.eye(d, dtype=np.float32)
    b[...] = 0
    return m


def probe_outputs(m, x, lens, rng):
    """seqcls's outputs at every valid step, [sum(lens), d] in (row, step) order."""
    B, T, d = x.shape
    rows, plen = [], []
    for b in range(B):
        n = int(lens[b])
        for t in range(n):
            r = rng.standard_normal((T, d)).astype(np.float32) * 5   # garbage at padding
            r[:n] = np.roll(x[b, :n], -t, axis=0)
            rows.append(r)
            plen.append(n)
    probe = np.ascontiguousarray(np.stack(rows))
    return m.forward(probe, np.array(plen, dtype=np.int32), d, training=0)


def valid_steps(y, lens):
    return np.concatenate([y[b, :int(n)] for b, n in enumerate(lens)])


def random_specs(rng, d, nl):
    heads = [h for h in (1, 2, 3, 4) if d % h == 0]
    return [(int(rng.choice(heads)), int(rng.choice([8, 24, 40, 52])), bool(rng.integers(2)),
             str(rng.choice(["relu", "gelu"])), float(rng.choice([1e-5, 1e-3]))) for _ in range(nl)]


def check_stack(seed):
    rng = np.random.default_rng(seed)
    # widths and lengths below and above the kernels' blocks of 16
    d = int(rng.choice([8, 12, 16, 20, 24]))
    nl = int(rng.integers(1, 4))
    specs = random_specs(rng, d, nl)
    B, T = int(rng.integers(3, 6)), int(rng.integers(5, 21))
    stack = Stack(d, specs, seed)
    lens = lengths_for(rng, B, T)
    x = rng.standard_normal((B, T, d)).astype(np.float32)
    mask = key_padding_mask(lens, T)

    # outputs at valid steps, PyTorch's standard path (eval, grad enabled)
    stack.layers.eval()
    y = stack.torch_forward(torch.from_numpy(x), mask).detach().numpy()
    ref = valid_steps(y, lens)
    got = probe_outputs(probe_model(stack), x, lens, rng)
    note("out", np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))

    # gradients: stack -> masked mean -> Linear(3), objective sum(r * logits)
    torch.manual_seed(seed + 1)
    head = nn.Linear(d, 3)
    xt = torch.from_numpy(x).requires_grad_(True)
    stack.layers.train()
    yt = stack.torch_forward(xt, mask)
    keep = (~mask).float().unsqueeze(-1)
    pooled = (yt * keep).sum(1) / keep.sum(1)
    logits = head(pooled)
    r = rng.standard_normal((B, 3)).astype(np.float32)
    (logits * torch.from_numpy(r)).sum().backward()

    m = S.Model(8)
    m.add("input", d)
    stack.add_to(m, 1)
    m.add("pooling", S.POOL_MEAN)
    out = m.add("output", 3)
    for name in ("weight", "bias"):
        v, _ = m.param("%d.output.%s" % (out, name))
        v[...] = getattr(head, name).detach().numpy()
    m.zero_grad()
    sl = m.forward(x, lens, 3, training=1)
    note("logit", np.abs(sl - logits.detach().numpy()).max())
    m.backward(r)
    err = stack.grads_match(m, 1)
    for name in ("weight", "bias"):
        _, g = m.param("%d.output.%s" % (out, name))
        err = max(err, rel_err(g, getattr(head, name).grad.numpy()))
    gx = m.input_grad()
    err = max(err, rel_err(gx, xt.grad.numpy()))
    for b in range(B):
        assert not gx[b, lens[b]:].any(), "input gradient at padding"
    note("grad", err)
    return d, nl


def check_fast_path(seed):
    """nn.TransformerEncoder in eval mode under no_grad: the nested-tensor fast path."""
    rng = np.random.default_rng(seed)
    d, heads, ff = 20, 2 * int(rng.integers(1, 3)), 36
    act = str(rng.choice(["relu", "gelu"]))
    B, T = 5, 19
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.1, activation=act, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).eval()
    stack = Stack(d, [(heads, ff, False, act, 1e-5)] * 2, seed)
    stack.layers = enc.layers
    lens = lengths_for(rng, B, T)
    x = rng.standard_normal((B, T, d)).astype(np.float32)
    mask = key_padding_mask(lens, T)
    with torch.no_grad():
        y = enc(torch.from_numpy(x), src_key_padding_mask=mask).numpy()
    # the nested path leaves zeros at padding, the standard path does not
    assert all(not y[b, lens[b]:].any() for b in range(B)), "the fast path was not taken"
    ref = valid_steps(y, lens)
    got = probe_outputs(probe_model(stack), x, lens, rng)
    note("fast", np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def check_attention_weights(seed):
    rng = np.random.default_rng(seed)
    d, B, T = 12, 4, 7
    for nf in (False, True):
        stack = Stack(d, [(3, 16, nf, "relu", 1e-5)], seed)
        lens = lengths_for(rng, B, T)
        x = rng.standard_normal((B, T, d)).astype(np.float32)
        mask = key_padding_mask(lens, T)
        layer = stack.layers[0].eval()
        with torch.no_grad():
            src = layer.norm1(torch.from_numpy(x)) if nf else torch.from_numpy(x)
            _, w = layer.self_attn(src, src, src, key_padding_mask=mask, need_weights=True,
                                   average_attn_weights=False)
        w = w.numpy()
        m = probe_model(stack)
        m.forward(x, lens, d, training=0)
        out = S.Tensor(np.zeros((B, 3, T, T), dtype=np.float32))
        S.check(S.lib.seqcls_self_attention_weights(m.ptr, 1, out.ptr))
        got = out.array
        for b in range(B):
            n = lens[b]
            note("attn", np.abs(got[b, :, :n, :n] - w[b, :, :n, :n]).max())
            assert not got[b, :, n:].any() and not got[b, :, :, n:].any()


class PositionalEncoding(nn.Module):
    """The PyTorch tutorial's (batch first, without its dropout)."""

    def __init__(self, d_model, max_len):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(1)]


def positional_probe(kind, d, max_len, scale):
    m = S.Model(3)
    m.add("input", d)
    idx = m.add("positional_encoding", kind, max_len)
    if scale:
        m.set_int(idx, OPT_SCALE_INPUT, 1)
    m.add("pooling", S.POOL_LAST)
    out = m.add("output", d)
    w, _ = m.param("%d.output.weight" % out)
    w[...] = np.eye(d, dtype=np.float32)
    b, _ = m.param("%d.output.bias" % out)
    b[...] = 0
    return m


def check_positional(seed):
    rng = np.random.default_rng(seed)
    for d, max_len, T in ((16, 80, 80), (7, 30, 12), (64, 300, 256)):
        pe = PositionalEncoding(d, max_len)
        x = rng.standard_normal((1, T, d)).astype(np.float32)
        for scale in (0, 1):
            xs = torch.from_numpy(x) * math.sqrt(d) if scale else torch.from_numpy(x)
            ref = pe(xs)[0].numpy()
            # row t: x with length t + 1, pooled at its last step
            probe = np.repeat(x, T, axis=0)
            lens = np.arange(1, T + 1, dtype=np.int32)
            got = positional_probe(POS_SINUSOIDAL, d, max_len, scale).forward(probe, lens, d, 0)
            note("pos", np.abs(got - ref).max())

        # learned: values and the gradient of the table
        emb = nn.Embedding(max_len, d)
        m = positional_probe(POS_LEARNED, d, max_len, 0)
        v, g = m.param("1.positional.weight")
        v[...] = emb.weight.detach().numpy()
        xt = torch.from_numpy(x)
        y = xt + emb(torch.arange(T)).unsqueeze(0)
        lens = np.arange(1, T + 1, dtype=np.int32)
        got = m.forward(np.repeat(x, T, axis=0), lens, d, 0)
        note("pos", np.abs(got - y[0].detach().numpy()).max())
        B = 4
        xb = rng.standard_normal((B, T, d)).astype(np.float32)
        lens = lengths_for(rng, B, T)
        yb = torch.from_numpy(xb) + emb(torch.arange(T)).unsqueeze(0)
        keep = (~key_padding_mask(lens, T)).float().unsqueeze(-1)
        r = rng.standard_normal((B, d)).astype(np.float32)
        emb.zero_grad()
        (((yb * keep).sum(1) / keep.sum(1)) * torch.from_numpy(r)).sum().backward()
        m2 = S.Model(3)
        m2.add("input", d)
        m2.add("positional_encoding", POS_LEARNED, max_len)
        m2.add("pooling", S.POOL_MEAN)
        out = m2.add("output", d)
        w2, _ = m2.param("%d.output.weight" % out)
        w2[...] = np.eye(d, dtype=np.float32)
        b2, _ = m2.param("%d.output.bias" % out)
        b2[...] = 0
        v2, g2 = m2.param("1.positional.weight")
        v2[...] = emb.weight.detach().numpy()
        m2.zero_grad()
        m2.forward(xb, lens, d, training=1)
        m2.backward(r)
        note("posgrad", rel_err(g2, emb.weight.grad.numpy()))


def check_classifier(seed):
    """Embedding(padding 0) -> sinusoidal (x sqrt d) -> 2 layers -> masked mean -> Linear(1)."""
    rng = np.random.default_rng(seed)
    vocab, d, B, T = 40, 16, 6, 11
    stack = Stack(d, [(4, 32, False, "gelu", 1e-5), (2, 24, True, "relu", 1e-5)], seed)
    torch.manual_seed(seed + 2)
    emb = nn.Embedding(vocab, d, padding_idx=0)
    pe = PositionalEncoding(d, 64)
    head = nn.Linear(d, 1)
    lens = lengths_for(rng, B, T)
    ids = rng.integers(1, vocab, size=(B, T)).astype(np.int32)
    for b in range(B):
        ids[b, lens[b]:] = 0
    mask = key_padding_mask(lens, T)
    y = stack.torch_forward(pe(emb(torch.from_numpy(ids).long()) * math.sqrt(d)), mask)
    keep = (~mask).float().unsqueeze(-1)
    logits = head((y * keep).sum(1) / keep.sum(1))
    r = rng.standard_normal((B, 1)).astype(np.float32)
    (logits * torch.from_numpy(r)).sum().backward()

    m = S.Model(9)
    m.add("embedding", vocab, d, 0)
    pos = m.add("positional_encoding", POS_SINUSOIDAL, 64)
    m.set_int(pos, OPT_SCALE_INPUT, 1)
    stack.add_to(m, 2)
    m.add("pooling", S.POOL_MEAN)
    out = m.add("output", 1)
    v, _ = m.param("0.embedding.weight")
    v[...] = emb.weight.detach().numpy()
    for name in ("weight", "bias"):
        v, _ = m.param("%d.output.%s" % (out, name))
        v[...] = getattr(head, name).detach().numpy()
    m.zero_grad()
    sl = m.forward(ids, lens, 1, training=1)
    m.backward(r)
    note("clf", np.abs(sl - logits.detach().numpy()).max())
    err = stack.grads_match(m, 2)
    _, g = m.param("0.embedding.weight")
    err = max(err, rel_err(g, emb.weight.grad.numpy()))
    for name in ("weight", "bias"):
        _, g = m.param("%d.output.%s" % (out, name))
        err = max(err, rel_err(g, getattr(head, name).grad.numpy()))
    note("clfgrad", err)


def main():
    torch.set_num_threads(1)
    shapes = []
    for i in range(16):
        shapes.append(check_stack(100 + i))
    for i in range(3):
        check_fast_path(200 + i)
    check_attention_weights(300)   # post- and pre-norm
    check_positional(400)          # 3 sizes
    check_classifier(500)
    configurations = len(shapes) + 3 + 2 + 3 + 1
    # "parity: N configurations" and one "FAIL ..." line per failure are
    # what make check counts (tools/check_count.py)
    print("transformer parity: %d configurations (random stacks, d/layers: %s); outputs at "
          "valid steps: max abs error %.2e (standard path), %.2e (eval fast path); logits "
          "%.2e; max relative gradient error %.2e; self-attention weights %.2e; positional "
          "encodings %.2e (gradient %.2e); classifier logits %.2e, gradients %.2e"
          % (configurations, " ".join("%d/%d" % s for s in shapes), worst["out"],
             worst["fast"], worst["logit"], worst["grad"], worst["attn"], worst["pos"],
             worst["posgrad"], worst["clf"], worst["clfgrad"]))
    limits = {"out": 1e-5, "fast": 1e-5, "logit": 1e-5, "grad": 1e-4, "attn": 1e-5,
              "pos": 1e-5, "posgrad": 1e-4, "clf": 1e-5, "clfgrad": 1e-4}
    bad = [k for k, v in limits.items() if not worst[k] <= v]
    for k in bad:
        print("FAIL transformer parity: %s error %.3g above %.0e" % (k, worst[k], limits[k]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
