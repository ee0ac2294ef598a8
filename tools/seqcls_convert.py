"""Shared part of the weight converters tools/convert_pytorch.py and
tools/convert_keras.py: the layer spec, the weight source with its checks,
and the building and saving of the seqcls model.

A converter supplies `load(path) -> reader`, a reader of its framework's
weights that hands out arrays already in seqcls' (PyTorch) layout (see
"the layers with weights" below).  This module turns each spec entry into
seqcls layers (constructor and arguments, parameters keyed by their name
after the "<index>.<kind>." prefix: "weight_ih_l0_reverse", "W1.bias", ...),
adds them, checks every array against the shape seqcls gives the
parameter, copies it and saves the file.  Every problem raises
ConvertError; main() prints it and exits with status 2.

The spec format is documented in docs/converters.md.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def import_seqcls():
    """The seqcls package: from PYTHONPATH if it is there, else from
    bindings/python next to this script (the library itself is found by the
    package: SEQCLS_LIBRARY, the build tree's lib/, then the system)."""
    try:
        import seqcls  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bindings", "python"))
        import seqcls  # noqa: F401
    return sys.modules["seqcls"]


class ConvertError(Exception):
    """A problem with the spec or the weights; the message names the key."""


# ---- the spec ----

# kind -> options an entry may carry besides its kind key
RNN_OPTIONS = {"bidirectional", "return_sequences", "merge", "recurrent_activation", "dropout",
               "recurrent_dropout", "layer_dropout", "use_bias", "num_layers"}
OPTIONS = {
    "embedding": {"padding_idx", "freeze"},
    "input": set(),
    "lstm": RNN_OPTIONS,
    "gru": RNN_OPTIONS | {"reset_after"},
    "attention": {"W1", "W2", "V", "W", "query", "time"},
    "pooling": set(),
    "dense": {"activation", "use_bias"},
    "dropout": set(),
    "batchnorm": {"momentum", "epsilon", "center", "scale"},
    "output": {"use_bias"},
    "conv1d": {"padding", "dilation", "activation", "use_bias"},
    "flatten": set(),
    # 1.1, issue 16 (PyTorch): nn.TransformerEncoder / nn.TransformerEncoderLayer
    "transformer": {"heads", "num_layers", "norm_first", "activation", "layer_norm_eps",
                    "dropout"},
    "positional": {"weight", "table", "max_len", "scale_input"},
}
TRANSFORMER_ACTIVATIONS = ("relu", "gelu")
MERGES = ("concat", "sum", "ave", "mul")
ACTIVATIONS = (None, "none", "linear", "relu", "tanh", "sigmoid")
KINDS = tuple(OPTIONS)
ATTENTION_PARTS = {"bahdanau": ("W1", "W2", "V"), "dot": (), "general": ("W",),
                   "learned_query": ("W", "query"), "feature_time": ("time",)}


class Entry:
    """One layer of the spec: kind, its value (source name, rate, ...), options."""

    def __init__(self, index, kind, value, options):
        self.index, self.kind, self.value, self.options = index, kind, value, options

    def get(self, name, default=None):
        return self.options.get(name, default)

    def where(self):
        return "spec layer %d (%s)" % (self.index, self.kind)


def parse_spec(obj):
    """A list of entries (or {"layers": [...]}) -> [Entry]."""
    if isinstance(obj, dict):
        if "layers" not in obj:
            raise ConvertError("spec: an object must have a \"layers\" list")
        obj = obj["layers"]
    if not isinstance(obj, list) or not obj:
        raise ConvertError("spec: expected a non-empty list of layers")
    entries = []
    for i, item in enumerate(obj):
        if not isinstance(item, dict):
            raise ConvertError("spec layer %d: expected an object, not %r" % (i, item))
        kinds = [k for k in item if k in OPTIONS]
        if len(kinds) > 1:
            # a key that names a kind can be an option of the entry's own kind
            # ({"lstm": "rnn", "dropout": 0.2}: the LSTM's input dropout)
            own = [k for k in kinds if all(o == k or o in OPTIONS[k] for o in kinds)]
            kinds = own if len(own) == 1 else kinds
        if len(kinds) != 1:
            unknown = [k for k in item if k not in set().union(*OPTIONS.values())]
            raise ConvertError("spec layer %d: unknown layer kind %s (one of: %s)"
                               % (i, ", ".join(repr(k) for k in (unknown or list(item)))
                                  or "(none)", ", ".join(KINDS))
                               if not kinds else
                               "spec layer %d: several layer kinds %s in one entry" % (i, kinds))
        kind = kinds[0]
        options = {k: v for k, v in item.items() if k != kind}
        bad = sorted(set(options) - OPTIONS[kind])
        if bad:
            raise ConvertError("spec layer %d (%s): unknown option(s) %s (allowed: %s)"
                               % (i, kind, ", ".join(bad), ", ".join(sorted(OPTIONS[kind]))
                                  or "none"))
        entries.append(Entry(i, kind, item[kind], options))
        _check_entry(entries[-1])
    return entries


def _check_entry(e):
    v = e.value
    if e.kind in ("embedding", "lstm", "gru", "dense", "batchnorm", "output", "conv1d",
                  "transformer"):
        if not isinstance(v, str) or not v:
            raise ConvertError("%s: the value must be the name holding its weights, not %r"
                               % (e.where(), v))
    elif e.kind == "input":
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConvertError("%s: the value must be the number of features, not %r"
                               % (e.where(), v))
    elif e.kind == "dropout":
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 1:
            raise ConvertError("%s: the value must be a rate in [0, 1), not %r" % (e.where(), v))
    elif e.kind == "flatten":
        if v is not True:
            raise ConvertError("%s: write {\"flatten\": true}, not %r" % (e.where(), v))
    elif e.kind == "pooling":
        if v not in ("last", "mean", "max", "first"):
            raise ConvertError("%s: pooling must be last, mean, max or first, not %r"
                               % (e.where(), v))
    elif e.kind == "positional":
        _check_positional(e)
    elif e.kind == "attention":
        if v not in ATTENTION_PARTS:
            raise ConvertError("%s: attention kind must be one of %s, not %r"
                               % (e.where(), ", ".join(ATTENTION_PARTS), v))
        parts = ATTENTION_PARTS[v]
        extra = sorted(set(e.options) - set(parts))
        if extra:
            raise ConvertError("%s: %s attention takes %s, not %s"
                               % (e.where(), v, ", ".join(parts) or "no weights",
                                  ", ".join(extra)))
        for p in parts:
            if not isinstance(e.options.get(p), str) or not e.options[p]:
                raise ConvertError("%s: %s attention needs \"%s\": the name holding its weights"
                                   % (e.where(), v, p))
    if e.kind in ("lstm", "gru"):
        if e.get("merge", "concat") not in MERGES:
            raise ConvertError("%s: merge must be concat, sum, ave or mul, not %r"
                               % (e.where(), e.get("merge")))
        for rate in ("dropout", "recurrent_dropout", "layer_dropout"):
            r = e.get(rate, 0.0)
            if not isinstance(r, (int, float)) or isinstance(r, bool) or not 0 <= r < 1:
                raise ConvertError("%s: %s must be a rate in [0, 1), not %r"
                                   % (e.where(), rate, r))
        if e.get("recurrent_activation", "sigmoid") not in ("sigmoid", "hard_sigmoid", "relu"):
            raise ConvertError("%s: recurrent_activation must be sigmoid, hard_sigmoid or relu, "
                               "not %r" % (e.where(), e.get("recurrent_activation")))
    if e.kind == "transformer":
        _check_transformer(e)
    if e.kind in ("dense", "conv1d") and e.get("activation") not in ACTIVATIONS:
        raise ConvertError("%s: activation must be none, relu, tanh or sigmoid, not %r"
                           % (e.where(), e.get("activation")))
    if e.kind == "conv1d":
        if e.get("padding", "valid") not in ("valid", "same"):
            raise ConvertError("%s: padding must be valid or same, not %r (stride 1 only)"
                               % (e.where(), e.get("padding")))
        d = e.get("dilation", 1)
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise ConvertError("%s: dilation must be an integer >= 1, not %r" % (e.where(), d))


def _positive_int(e, name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConvertError("%s: %s must be an integer >= 1, not %r" % (e.where(), name, value))


def _check_transformer(e):
    if "heads" not in e.options:
        raise ConvertError("%s: \"heads\" is needed (nhead: the state_dict does not say it)"
                           % e.where())
    _positive_int(e, "heads", e.get("heads"))
    if "num_layers" in e.options:
        _positive_int(e, "num_layers", e.get("num_layers"))
    if e.get("activation", "relu") not in TRANSFORMER_ACTIVATIONS:
        raise ConvertError("%s: activation must be relu or gelu (PyTorch's strings), not %r"
                           % (e.where(), e.get("activation")))
    if not isinstance(e.get("norm_first", False), bool):
        raise ConvertError("%s: norm_first must be true or false, not %r"
                           % (e.where(), e.get("norm_first")))
    eps = e.get("layer_norm_eps", 1e-5)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
        raise ConvertError("%s: layer_norm_eps must be a number > 0, not %r" % (e.where(), eps))
    r = e.get("dropout", 0.1)
    if not isinstance(r, (int, float)) or isinstance(r, bool) or not 0 <= r < 1:
        raise ConvertError("%s: dropout must be a rate in [0, 1), not %r" % (e.where(), r))


def _check_positional(e):
    v = e.value
    if v not in ("sinusoidal", "learned"):
        raise ConvertError("%s: positional must be sinusoidal or learned, not %r"
                           % (e.where(), v))
    if not isinstance(e.get("scale_input", False), bool):
        raise ConvertError("%s: scale_input must be true or false, not %r"
                           % (e.where(), e.get("scale_input")))
    for name in ("weight", "table"):
        if name in e.options and (not isinstance(e.get(name), str) or not e.get(name)):
            raise ConvertError("%s: %s must be the name holding the table, not %r"
                               % (e.where(), name, e.get(name)))
    if v == "learned":
        if "weight" not in e.options:
            raise ConvertError("%s: a learned positional encoding needs \"weight\": the "
                               "nn.Embedding or nn.Parameter holding the table" % e.where())
        if "table" in e.options or "max_len" in e.options:
            raise ConvertError("%s: a learned table's size comes from its weight: no %s"
                               % (e.where(), "table" if "table" in e.options else "max_len"))
    else:
        if "weight" in e.options:
            raise ConvertError("%s: a sinusoidal encoding has no weight (\"table\" names a "
                               "buffer holding the sinusoids, to check)" % e.where())
        if "max_len" not in e.options and "table" not in e.options:
            raise ConvertError("%s: a sinusoidal encoding needs \"max_len\" or \"table\" "
                               "(the buffer holding the sinusoids)" % e.where())
        if "max_len" in e.options:
            _positive_int(e, "max_len", e.get("max_len"))


def sinusoids(max_len, d):
    """The PyTorch tutorial's PositionalEncoding table [max_len, d], in
    float32 as it computes it (as src/positional.c does)."""
    pos = np.arange(max_len, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, d, 2, dtype=np.float32) * np.float32(-np.log(10000.0) / d))
    ang = (pos * div.astype(np.float32)).astype(np.float32)
    pe = np.zeros((max_len, d), np.float32)
    pe[:, 0::2] = np.sin(ang)
    pe[:, 1::2] = np.cos(ang[:, :d // 2])
    return pe


def read_spec(path):
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as exc:
        raise ConvertError("spec %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:
        raise ConvertError("spec %s: not valid JSON: %s" % (path, exc)) from None
    return parse_spec(obj)


# ---- the weights ----

class Source:
    """{key: array} with lookups that name the missing key, shape checks,
    and a record of the keys used."""

    def __init__(self, arrays, what):
        self.arrays = arrays
        self.what = what
        self.used = set()

    def has(self, key):
        return key in self.arrays

    def get(self, key, ndim=None):
        if key not in self.arrays:
            raise ConvertError("%s: missing key %r%s" % (self.what, key, self._near(key)))
        self.used.add(key)
        a = np.asarray(self.arrays[key])
        if not np.issubdtype(a.dtype, np.number):
            raise ConvertError("%s: key %r is not a numeric array (dtype %s)"
                               % (self.what, key, a.dtype))
        a = a.astype(np.float32)
        if ndim is not None and a.ndim != ndim:
            raise ConvertError("%s: key %r has shape %s, expected %d dimensions"
                               % (self.what, key, tuple(a.shape), ndim))
        if not np.all(np.isfinite(a)):
            raise ConvertError("%s: key %r holds NaN or infinite values" % (self.what, key))
        return a

    def _near(self, key):
        stem = key.rsplit("/", 1)[0] if "/" in key else key.rsplit(".", 1)[0]
        near = sorted(k for k in self.arrays if k.startswith(stem))[:8]
        return " (keys under %r: %s)" % (stem, ", ".join(near)) if near else ""

    def unused(self):
        return sorted(set(self.arrays) - self.used)


def expect_shape(key, a, shape):
    """Error naming `key` unless a.shape == shape."""
    if tuple(a.shape) != tuple(shape):
        raise ConvertError("key %r has shape %s, expected %s"
                           % (key, tuple(a.shape), tuple(shape)))


class Layer:
    """A seqcls layer to add: `add` is the Model method's name, args/kwargs
    its arguments; params {suffix: (array, source key)}."""

    def __init__(self, kind, add, *args, options=None, **kwargs):
        self.kind, self.add, self.args, self.kwargs = kind, add, args, kwargs
        self.options = options or {}
        self.params = {}

    def param(self, suffix, array, key):
        self.params[suffix] = (array, key)
        return self


def simple_layers(entry):
    """The layers without weights, the same for every converter."""
    if entry.kind == "input":
        return [Layer("input", "add_input", entry.value)]
    if entry.kind == "flatten":
        return [Layer("flatten", "add_flatten")]
    if entry.kind == "dropout":
        return [Layer("dropout", "add_dropout", float(entry.value))]
    if entry.kind == "pooling":
        return [Layer("pooling", "add_pooling", entry.value)]
    return None


def rnn_kwargs(entry, bidirectional, return_sequences, reset_after=True):
    kw = dict(bidirectional=bidirectional, return_sequences=return_sequences,
              merge=entry.get("merge", "concat"),
              recurrent_activation=entry.get("recurrent_activation"),
              dropout=float(entry.get("dropout", 0.0)),
              recurrent_dropout=float(entry.get("recurrent_dropout", 0.0)))
    if entry.kind == "gru":
        kw["reset_after"] = reset_after
    return kw


# ---- the layers with weights, from a framework's reader ----
#
# A reader (one per framework) gives arrays in seqcls' (PyTorch) layout:
#   reader.src                         the Source
#   reader.linear(name, bias)          -> (W [out, in], W key, b [out] or None, b key)
#   reader.embedding(name)             -> (W [V, D], key)
#   reader.batchnorm(name, center, scale) -> {suffix: (array, key)} (weight, bias,
#                                         running_mean, running_var)
#   reader.batchnorm_options(entry)    -> {"momentum": m, "epsilon": e} in seqcls' terms
#   reader.rnn(entry)                  -> [(bidirectional, reset_after, hidden,
#                                         {suffix: (array, key)})], one per stacked layer
#   reader.conv1d(name, bias)          -> (W [out, in, k], W key, b [out] or None, b key)

def convert_entry(entry, reader, renumber=None):
    """The seqcls layers of one spec entry.  `renumber` (a vocabulary given to
    the converter): the embedding's source row of each seqcls id, None for a
    row of zeros (an <unk> the source did not have)."""
    kind = entry.kind
    if kind == "embedding":
        w, key = reader.embedding(entry.value)
        pad = entry.get("padding_idx", 0)
        if renumber is not None:
            w, key, pad = renumber_rows(entry, w, key, pad, renumber)
        if pad is not None and not 0 <= pad < w.shape[0]:
            raise ConvertError("%s: padding_idx %r outside the %d rows of %r"
                               % (entry.where(), pad, w.shape[0], key))
        layer = Layer("embedding", "add_embedding", w.shape[0], w.shape[1], padding_idx=pad,
                      freeze=bool(entry.get("freeze", False)))
        return [layer.param("weight", w, key)]
    if kind in ("dense", "output"):
        w, wk, b, bk = reader.linear(entry.value, entry.get("use_bias", True))
        if b is None:
            b, bk = np.zeros(w.shape[0], np.float32), wk + " (no bias: zeros)"
        if kind == "dense":
            layer = Layer("dense", "add_dense", w.shape[0], entry.get("activation"))
        else:
            layer = Layer("output", "add_output", w.shape[0])
        return [layer.param("weight", w, wk).param("bias", b, bk)]
    if kind == "batchnorm":
        params = reader.batchnorm(entry.value, entry.get("center", True), entry.get("scale", True))
        layer = Layer("batchnorm", "add_batchnorm", **reader.batchnorm_options(entry))
        for suffix, (a, key) in params.items():
            layer.param(suffix, a, key)
        return [layer]
    if kind == "attention":
        return [attention_layer(entry, reader)]
    if kind == "transformer":
        if not hasattr(reader, "transformer"):
            raise ConvertError("%s: this converter reads no transformer encoder (PyTorch's "
                               "nn.TransformerEncoder only: tools/convert_pytorch.py)"
                               % entry.where())
        layers = []
        for ff, params in reader.transformer(entry):
            layer = Layer("transformer", "add_transformer_encoder", entry.get("heads"), ff,
                          norm_first=entry.get("norm_first", False),
                          dropout=float(entry.get("dropout", 0.1)),
                          activation=entry.get("activation", "relu"),
                          ln_eps=float(entry.get("layer_norm_eps", 1e-5)))
            for suffix, (a, key) in params.items():
                layer.param(suffix, a, key)
            layers.append(layer)
        return layers
    if kind == "positional":
        return [positional_layer(entry, reader)]
    if kind in ("lstm", "gru"):
        stack = reader.rnn(entry)
        layers = []
        between = float(entry.get("layer_dropout", 0.0))
        for i, (bi, reset_after, hidden, params) in enumerate(stack):
            last = i == len(stack) - 1
            kw = rnn_kwargs(entry, bi, entry.get("return_sequences", False) if last else True,
                            reset_after)
            layer = Layer(kind, "add_" + kind, hidden, **kw)
            for suffix, (a, key) in params.items():
                layer.param(suffix, a, key)
            layers.append(layer)
            if not last and between > 0:
                # PyTorch's nn.LSTM(num_layers=N, dropout=p): on the outputs of
                # every layer but the last
                layers.append(Layer("dropout", "add_dropout", between))
        return layers
    if kind == "conv1d":
        w, wk, b, bk = reader.conv1d(entry.value, entry.get("use_bias", True))
        if b is None:
            b, bk = np.zeros(w.shape[0], np.float32), wk + " (no bias: zeros)"
        layer = Layer("conv1d", "add_conv1d", w.shape[0], w.shape[2],
                      padding=entry.get("padding", "valid"), dilation=entry.get("dilation", 1),
                      activation=entry.get("activation"))
        return [layer.param("weight", w, wk).param("bias", b, bk)]
    raise ConvertError("%s: unknown layer kind" % entry.where())


def renumber_rows(entry, w, key, pad, order):
    """The embedding's rows in seqcls' id order (`order`: source row or None);
    the padding row's new id."""
    V = w.shape[0]
    bad = [r for r in order if r is not None and not 0 <= r < V]
    if bad:
        raise ConvertError("%s: the vocabulary uses row %d, but %r has %d rows"
                           % (entry.where(), bad[0], key, V))
    out = np.zeros((len(order), w.shape[1]), np.float32)
    for i, r in enumerate(order):
        if r is not None:
            out[i] = w[r]
    if pad is not None:
        if pad != order[0]:
            raise ConvertError("%s: padding_idx %r is not the vocabulary's padding id %r "
                               "(--pad-id)" % (entry.where(), pad, order[0]))
        pad = 0
    return out, key + " (rows in the vocabulary's order)", pad


def positional_layer(entry, reader):
    """A learned table (an nn.Embedding's weight, or an nn.Parameter [max_len,
    d] or [1, max_len, d]), or the sinusoids, of max_len given or of the
    size of a buffer holding them ("table", checked against seqcls' own)."""
    src, scale = reader.src, bool(entry.get("scale_input", False))
    if entry.value == "learned":
        name = entry.get("weight")
        key = name + ".weight" if src.has(name + ".weight") else name
        w = src.get(key)
        if w.ndim == 3 and w.shape[0] == 1:
            w = w[0]
        if w.ndim != 2:
            raise ConvertError("%s: key %r has shape %s, expected [max_len, d]"
                               % (entry.where(), key, tuple(src.arrays[key].shape)))
        layer = Layer("positional", "add_positional_encoding", "learned", w.shape[0],
                      scale_input=scale)
        return layer.param("weight", w, key)
    max_len = entry.get("max_len")
    if "table" in entry.options:
        key = entry.get("table")
        t = src.get(key)
        # the tutorial's buffer is [max_len, 1, d]; others keep [1, max_len, d] or [max_len, d]
        if t.ndim == 3 and 1 in t.shape[:2]:
            t = t.reshape(-1, t.shape[-1])
        if t.ndim != 2:
            raise ConvertError("%s: key %r has shape %s, expected [max_len, d] (or with an axis "
                               "of 1)" % (entry.where(), key, tuple(src.arrays[key].shape)))
        if max_len is not None and max_len > t.shape[0]:
            raise ConvertError("%s: max_len %d is beyond the %d rows of %r"
                               % (entry.where(), max_len, t.shape[0], key))
        max_len = max_len or t.shape[0]
        err = float(np.abs(t[:max_len] - sinusoids(max_len, t.shape[1])).max()) if max_len else 0
        if not err <= 1e-4:   # float32 sines of large angles differ by a few 1e-6
            raise ConvertError("%s: key %r is not the sinusoidal table sin(p / 10000^(2i/d)), "
                               "cos(...) (off by %.3g): a learned one is \"positional\": "
                               "\"learned\"" % (entry.where(), key, err))
    return Layer("positional", "add_positional_encoding", "sinusoidal", max_len,
                 scale_input=scale)


def attention_layer(entry, reader):
    kind = entry.value
    layer = Layer("attention", "add_attention", kind)
    if kind == "bahdanau":
        w1, k1, b1, kb1 = reader.linear(entry.get("W1"), True)
        w2, k2, b2, kb2 = reader.linear(entry.get("W2"), True)
        v, kv, bv, kbv = reader.linear(entry.get("V"), None)   # V's bias is optional
        if bv is None:
            bv, kbv = np.zeros(1, np.float32), kv + " (no bias: zero)"
        expect_shape(kv, v, (1, w1.shape[0]))
        layer.kwargs["units"] = w1.shape[0]
        layer.param("W1.weight", w1, k1).param("W1.bias", b1, kb1)
        layer.param("W2.weight", w2, k2).param("W2.bias", b2, kb2)
        layer.param("V.weight", v, kv).param("V.bias", bv, kbv)
    elif kind == "general":
        # a bias of W adds q.b to every score: it never changes the weights
        w, k, _, _ = reader.linear(entry.get("W"), None)
        layer.param("W.weight", w, k)
    elif kind == "learned_query":
        w, k, b, kb = reader.linear(entry.get("W"), True)
        q, kq, _, _ = reader.linear(entry.get("query"), None)
        expect_shape(kq, q, (1, w.shape[0]))
        layer.kwargs["units"] = w.shape[0]
        layer.param("W.weight", w, k).param("W.bias", b, kb).param("query.weight", q, kq)
    elif kind == "feature_time":
        w, k, b, kb = reader.linear(entry.get("time"), True)
        if w.shape[0] != w.shape[1]:
            raise ConvertError("key %r has shape %s, expected a square [T, T]" % (k, w.shape))
        layer.kwargs["units"] = w.shape[0]
        layer.param("time.weight", w, k).param("time.bias", b, kb)
    return layer


# ---- building and saving ----

def build_model(entries, reader, seed=0, renumber=None):
    """Add every layer, copy every parameter (shape-checked against seqcls').
    `renumber`: see convert_entry."""
    seqcls = import_seqcls()
    model = seqcls.Model(seed)
    if renumber is not None and entries[0].kind != "embedding":
        raise ConvertError("%s: a vocabulary needs an embedding as the first layer"
                           % entries[0].where())
    for entry in entries:
        layers = simple_layers(entry) or convert_entry(entry, reader, renumber)
        for layer in layers:
            try:
                idx = getattr(model, layer.add)(*layer.args, **layer.kwargs)
            except (seqcls.SeqclsError, ValueError) as exc:
                raise ConvertError("%s: seqcls refused the %s layer: %s"
                                   % (entry.where(), layer.kind, exc)) from None
            for opt, value in layer.options.items():
                model.set_option(idx, opt, value)
            names = set(n for n in model.param_names() if n.startswith("%d." % idx))
            for suffix, (array, key) in layer.params.items():
                name = "%d.%s.%s" % (idx, layer.kind, suffix)
                if name not in names:
                    raise ConvertError("%s: seqcls has no parameter %s (for key %r)"
                                       % (entry.where(), name, key))
                names.discard(name)
                dst = model.param(name)
                if tuple(dst.shape) != tuple(array.shape):
                    raise ConvertError("%s: key %r gives shape %s but seqcls' %s is %s "
                                       "(does it match the layer before?)"
                                       % (entry.where(), key, tuple(array.shape), name,
                                          tuple(dst.shape)))
                dst[...] = array
            if names:
                raise ConvertError("%s: no weights for seqcls' %s"
                                   % (entry.where(), ", ".join(sorted(names))))
    return model


# ---- the vocabulary and the label names ----

OOV_NAMES = {"<oov>", "[unk]", "<unk>", "unk", "oov", "[oov]"}


def read_vocab(path):
    """{source id: token} of a word index file, and whether it was a
    {token: id} object: a JSON list in id order (Keras' TextVectorization
    get_vocabulary(), torchtext's get_itos()), a JSON object {token: id}
    (Keras' Tokenizer.word_index, or a whole Tokenizer.to_json()), or text
    with one token per line, the line number (from 0) its id."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConvertError("vocabulary %s: %s" % (path, exc.strerror or exc)) from None
    except UnicodeDecodeError as exc:
        raise ConvertError("vocabulary %s: not UTF-8 (%s)" % (path, exc.reason)) from None
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else obj
        if "word_index" in cfg:           # Tokenizer.to_json(), or {"word_index": {...}}
            obj = cfg["word_index"]
            if isinstance(obj, str):
                obj = json.loads(obj)
        if not isinstance(obj, dict):
            raise ConvertError("vocabulary %s: word_index is not an object" % path)
        out = {}
        for tok, i in obj.items():
            if not isinstance(i, int) or isinstance(i, bool) or i < 0:
                raise ConvertError("vocabulary %s: token %r has id %r, not an integer >= 0"
                                   % (path, tok, i))
            if i in out:
                raise ConvertError("vocabulary %s: tokens %r and %r both have id %d"
                                   % (path, out[i], tok, i))
            out[i] = tok
        return out, True
    if isinstance(obj, list):
        if not all(isinstance(t, str) for t in obj):
            raise ConvertError("vocabulary %s: a JSON list must hold strings" % path)
        return dict(enumerate(obj)), False
    lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    return {i: t.rstrip("\r") for i, t in enumerate(lines)}, False


def plan_vocab(tokens, is_index, pad_id, unk_id, rows, warn):
    """(seqcls tokens, the source row of each seqcls id): id 0 = the source's
    padding id, 1 = its unknown-token id (None: a new row of zeros), then
    the other ids in order; ids at or beyond the embedding's `rows` are
    dropped (Keras' num_words)."""
    if unk_id == "auto":
        # a list (TextVectorization: "", "[UNK]", ...) has it at 1; a Keras
        # word_index only with an oov_token, which is then id 1
        unk_id = 1 if not is_index or tokens.get(1, "").lower() in OOV_NAMES else None
        if unk_id is None:
            warn("the word index has no out-of-vocabulary token (id 1 is %r): seqcls gives "
                 "unknown words id 1 with a row of zeros, where Keras' Tokenizer drops them"
                 % tokens.get(1))
    if not 0 <= pad_id < rows:
        raise ConvertError("--pad-id %d is outside the embedding's %d rows" % (pad_id, rows))
    if unk_id is not None and not 0 <= unk_id < rows:
        raise ConvertError("--unk-id %d is outside the embedding's %d rows" % (unk_id, rows))
    if unk_id == pad_id:
        raise ConvertError("--pad-id and --unk-id are both %d" % pad_id)
    rest = sorted(i for i in tokens if i not in (pad_id, unk_id))
    dropped = [i for i in rest if i >= rows]
    if dropped:
        warn("%d token(s) of the vocabulary have ids beyond the embedding's %d rows and are "
             "dropped (first: %r, id %d)" % (len(dropped), rows, tokens[dropped[0]], dropped[0]))
    rest = [i for i in rest if i < rows]
    return ["", ""] + [tokens[i] for i in rest], [pad_id, unk_id] + rest


def read_labels(arg):
    """Label names: a file (one per line, or a JSON list), else comma-separated."""
    if os.path.isfile(arg):
        with open(arg, encoding="utf-8") as f:
            text = f.read()
        try:
            names = json.loads(text)
        except ValueError:
            names = [l.rstrip("\r") for l in text.splitlines() if l.strip()]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConvertError("labels %s: a JSON list must hold strings" % arg)
        return names
    return arg.split(",")


def attach_text(model, args, reader, entries, prog):
    """The vocabulary, label names and reading settings asked for on the
    command line, into the model (its embedding already renumbered)."""
    seqcls = import_seqcls()
    if args.vocab_plan is not None:
        tokens = args.vocab_plan[0]
        try:
            v = seqcls.Vocab.from_list(tokens)
        except (seqcls.SeqclsError, ValueError) as exc:
            raise ConvertError("vocabulary %s: %s" % (args.vocab, exc)) from None
        # tokens the tokeniser never produces (capitals, spaces, split punctuation)
        norm = seqcls.Vocab([t for t in tokens[2:]])
        lost = [t for t in tokens[2:] if norm.id(t) == seqcls.UNK_ID]
        if lost:
            print("%s: warning: %d token(s) of the vocabulary are not what seqcls' tokeniser "
                  "produces and will never be met: %s" % (prog, len(lost), ", ".join(
                      repr(t) for t in lost[:8])), file=sys.stderr)
        model.vocab = v
        model.meta["tokens"] = "word"
    if args.labels is not None:
        names = read_labels(args.labels)
        want = max(model.num_classes, 2)
        if len(names) != want:
            raise ConvertError("--labels: %d name(s) for a model of %d classes"
                               % (len(names), want))
        try:
            model.labels = names
        except (seqcls.SeqclsError, ValueError) as exc:
            raise ConvertError("--labels: %s" % exc) from None
    if args.maxlen is not None:
        model.meta["maxlen"] = str(args.maxlen)
    if args.truncate == "pre":   # absent means post, as the command line stores it
        model.meta["truncate"] = "pre"


def main(argv, prog, description, load, ignore_unused=()):
    """Command line shared by both converters; returns the exit status."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("weights", help="the weights file")
    ap.add_argument("spec", help="the layer spec (JSON, see docs/converters.md)")
    ap.add_argument("output", help="the seqcls model file to write")
    ap.add_argument("--seed", type=int, default=0, help="model seed (dropout in training)")
    ap.add_argument("--strict", action="store_true",
                    help="unused weights are an error (default: a warning)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary on stdout")
    ap.add_argument("--vocab", metavar="FILE",
                    help="the word index to save with the model: a JSON list in id order, a "
                         "JSON {token: id} object (Keras' word_index) or one token per line")
    ap.add_argument("--pad-id", type=int, default=0, metavar="N",
                    help="the vocabulary's padding id (default 0): seqcls' id 0")
    ap.add_argument("--unk-id", default="auto", metavar="N|none",
                    help="its unknown-token id, seqcls' id 1 (default: 1 for a list, for a "
                         "word index 1 if it is an oov token, else none: a new zero row)")
    ap.add_argument("--labels", metavar="NAMES|FILE",
                    help="class names: comma-separated, or a file (one per line, or a JSON list)")
    ap.add_argument("--maxlen", type=int, metavar="N",
                    help="the maximum length the seqcls command uses with the model")
    ap.add_argument("--truncate", choices=("post", "pre"),
                    help="which tokens of a longer text the seqcls command keeps")
    args = ap.parse_args(argv)
    args.vocab_plan = None
    try:
        if args.unk_id not in ("auto", "none"):
            try:
                args.unk_id = int(args.unk_id)
            except ValueError:
                raise ConvertError("--unk-id must be an id or none, not %r" % args.unk_id) \
                    from None
        elif args.unk_id == "none":
            args.unk_id = None
        if args.maxlen is not None and not 1 <= args.maxlen <= 100000:
            raise ConvertError("--maxlen %d is outside [1, 100000]" % args.maxlen)
        entries = read_spec(args.spec)
        reader = load(args.weights)
        src = reader.src
        renumber = None
        if args.vocab is not None:
            if entries[0].kind != "embedding":
                raise ConvertError("--vocab needs an embedding as the first layer")
            tokens, is_index = read_vocab(args.vocab)
            rows = reader.embedding(entries[0].value)[0].shape[0]
            args.vocab_plan = plan_vocab(
                tokens, is_index, args.pad_id, args.unk_id, rows,
                lambda msg: print("%s: note: %s" % (prog, msg), file=sys.stderr))
            renumber = args.vocab_plan[1]
        model = build_model(entries, reader, seed=args.seed, renumber=renumber)
        attach_text(model, args, reader, entries, prog)
        unused = [k for k in src.unused() if not any(k.endswith(s) for s in ignore_unused)]
        if unused:
            msg = "%s: %d unused key(s): %s" % (src.what, len(unused), ", ".join(unused[:20]))
            if args.strict:
                raise ConvertError(msg)
            print("%s: warning: %s" % (prog, msg), file=sys.stderr)
        try:
            model.save(args.output)
        except Exception as exc:   # seqcls.SeqclsError: I/O, numeric
            raise ConvertError("cannot save %s: %s" % (args.output, exc)) from None
    except ConvertError as exc:
        print("%s: error: %s" % (prog, exc), file=sys.stderr)
        return 2
    if not args.quiet:
        print(model.summary())
        print("%s: wrote %s" % (prog, args.output))
    return 0
