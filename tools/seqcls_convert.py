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
OPTIONS = {
    "embedding": {"padding_idx", "freeze"},
    "input": set(),
    "lstm": {"bidirectional", "return_sequences", "merge", "recurrent_activation", "dropout",
             "use_bias", "num_layers"},
    "gru": {"bidirectional", "return_sequences", "merge", "recurrent_activation", "dropout",
            "use_bias", "num_layers", "reset_after"},
    "attention": {"W1", "W2", "V", "W", "query", "time"},
    "pooling": set(),
    "dense": {"activation", "use_bias"},
    "dropout": set(),
    "batchnorm": {"momentum", "epsilon", "center", "scale"},
    "output": {"use_bias"},
}
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
    if e.kind in ("embedding", "lstm", "gru", "dense", "batchnorm", "output"):
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
    elif e.kind == "pooling":
        if v not in ("last", "mean", "max"):
            raise ConvertError("%s: pooling must be last, mean or max, not %r" % (e.where(), v))
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
        if e.get("merge", "concat") not in ("concat", "sum"):
            raise ConvertError("%s: merge must be concat or sum, not %r"
                               % (e.where(), e.get("merge")))
        if e.get("recurrent_activation", "sigmoid") not in ("sigmoid", "hard_sigmoid", "relu"):
            raise ConvertError("%s: recurrent_activation must be sigmoid, hard_sigmoid or relu, "
                               "not %r" % (e.where(), e.get("recurrent_activation")))
    if e.kind == "dense" and e.get("activation") not in (None, "none", "linear", "relu",
                                                          "tanh", "sigmoid"):
        raise ConvertError("%s: activation must be none, relu, tanh or sigmoid, not %r"
                           % (e.where(), e.get("activation")))


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
    if entry.kind == "dropout":
        return [Layer("dropout", "add_dropout", float(entry.value))]
    if entry.kind == "pooling":
        return [Layer("pooling", "add_pooling", entry.value)]
    return None


def rnn_kwargs(entry, bidirectional, return_sequences, reset_after=True):
    kw = dict(bidirectional=bidirectional, return_sequences=return_sequences,
              merge=entry.get("merge", "concat"),
              recurrent_activation=entry.get("recurrent_activation"),
              dropout=float(entry.get("dropout", 0.0)))
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

def convert_entry(entry, reader):
    kind = entry.kind
    if kind == "embedding":
        w, key = reader.embedding(entry.value)
        pad = entry.get("padding_idx", 0)
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
    if kind in ("lstm", "gru"):
        stack = reader.rnn(entry)
        layers = []
        for i, (bi, reset_after, hidden, params) in enumerate(stack):
            last = i == len(stack) - 1
            kw = rnn_kwargs(entry, bi, entry.get("return_sequences", False) if last else True,
                            reset_after)
            layer = Layer(kind, "add_" + kind, hidden, **kw)
            for suffix, (a, key) in params.items():
                layer.param(suffix, a, key)
            layers.append(layer)
        return layers
    raise ConvertError("%s: unknown layer kind" % entry.where())


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

def build_model(entries, reader, seed=0):
    """Add every layer, copy every parameter (shape-checked against seqcls')."""
    seqcls = import_seqcls()
    model = seqcls.Model(seed)
    for entry in entries:
        layers = simple_layers(entry) or convert_entry(entry, reader)
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
    args = ap.parse_args(argv)
    try:
        entries = read_spec(args.spec)
        reader = load(args.weights)
        src = reader.src
        model = build_model(entries, reader, seed=args.seed)
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
