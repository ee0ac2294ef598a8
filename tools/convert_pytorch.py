#!/usr/bin/env python3
"""Convert a PyTorch state_dict to a seqcls model file.

    tools/convert_pytorch.py model.pt spec.json model.sqcl

model.pt is what torch.save(net.state_dict(), "model.pt") writes (a whole
pickled module or a checkpoint dict with a "state_dict" /
"model_state_dict" entry also works).  spec.json lists the layers in order
with the state_dict prefix of each (docs/converters.md), e.g.

    [{"embedding": "emb", "padding_idx": 0},
     {"lstm": "l1", "bidirectional": true, "return_sequences": true},
     {"attention": "bahdanau", "W1": "W1", "W2": "W2", "V": "V"},
     {"dense": "fc", "activation": "relu"}, {"dropout": 0.5}, {"output": "out"}]

Layouts are seqcls' own (nn.Embedding, nn.LSTM, nn.GRU, nn.Linear,
nn.BatchNorm1d, nn.Conv1d, nn.TransformerEncoderLayer): weights are copied
as they are; an nn.TransformerEncoder of N layers becomes N seqcls layers; a stacked
nn.LSTM/nn.GRU(num_layers=N, dropout=p) becomes N seqcls layers with, given
"layer_dropout": p, a dropout layer between each two.  --vocab, --labels,
--maxlen and --truncate save what the seqcls command needs to read raw text
with the model.  Errors exit with status 2.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seqcls_convert as SC  # noqa: E402

GATES = {"lstm": 4, "gru": 3}


class TorchReader:
    def __init__(self, arrays, path):
        self.src = SC.Source(arrays, path)

    def linear(self, prefix, bias):
        """nn.Linear: prefix.weight [out, in], prefix.bias [out] (bias True: required,
        False: must be absent, None: optional).  A bare parameter `prefix` is
        accepted as the weight when prefix.weight is absent."""
        s = self.src
        wk = prefix + ".weight"
        if not s.has(wk) and s.has(prefix):
            wk = prefix
        w = s.get(wk)
        if w.ndim == 1:
            w = w[None, :]
        if w.ndim != 2:
            raise SC.ConvertError("%s: key %r has shape %s, expected [out, in]"
                                  % (s.what, wk, w.shape))
        bk = prefix + ".bias"
        if bias is False:
            if s.has(bk):
                raise SC.ConvertError("%s: key %r present but the spec says use_bias false"
                                      % (s.what, bk))
            return w, wk, None, None
        if bias is None and not s.has(bk):
            return w, wk, None, None
        b = s.get(bk, ndim=1)
        SC.expect_shape(bk, b, (w.shape[0],))
        return w, wk, b, bk

    def embedding(self, prefix):
        key = prefix + ".weight"
        return self.src.get(key, ndim=2), key

    def conv1d(self, prefix, bias):
        """nn.Conv1d (stride 1): prefix.weight [out, in, k], prefix.bias [out]."""
        s = self.src
        wk, bk = prefix + ".weight", prefix + ".bias"
        w = s.get(wk, ndim=3)
        if bias is False:
            if s.has(bk):
                raise SC.ConvertError("%s: key %r present but the spec says use_bias false"
                                      % (s.what, bk))
            return w, wk, None, None
        b = s.get(bk, ndim=1)
        SC.expect_shape(bk, b, (w.shape[0],))
        return w, wk, b, bk

    def batchnorm(self, prefix, center, scale):
        s = self.src
        mean = s.get(prefix + ".running_mean", ndim=1)
        var = s.get(prefix + ".running_var", ndim=1)
        SC.expect_shape(prefix + ".running_var", var, mean.shape)
        out = {"running_mean": (mean, prefix + ".running_mean"),
               "running_var": (var, prefix + ".running_var")}
        for suffix, flag, fill in (("weight", scale, 1.0), ("bias", center, 0.0)):
            key = "%s.%s" % (prefix, suffix)
            if flag:
                a = s.get(key, ndim=1)
                SC.expect_shape(key, a, mean.shape)
                out[suffix] = (a, key)
            else:
                out[suffix] = (np_full(mean.shape, fill), key + " (affine=False)")
        if s.has(prefix + ".num_batches_tracked"):
            s.used.add(prefix + ".num_batches_tracked")
        return out

    def batchnorm_options(self, entry):
        # PyTorch's conventions are seqcls' own
        return {"momentum": entry.get("momentum"), "epsilon": entry.get("epsilon")}

    def rnn(self, entry):
        s, p, kind = self.src, entry.value, entry.kind
        G = GATES[kind]
        if entry.get("reset_after", True) is not True:
            raise SC.ConvertError("%s: PyTorch's nn.GRU is reset_after=True only" % entry.where())
        pat = re.compile(re.escape(p) + r"\.weight_ih_l(\d+)$")
        found = sorted(int(m.group(1)) for m in map(pat.match, s.arrays) if m)
        if not found:
            s.get(p + ".weight_ih_l0")   # the missing-key error
        n = entry.get("num_layers", len(found))
        if found != list(range(len(found))) or n != len(found):
            raise SC.ConvertError("%s: %s has layers %s of weight_ih_l*, spec num_layers %r"
                                  % (s.what, p, found, n))
        bi_found = s.has(p + ".weight_ih_l0_reverse")
        bi = entry.get("bidirectional", bi_found)
        if bool(bi) != bi_found:
            raise SC.ConvertError("%s: spec says bidirectional %s but key %r is %s"
                                  % (s.what, str(bool(bi)).lower(), p + ".weight_ih_l0_reverse",
                                     "present" if bi_found else "missing"))
        use_bias = entry.get("use_bias", True)
        stack = []
        for k in range(n):
            params = {}
            hidden = None
            for sfx in ("_l%d" % k, "_l%d_reverse" % k) if bi else ("_l%d" % k,):
                whh_k = p + ".weight_hh" + sfx
                whh = s.get(whh_k, ndim=2)
                H = whh.shape[1]
                SC.expect_shape(whh_k, whh, (G * H, H))
                if hidden is not None and H != hidden:
                    raise SC.ConvertError("%s: key %r has hidden size %d, not %d"
                                          % (s.what, whh_k, H, hidden))
                hidden = H
                wih_k = p + ".weight_ih" + sfx
                wih = s.get(wih_k, ndim=2)
                if wih.shape[0] != G * H:
                    raise SC.ConvertError("key %r has shape %s, expected [%d, in]"
                                          % (wih_k, tuple(wih.shape), G * H))
                params["weight_ih" + sfx] = (wih, wih_k)
                params["weight_hh" + sfx] = (whh, whh_k)
                for b in ("bias_ih", "bias_hh"):
                    bk = p + "." + b + sfx
                    if use_bias:
                        a = s.get(bk, ndim=1)
                        SC.expect_shape(bk, a, (G * H,))
                    else:
                        a, bk = np_full((G * H,), 0.0), bk + " (bias=False)"
                    params[b + sfx] = (a, bk)
            stack.append((bool(bi), True, hidden, renumber(params, k)))
        return stack


    # nn.TransformerEncoderLayer's keys under a layer's prefix, with their
    # shapes in terms of d (d_model) and f (dim_feedforward)
    TRANSFORMER_KEYS = (("self_attn.in_proj_weight", "3d d"), ("self_attn.in_proj_bias", "3d"),
                        ("self_attn.out_proj.weight", "d d"), ("self_attn.out_proj.bias", "d"),
                        ("linear1.weight", "f d"), ("linear1.bias", "f"),
                        ("linear2.weight", "d f"), ("linear2.bias", "d"),
                        ("norm1.weight", "d"), ("norm1.bias", "d"),
                        ("norm2.weight", "d"), ("norm2.bias", "d"))

    def transformer(self, entry):
        """nn.TransformerEncoder (prefix.layers.K.*) or one
        nn.TransformerEncoderLayer (prefix.*): [(dim_feedforward, {suffix:
        (array, key)})], one per layer."""
        s, p = self.src, entry.value
        pat = re.compile(re.escape(p) + r"\.layers\.(\d+)\.self_attn\.in_proj_weight$")
        found = sorted(int(m.group(1)) for m in map(pat.match, s.arrays) if m)
        if found:
            prefixes = ["%s.layers.%d." % (p, k) for k in found]
            if found != list(range(len(found))):
                raise SC.ConvertError("%s: %s has layers %s, not 0..%d"
                                      % (s.what, p, found, len(found) - 1))
            if s.has(p + ".norm.weight"):
                raise SC.ConvertError(
                    "%s: %s ends with a LayerNorm (nn.TransformerEncoder(norm=...), key %r), "
                    "which seqcls has no layer for" % (s.what, p, p + ".norm.weight"))
        elif s.has(p + ".self_attn.in_proj_weight"):
            prefixes = [p + "."]
        else:
            if s.has(p + ".self_attn.q_proj_weight") or s.has(p + ".layers.0.self_attn.q_proj_weight"):
                raise SC.ConvertError("%s: %s has separate q/k/v projections (kdim or vdim "
                                      "unlike d_model): seqcls' self-attention has one in_proj"
                                      % (s.what, p))
            s.get(p + ".layers.0.self_attn.in_proj_weight")   # the missing-key error
        n = entry.get("num_layers", len(prefixes))
        if n != len(prefixes):
            raise SC.ConvertError("%s: %s has %d encoder layer(s), spec num_layers %r"
                                  % (s.what, p, len(prefixes), n))
        heads, stack = entry.get("heads"), []
        for q in prefixes:
            w = s.get(q + "self_attn.in_proj_weight", ndim=2)
            d = w.shape[1]
            if d % heads:
                raise SC.ConvertError("%s: heads %d does not divide d_model %d (key %r)"
                                      % (entry.where(), heads, d, q + "self_attn.in_proj_weight"))
            f = s.get(q + "linear1.weight", ndim=2).shape[0]
            dims = {"d": d, "3d": 3 * d, "f": f}
            params = {}
            for suffix, shape in self.TRANSFORMER_KEYS:
                a = s.get(q + suffix)
                SC.expect_shape(q + suffix, a, tuple(dims[x] for x in shape.split()))
                params[suffix] = (a, q + suffix)
            stack.append((f, params))
        return stack


def renumber(params, k):
    """Layer k of a stacked nn.LSTM becomes its own seqcls layer: _lk -> _l0."""
    return {name.replace("_l%d" % k, "_l0"): v for name, v in params.items()}


def np_full(shape, value):
    import numpy as np
    return np.full(shape, value, np.float32)


def load(path):
    try:
        import torch
    except ImportError:
        raise SC.ConvertError("PyTorch (torch) is needed to read %s" % path) from None
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as exc:   # pickle, zip and I/O errors all end here
        raise SC.ConvertError("cannot read %s: %s" % (path, exc)) from None
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
        for k in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise SC.ConvertError("%s: not a state_dict (a %s)" % (path, type(obj).__name__))
    arrays = {}
    for k, v in obj.items():
        if torch.is_tensor(v):
            arrays[str(k)] = v.detach().cpu().float().numpy() if v.is_floating_point() \
                else v.detach().cpu().numpy()
    return TorchReader(arrays, path)


def main(argv=None):
    return SC.main(argv, "convert_pytorch", "Convert a PyTorch state_dict to a seqcls model.",
                   load, ignore_unused=(".num_batches_tracked",))


if __name__ == "__main__":
    sys.exit(main())
