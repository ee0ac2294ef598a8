#!/usr/bin/env python3
"""Convert Keras weights exported as an .npz to a seqcls model file.

    tools/convert_keras.py weights.npz spec.json model.sqcl

The .npz holds one array per weight, keyed "<layer name>/<weight name>"
("embedding/embeddings", "dense/kernel", "batch_normalization/moving_mean"),
with an optional cell component ("lstm/lstm_cell/kernel") and, inside a
Bidirectional layer, the direction ("bidirectional/forward_lstm/lstm_cell/
kernel", ".../backward_lstm/...").  A trailing ":0" (tf.keras variable
names) is ignored.  docs/converters.md has the full convention, the spec
format and an exporter for Keras.

Kernels are transposed (Keras kernel [in, units] -> seqcls weight [units,
in]), GRU gate blocks reordered from Keras' [z | r | h] to seqcls' [r | z | n],
an LSTM's single bias becomes bias_ih (bias_hh = 0), a GRU's bias [2, 3H]
(reset_after=True) rows bias_ih and bias_hh, a bias [3H] (reset_after=False)
bias_ih with bias_hh = 0; BatchNormalization's Keras momentum m becomes
seqcls' 1 - m and its epsilon defaults to Keras' 1e-3; a Conv1D kernel
[k, in, out] becomes weight [out, in, k].  --vocab (a word_index or a
TextVectorization vocabulary), --labels, --maxlen and --truncate save what
the seqcls command needs to read raw text with the model.  Errors exit with
status 2.  Needs only numpy.
"""
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seqcls_convert as SC  # noqa: E402

GATES = {"lstm": 4, "gru": 3}


def gru_reorder(a, H, axis):
    """Keras [z | r | h] blocks of H along `axis` -> seqcls [r | z | n]."""
    z, r, h = (np.take(a, range(k * H, (k + 1) * H), axis=axis) for k in range(3))
    return np.concatenate((r, z, h), axis=axis)


class KerasReader:
    def __init__(self, arrays, path):
        self.src = SC.Source(arrays, path)

    def find(self, prefix, weight, required=True):
        """The key "<prefix>/<weight>" or "<prefix>/<one component>/<weight>"."""
        s = self.src
        key = prefix + "/" + weight
        if s.has(key):
            return key
        pat = re.compile(re.escape(prefix) + r"/[^/]+/" + re.escape(weight) + "$")
        keys = sorted(k for k in s.arrays if pat.match(k))
        if len(keys) > 1:
            raise SC.ConvertError("%s: ambiguous: %s all match %r" % (s.what, ", ".join(keys), key))
        if keys:
            return keys[0]
        if required:
            s.get(key)   # raises the missing-key error
        return None

    def linear(self, prefix, bias):
        """Dense: kernel [in, out] -> weight [out, in], bias [out] (bias True:
        required, False: must be absent, None: optional)."""
        s = self.src
        kk = self.find(prefix, "kernel")
        k = s.get(kk, ndim=2)
        bk = self.find(prefix, "bias", required=bias is True)
        if bias is False and bk is not None:
            raise SC.ConvertError("%s: key %r present but the spec says use_bias false"
                                  % (s.what, bk))
        if bk is None:
            return np.ascontiguousarray(k.T), kk, None, None
        b = s.get(bk, ndim=1)
        SC.expect_shape(bk, b, (k.shape[1],))
        return np.ascontiguousarray(k.T), kk, b, bk

    def embedding(self, prefix):
        key = self.find(prefix, "embeddings")
        return self.src.get(key, ndim=2), key

    def conv1d(self, prefix, bias):
        """Conv1D (strides 1): kernel [k, in, out] -> weight [out, in, k], bias [out]."""
        s = self.src
        kk = self.find(prefix, "kernel")
        k = s.get(kk, ndim=3)
        bk = self.find(prefix, "bias", required=bias is True)
        if bias is False and bk is not None:
            raise SC.ConvertError("%s: key %r present but the spec says use_bias false"
                                  % (s.what, bk))
        w = np.ascontiguousarray(k.transpose(2, 1, 0))
        if bk is None:
            return w, kk, None, None
        b = s.get(bk, ndim=1)
        SC.expect_shape(bk, b, (w.shape[0],))
        return w, kk, b, bk

    def batchnorm(self, prefix, center, scale):
        s = self.src
        mk, vk = self.find(prefix, "moving_mean"), self.find(prefix, "moving_variance")
        mean, var = s.get(mk, ndim=1), s.get(vk, ndim=1)
        SC.expect_shape(vk, var, mean.shape)
        out = {"running_mean": (mean, mk), "running_var": (var, vk)}
        for suffix, flag, weight, fill in (("weight", scale, "gamma", 1.0),
                                           ("bias", center, "beta", 0.0)):
            if flag:
                key = self.find(prefix, weight)
                a = s.get(key, ndim=1)
                SC.expect_shape(key, a, mean.shape)
                out[suffix] = (a, key)
            else:
                out[suffix] = (np.full(mean.shape, fill, np.float32),
                               "%s/%s (absent: %g)" % (prefix, weight, fill))
        return out

    def batchnorm_options(self, entry):
        # Keras: moving = m * moving + (1 - m) * batch; seqcls (PyTorch): the weight of
        # the batch is the momentum.  Keras' defaults: momentum 0.99, epsilon 1e-3.
        return {"momentum": 1.0 - float(entry.get("momentum", 0.99)),
                "epsilon": float(entry.get("epsilon", 1e-3))}

    def directions(self, entry):
        """[(seqcls suffix, key prefix)] of the layer's one or two directions."""
        s, p = self.src, entry.value
        subs = sorted(set(m.group(1) for m in (re.match(re.escape(p) + r"/((forward|backward)_[^/]+)/",
                                                        k) for k in s.arrays) if m))
        fwd = [d for d in subs if d.startswith("forward_")]
        bwd = [d for d in subs if d.startswith("backward_")]
        if len(fwd) > 1 or len(bwd) > 1:
            raise SC.ConvertError("%s: several directions under %r: %s" % (s.what, p, subs))
        found = bool(fwd or bwd)
        bi = entry.get("bidirectional", found)
        if bool(bi) != found:
            raise SC.ConvertError("%s: spec says bidirectional %s but there are %s keys "
                                  "%r/forward_*/..." % (s.what, str(bool(bi)).lower(),
                                                        "such" if found else "no", p))
        if not bi:
            return [("_l0", p)]
        if not fwd or not bwd:
            raise SC.ConvertError("%s: missing key %r" % (
                s.what, "%s/%s_%s/kernel" % (p, "backward" if fwd else "forward", entry.kind)))
        return [("_l0", p + "/" + fwd[0]), ("_l0_reverse", p + "/" + bwd[0])]

    def rnn(self, entry):
        s, kind = self.src, entry.kind
        G = GATES[kind]
        if entry.get("num_layers", 1) != 1:
            raise SC.ConvertError("%s: num_layers is for PyTorch; give one entry per Keras layer"
                                  % entry.where())
        if entry.get("layer_dropout"):
            raise SC.ConvertError("%s: layer_dropout is PyTorch's dropout between the layers of "
                                  "a stacked module; with Keras add a {\"dropout\": rate} entry"
                                  % entry.where())
        dirs = self.directions(entry)
        use_bias = entry.get("use_bias", True)
        params, hidden, reset_after = {}, None, entry.get("reset_after")
        said = "the spec says reset_after=%s" % reset_after
        for sfx, p in dirs:
            rk_k = self.find(p, "recurrent_kernel")
            rk = s.get(rk_k, ndim=2)
            H = rk.shape[0]
            SC.expect_shape(rk_k, rk, (H, G * H))
            if hidden is not None and H != hidden:
                raise SC.ConvertError("key %r has hidden size %d, not %d" % (rk_k, H, hidden))
            hidden = H
            kk = self.find(p, "kernel")
            k = s.get(kk, ndim=2)
            if k.shape[1] != G * H:
                raise SC.ConvertError("key %r has shape %s, expected [in, %d]"
                                      % (kk, tuple(k.shape), G * H))
            zeros = np.zeros(G * H, np.float32)
            if use_bias:
                bk = self.find(p, "bias")
                b = s.get(bk)
                if kind == "lstm":
                    SC.expect_shape(bk, b, (G * H,))
                    b_ih, b_hh = b, zeros
                else:
                    ra = b.ndim == 2
                    if b.shape not in ((2, G * H), (G * H,)):
                        raise SC.ConvertError("key %r has shape %s, expected (%d, %d) "
                                              "(reset_after=True) or (%d,) (reset_after=False)"
                                              % (bk, tuple(b.shape), 2, G * H, G * H))
                    if reset_after is not None and bool(reset_after) != ra:
                        raise SC.ConvertError("key %r has shape %s: that is reset_after=%s, "
                                              "but %s" % (bk, tuple(b.shape), ra, said))
                    reset_after = ra
                    said = "key %r has shape %s" % (bk, tuple(b.shape))
                    b_ih, b_hh = (b[0], b[1]) if ra else (b, zeros)
            else:
                for w in ("bias",):
                    extra = self.find(p, w, required=False)
                    if extra:
                        raise SC.ConvertError("%s: key %r present but the spec says use_bias "
                                              "false" % (s.what, extra))
                bk, b_ih, b_hh = p + "/bias (use_bias=False)", zeros, zeros
            w_ih, w_hh = k.T, rk.T
            if kind == "gru":
                w_ih, w_hh = gru_reorder(w_ih, H, 0), gru_reorder(w_hh, H, 0)
                b_ih, b_hh = gru_reorder(b_ih, H, 0), gru_reorder(b_hh, H, 0)
            params["weight_ih" + sfx] = (np.ascontiguousarray(w_ih), kk)
            params["weight_hh" + sfx] = (np.ascontiguousarray(w_hh), rk_k)
            params["bias_ih" + sfx] = (np.ascontiguousarray(b_ih), bk)
            params["bias_hh" + sfx] = (np.ascontiguousarray(b_hh), bk)
        if reset_after is None:
            reset_after = True   # Keras 2's default
        return [(len(dirs) == 2, bool(reset_after), hidden, params)]


def load(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise SC.ConvertError("cannot read %s: %s" % (path, exc)) from None
    arrays = {}
    for k, v in raw.items():
        name = k[:-2] if k.endswith(":0") else k
        if name in arrays:
            raise SC.ConvertError("%s: keys %r and %r are the same weight" % (path, name, k))
        arrays[name] = v
    return KerasReader(arrays, path)


def main(argv=None):
    return SC.main(argv, "convert_keras", "Convert Keras weights (.npz) to a seqcls model.", load)


if __name__ == "__main__":
    sys.exit(main())
