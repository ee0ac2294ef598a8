"""Models, optimisers, training and evaluation: the Keras-like surface."""

import ctypes as C
import math
import re
from collections.abc import MutableMapping

import numpy as np

from . import _convert as cv
from . import constants as K
from ._core import (Tensor, _Handle, _load_bytes, _out_handle, _save_bytes, as_array, check,
                    lengths_arg)
from ._lib import BATCH_FN, EPOCH_FN, FLOAT_P, I32_P, LR_SCHEDULE_FN, fn
from ._progress import Progress
from .data import label_order
from .errors import InvalidArgumentError, StateError
from .text import DEFAULT_MAXLEN, MAX_MAXLEN, Vocab

_OPTIMIZERS = {"adam": K.OPTIM_ADAM, "sgd": K.OPTIM_SGD, "rmsprop": K.OPTIM_RMSPROP,
               "adamw": K.OPTIM_ADAMW}
_OPTIM_OPTIONS = {"lr": K.OPTIM_LR, "beta1": K.OPTIM_BETA1, "beta2": K.OPTIM_BETA2,
                  "eps": K.OPTIM_EPS, "weight_decay": K.OPTIM_WEIGHT_DECAY,
                  "momentum": K.OPTIM_MOMENTUM, "rho": K.OPTIM_RHO,
                  "clipnorm": K.OPTIM_CLIPNORM, "global_clipnorm": K.OPTIM_CLIPNORM,
                  "clipvalue": K.OPTIM_CLIPVALUE,
                  "clipnorm_per_tensor": K.OPTIM_CLIPNORM_PER_TENSOR}
_ACTIVATIONS = {None: K.ACT_NONE, "none": K.ACT_NONE, "linear": K.ACT_NONE,
                "relu": K.ACT_RELU, "tanh": K.ACT_TANH, "sigmoid": K.ACT_SIGMOID,
                "hard_sigmoid": K.ACT_HARD_SIGMOID, "gelu": K.ACT_GELU}
_ATTENTION = {"bahdanau": K.ATTN_BAHDANAU, "dot": K.ATTN_DOT, "general": K.ATTN_GENERAL,
              "learned_query": K.ATTN_LEARNED_QUERY, "feature_time": K.ATTN_FEATURE_TIME}
_POOLING = {"last": K.POOL_LAST, "mean": K.POOL_MEAN, "max": K.POOL_MAX, "first": K.POOL_FIRST}
_POSITIONAL = {"sinusoidal": K.POS_SINUSOIDAL, "learned": K.POS_LEARNED}
# SEQCLS_LAYER_* -> the name Model.layer_kind returns
LAYER_KINDS = {K.LAYER_EMBEDDING: "embedding", K.LAYER_INPUT: "input", K.LAYER_LSTM: "lstm",
               K.LAYER_GRU: "gru", K.LAYER_ATTENTION: "attention", K.LAYER_POOLING: "pooling",
               K.LAYER_DENSE: "dense", K.LAYER_DROPOUT: "dropout",
               K.LAYER_BATCHNORM: "batchnorm", K.LAYER_OUTPUT: "output",
               K.LAYER_POSITIONAL_ENCODING: "positional_encoding",
               K.LAYER_TRANSFORMER_ENCODER: "transformer_encoder",
               K.LAYER_CONV1D: "conv1d", K.LAYER_FLATTEN: "flatten",
               K.LAYER_EMBEDDING_BAG: "embedding_bag"}
# layer options by name (SEQCLS_OPT_*), and those that are floats
_LAYER_OPTIONS = {"freeze": K.OPT_FREEZE, "recurrent_activation": K.OPT_RECURRENT_ACTIVATION,
                  "input_dropout": K.OPT_INPUT_DROPOUT, "bn_momentum": K.OPT_BN_MOMENTUM,
                  "momentum": K.OPT_BN_MOMENTUM, "bn_epsilon": K.OPT_BN_EPSILON,
                  "epsilon": K.OPT_BN_EPSILON, "units": K.OPT_UNITS, "vocab": K.OPT_VOCAB,
                  "padding_idx": K.OPT_PADDING_IDX, "activation": K.OPT_ACTIVATION,
                  "kind": K.OPT_KIND, "flags": K.OPT_FLAGS, "dropout": K.OPT_DROPOUT,
                  "rate": K.OPT_DROPOUT, "dilation": K.OPT_DILATION,
                  "recurrent_dropout": K.OPT_RECURRENT_DROPOUT, "heads": K.OPT_HEADS,
                  "ff_dim": K.OPT_FF_DIM, "ln_epsilon": K.OPT_LN_EPSILON,
                  "ln_eps": K.OPT_LN_EPSILON, "max_len": K.OPT_MAX_LEN,
                  "scale_input": K.OPT_SCALE_INPUT, "per_step": K.OPT_PER_STEP}
_FLOAT_OPTIONS = {K.OPT_INPUT_DROPOUT, K.OPT_BN_MOMENTUM, K.OPT_BN_EPSILON, K.OPT_DROPOUT,
                  K.OPT_RECURRENT_DROPOUT, K.OPT_LN_EPSILON}
_MERGES = {"concat": 0, None: 0, "sum": K.MERGE_SUM, "ave": K.MERGE_AVE, "mul": K.MERGE_MUL}


def _code(table, value, what):
    """The C code of `value`: a name from `table`, or an int32 code as it is."""
    if not isinstance(value, (str, bool, float)) and value is not None:
        try:
            return cv.int32(value, what)
        except TypeError:
            pass
    try:
        return table[value.lower() if isinstance(value, str) else value]
    except (KeyError, AttributeError, TypeError):
        raise ValueError("seqcls: unknown %s %r (one of %s)"
                         % (what, value, ", ".join(str(k) for k in table if k)))


def _is_texts(x):
    """True for a str, a numpy array of str, or a list/tuple whose first
    item is a str: texts or label names, not numbers."""
    if isinstance(x, str):
        return True
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "U"
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], str)


def _text_list(texts):
    if isinstance(texts, str):
        return [texts]
    texts = [str(t) for t in texts] if isinstance(texts, np.ndarray) else list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, (str, bytes)):
            raise TypeError("seqcls: texts[%d] is a %s, not a str" % (i, type(t).__name__))
    return texts


def _best_epoch(history):
    """The epoch whose weights seqcls_fit restored: the first with the
    lowest validation loss (None without validation)."""
    best = None
    for e, v in zip(history.epoch, history["val_loss"]):
        if v < (math.inf if best is None else best[1]):      # False for NaN, as in C
            best = (e, v)
    return None if best is None else best[0]


def _private_lengths(lengths, batch, name):
    """lengths_arg on a private copy of `lengths`."""
    larr, _ = lengths_arg(lengths, batch, name)
    if larr is None:
        return None, None
    larr = np.array(larr, copy=True)
    return larr, larr.ctypes.data_as(I32_P)


class Optimizer:
    """An optimiser (seqcls_optimizer_t), as torch.optim: Optimizer("adam", lr=1e-3,
    clipnorm=1.0).  Options: lr, beta1, beta2, eps, weight_decay, momentum, rho,
    clipnorm (the global norm, as torch's clip_grad_norm_ and Keras'
    global_clipnorm; also named global_clipnorm), clipnorm_per_tensor (each
    gradient's own norm: Keras' clipnorm; 1.1), clipvalue.  Use one optimiser
    per model."""

    def __init__(self, kind="adam", lr=1e-3, **options):
        out = _out_handle()
        check(fn.seqcls_optimizer_create(C.byref(out), _code(_OPTIMIZERS, kind, "optimizer"),
                                         cv.float32(lr, "lr")), "seqcls_optimizer_create")
        self._h = _Handle(out.value, fn.seqcls_optimizer_free)
        for k, v in options.items():
            self.set(k, v)

    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: optimizer is closed")
        return self._h.ptr

    def set(self, option, value):
        check(fn.seqcls_optimizer_set_float(self._ptr, _code(_OPTIM_OPTIONS, option, "option"),
                                            cv.float32(value, str(option))),
              "seqcls_optimizer_set_float")

    def step(self, model):
        check(fn.seqcls_optimizer_step(self._ptr, model._ptr), "seqcls_optimizer_step")

    @property
    def steps(self):
        return fn.seqcls_optimizer_steps(self._ptr)

    def close(self):
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def Adam(lr=1e-3, **kw):
    return Optimizer("adam", lr, **kw)


def AdamW(lr=1e-3, **kw):
    return Optimizer("adamw", lr, **kw)


def SGD(lr=1e-2, **kw):
    return Optimizer("sgd", lr, **kw)


def RMSprop(lr=1e-2, **kw):
    return Optimizer("rmsprop", lr, **kw)


class Metrics:
    """Results of Model.evaluate (seqcls_metrics_t), read into Python values."""

    def __init__(self, ptr):
        h = _Handle(ptr, fn.seqcls_metrics_free)
        get = fn.seqcls_metrics_get
        self.classes = n = fn.seqcls_metrics_classes(ptr)
        self.loss = get(ptr, K.METRIC_LOSS, 0)
        self.accuracy = get(ptr, K.METRIC_ACCURACY, 0)
        self.macro_f1 = get(ptr, K.METRIC_MACRO_F1, 0)
        self.count = int(get(ptr, K.METRIC_COUNT, 0))
        self.precision = [get(ptr, K.METRIC_PRECISION, c) for c in range(n)]
        self.recall = [get(ptr, K.METRIC_RECALL, c) for c in range(n)]
        self.f1 = [get(ptr, K.METRIC_F1, c) for c in range(n)]
        self.support = [int(get(ptr, K.METRIC_SUPPORT, c)) for c in range(n)]
        self.confusion = np.array([[fn.seqcls_metrics_confusion(ptr, t, p) for p in range(n)]
                                   for t in range(n)], dtype=np.int64).reshape(n, n)
        del h   # freed here: everything was copied out

    def __repr__(self):
        return "<seqcls.Metrics loss=%.4f accuracy=%.4f macro_f1=%.4f count=%d>" % (
            self.loss, self.accuracy, self.macro_f1, self.count)


class History:
    """What Model.fit returns, as Keras' History: history["loss"] etc. per
    epoch.  `best_epoch` is the epoch (from 0) whose weights the model
    ended with when fit restored the best validation loss's weights
    (restore_best=True with validation data), else None."""

    def __init__(self):
        self.history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        self.epoch = []
        self.best_epoch = None

    def __getitem__(self, key):
        return self.history[key]


class _FitCallbacks:
    """The C trampolines of one fit call; an exception in Python stops training
    (the trampoline returns 1) and is re-raised when seqcls_fit returns."""

    def __init__(self, history, on_batch, on_epoch, lr_schedule, progress=None):
        self.error = None
        self.history = history

        def batch(_user, epoch, b, nb, loss, acc):
            if self.error is not None:
                return 1
            try:
                if progress is not None:
                    progress.on_batch(epoch, b, nb, loss, acc)
                return 1 if (on_batch is not None and on_batch(epoch, b, nb, loss, acc)) else 0
            except BaseException as e:  # noqa: B902 -- re-raised after seqcls_fit
                self.error = e
                return 1

        def epoch_fn(_user, epoch, loss, acc, vloss, vacc):
            if self.error is not None:
                return 1
            try:
                h = self.history
                h.epoch.append(epoch)
                for k, v in (("loss", loss), ("accuracy", acc), ("val_loss", vloss),
                             ("val_accuracy", vacc)):
                    h.history[k].append(v)
                if progress is not None:
                    progress.on_epoch(epoch, loss, acc, vloss, vacc)
                return 1 if (on_epoch is not None and on_epoch(epoch, loss, acc, vloss, vacc)) \
                    else 0
            except BaseException as e:  # noqa: B902
                self.error = e
                return 1

        def schedule(_user, epoch, initial):
            if self.error is not None:
                return initial
            try:
                return float(lr_schedule(epoch, initial))
            except BaseException as e:  # noqa: B902
                self.error = e
                return initial

        # The CFUNCTYPE objects must outlive the C call: they live in self.
        self.c_batch = BATCH_FN(batch)
        self.c_epoch = EPOCH_FN(epoch_fn)
        self.c_schedule = LR_SCHEDULE_FN(schedule) if lr_schedule is not None \
            else LR_SCHEDULE_FN()


class Model:
    """A sequence classifier (seqcls_model_t), built layer by layer.

        m = Model(seed=42)
        m.add_embedding(vocab=10000, dim=64, padding_idx=0)
        m.add_lstm(64, bidirectional=True, return_sequences=True)
        m.add_attention("bahdanau", units=32)
        m.add_output(1)
        m.fit(x, y, lengths=lengths, epochs=3, batch_size=32)
        probs = m.predict(x, lengths)

    Every add_* returns the new layer's index.  The model is freed when the
    last reference goes (or at the end of a `with` block); parameter views
    keep it alive.
    """

    def __init__(self, seed=0, *, _handle=None):
        if _handle is None:
            out = _out_handle()
            check(fn.seqcls_model_create(C.byref(out), cv.uint64(seed, "seed")),
                  "seqcls_model_create")
            _handle = _Handle(out.value, fn.seqcls_model_free)
        self._h = _handle
        self.optimizer = None
        # The inputs of the last forward that succeeded and of a later one that
        # failed (which may have replaced what the model holds): kept until the
        # next forward, for backward.
        self._last_forward = None
        self._failed_forward = None

    # ---- lifetime ----
    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: model is closed")
        return self._h.ptr

    def close(self):
        """Drop the model now (parameter views still alive keep its memory)."""
        self._h = None
        self._last_forward = self._failed_forward = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- construction ----
    def _add(self, name, *args):
        idx = C.c_int(-1)
        f = getattr(fn, name)
        check(f(self._ptr, *args, C.byref(idx)), name)
        return idx.value

    def add_embedding(self, vocab, dim, padding_idx=0, *, weights=None, freeze=False):
        """Token embedding [B, T] ids -> [B, T, dim]; `weights` [rows, dim]
        float32 loads pretrained rows from row 0; `freeze` keeps them fixed."""
        layer = self._add("seqcls_add_embedding", cv.int32(vocab, "vocab"), cv.int32(dim, "dim"),
                          -1 if padding_idx is None else cv.int32(padding_idx, "padding_idx"))
        if weights is not None:
            self.set_embedding_rows(layer, weights)
        if freeze:
            self.set_option(layer, K.OPT_FREEZE, 1)
        return layer

    def add_embedding_bag(self, rows, dim, per_step, *, weights=None, freeze=False):
        """Embedding bag (1.1), fastText's input layer: ids [B, T, per_step]
        (-1 = unused slot, e.g. from Vocab.encode_subwords_batch) -> the mean
        of each step's rows [B, T, dim].  Its table is updated lazily: only
        the rows a batch used."""
        layer = self._add("seqcls_add_embedding_bag", cv.int32(rows, "rows"),
                          cv.int32(dim, "dim"), cv.int32(per_step, "per_step"))
        if weights is not None:
            self.set_embedding_rows(layer, weights)
        if freeze:
            self.set_option(layer, K.OPT_FREEZE, 1)
        return layer

    def set_embedding_rows(self, layer, rows, first_row=0):
        rows = as_array(rows, np.float32, "rows")
        if rows.ndim != 2:
            raise ValueError("seqcls: rows must be [rows, dim], not shape %s" % (rows.shape,))
        check(fn.seqcls_embedding_set_rows(self._ptr, cv.int32(layer, "layer"),
                                           cv.int32(first_row, "first_row"),
                                           cv.int32(rows.shape[0], "rows"),
                                           cv.int32(rows.shape[1], "dim"),
                                           rows.ctypes.data_as(FLOAT_P)),
              "seqcls_embedding_set_rows")

    def add_input(self, features):
        """Float-sequence input F32 [B, T, features]."""
        return self._add("seqcls_add_input", cv.int32(features, "features"))

    @staticmethod
    def _rnn_flags(bidirectional, return_sequences, merge, reset_after=True, flags=0):
        flags = cv.uint32(flags, "flags")
        if bidirectional:
            flags |= K.BIDIRECTIONAL
        if return_sequences:
            flags |= K.RETURN_SEQUENCES
        if merge not in _MERGES:
            raise ValueError("seqcls: merge must be 'concat', 'sum', 'ave' or 'mul', not %r"
                             % (merge,))
        flags |= _MERGES[merge]
        if not reset_after:
            flags |= K.GRU_RESET_BEFORE
        return flags

    def _rnn_options(self, layer, recurrent_activation, dropout, recurrent_dropout):
        if recurrent_activation is not None:
            self.set_option(layer, K.OPT_RECURRENT_ACTIVATION,
                            _code(_ACTIVATIONS, recurrent_activation, "activation"))
        if dropout:
            self.set_option(layer, K.OPT_INPUT_DROPOUT, cv.float32(dropout, "dropout"))
        if recurrent_dropout:
            self.set_option(layer, K.OPT_RECURRENT_DROPOUT,
                            cv.float32(recurrent_dropout, "recurrent_dropout"))

    def add_lstm(self, hidden, *, bidirectional=False, return_sequences=False, merge="concat",
                 recurrent_activation=None, dropout=0.0, recurrent_dropout=0.0, flags=0):
        """LSTM; merge "concat", "sum", "ave" or "mul" (Keras' merge_mode) for a
        bidirectional layer; dropout and recurrent_dropout as Keras'."""
        layer = self._add("seqcls_add_lstm", cv.int32(hidden, "hidden"),
                          self._rnn_flags(bidirectional, return_sequences, merge, flags=flags))
        self._rnn_options(layer, recurrent_activation, dropout, recurrent_dropout)
        return layer

    def add_gru(self, hidden, *, bidirectional=False, return_sequences=False, merge="concat",
                reset_after=True, recurrent_activation=None, dropout=0.0, recurrent_dropout=0.0,
                flags=0):
        """GRU; the options of add_lstm, and reset_after (Keras')."""
        layer = self._add("seqcls_add_gru", cv.int32(hidden, "hidden"),
                          self._rnn_flags(bidirectional, return_sequences, merge, reset_after,
                                          flags))
        self._rnn_options(layer, recurrent_activation, dropout, recurrent_dropout)
        return layer

    def add_attention(self, kind="bahdanau", units=0):
        return self._add("seqcls_add_attention", _code(_ATTENTION, kind, "attention kind"),
                         cv.int32(units, "units"))

    def add_pooling(self, kind="mean"):
        return self._add("seqcls_add_pooling", _code(_POOLING, kind, "pooling kind"))

    def add_dense(self, units, activation=None):
        return self._add("seqcls_add_dense", cv.int32(units, "units"),
                         _code(_ACTIVATIONS, activation, "activation"))

    def add_positional_encoding(self, kind="sinusoidal", max_len=5000, scale_input=False):
        """Positions added to a sequence [B, T, d] (since 1.1): "sinusoidal"
        (the PyTorch tutorial's PositionalEncoding, no parameters) or
        "learned" (a trained [max_len, d] table, nn.Embedding of the
        positions); inputs may have at most `max_len` steps (5000, the
        tutorial's default).  scale_input=True multiplies the input by
        sqrt(d) first, as "Attention is all you need" does for embeddings."""
        layer = self._add("seqcls_add_positional_encoding",
                          _code(_POSITIONAL, kind, "positional encoding kind"),
                          cv.int32(max_len, "max_len"))
        if scale_input:
            self.set_option(layer, K.OPT_SCALE_INPUT, 1)
        return layer

    def add_transformer_encoder(self, heads, ff_dim, norm_first=False, dropout=0.1,
                                activation="relu", ln_eps=1e-5):
        """One transformer encoder layer (since 1.1), PyTorch's
        nn.TransformerEncoderLayer(d_model = the input width, nhead=heads,
        dim_feedforward=ff_dim, dropout, activation ("relu" or "gelu"),
        layer_norm_eps=ln_eps, batch_first=True, norm_first); padding steps
        are masked from the lengths.  Parameters are named as PyTorch's
        state_dict ("<layer>.transformer.self_attn.in_proj_weight", ...)."""
        flags = K.NORM_FIRST if norm_first else 0
        layer = self._add("seqcls_add_transformer_encoder", cv.int32(heads, "heads"),
                          cv.int32(ff_dim, "ff_dim"), flags)
        self.set_option(layer, K.OPT_DROPOUT, cv.float32(dropout, "dropout"))
        self.set_option(layer, K.OPT_ACTIVATION, _code(_ACTIVATIONS, activation, "activation"))
        self.set_option(layer, K.OPT_LN_EPSILON, cv.float32(ln_eps, "ln_eps"))
        return layer

    def add_dropout(self, rate):
        return self._add("seqcls_add_dropout", cv.float32(rate, "rate"))

    def add_batchnorm(self, momentum=None, epsilon=None):
        layer = self._add("seqcls_add_batchnorm")
        if momentum is not None:
            self.set_option(layer, K.OPT_BN_MOMENTUM, cv.float32(momentum, "momentum"))
        if epsilon is not None:
            self.set_option(layer, K.OPT_BN_EPSILON, cv.float32(epsilon, "epsilon"))
        return layer

    def add_output(self, classes):
        return self._add("seqcls_add_output", cv.int32(classes, "classes"))

    def add_conv1d(self, filters, kernel_size, *, padding="valid", dilation=1, activation=None):
        """One-dimensional convolution over each row's valid steps, as
        torch.nn.Conv1d(in, filters, kernel_size, dilation=dilation,
        padding=padding) with stride 1 (weight [filters, in, kernel_size]):
        padding "valid" (len - (k-1)*dilation steps per row) or "same" (as
        many steps as the input).  Since 1.1."""
        if padding not in ("valid", "same"):
            raise ValueError("seqcls: padding must be 'valid' or 'same', not %r" % (padding,))
        layer = self._add("seqcls_add_conv1d", cv.int32(filters, "filters"),
                          cv.int32(kernel_size, "kernel_size"),
                          K.PAD_SAME if padding == "same" else 0)
        if dilation != 1:
            self.set_option(layer, K.OPT_DILATION, cv.int32(dilation, "dilation"))
        if activation is not None:
            self.set_option(layer, K.OPT_ACTIVATION, _code(_ACTIVATIONS, activation,
                                                           "activation"))
        return layer

    def add_flatten(self):
        """[B, T, F] -> [B, T*F] for the fixed number of steps T an earlier
        layer is built for (feature_time attention); every row must be
        full.  Since 1.1."""
        return self._add("seqcls_add_flatten")

    @staticmethod
    def _option(option):
        """(SEQCLS_OPT_* code, is_float or None if unknown) of a name or code."""
        code = _code(_LAYER_OPTIONS, option, "layer option")
        known = code in _LAYER_OPTIONS.values()
        return code, (code in _FLOAT_OPTIONS) if known else None

    def set_option(self, layer, option, value):
        """Set a layer option (SEQCLS_OPT_* or its name, e.g. "freeze",
        "input_dropout", "bn_momentum"): seqcls_layer_set_float for the float
        options, seqcls_layer_set_int for the others (for a code this package
        does not know: float for a Python float)."""
        code, is_float = self._option(option)
        layer = cv.int32(layer, "layer")
        if is_float is None:
            is_float = isinstance(value, (float, np.floating))
        if is_float:
            check(fn.seqcls_layer_set_float(self._ptr, layer, code, cv.float32(value, "value")),
                  "seqcls_layer_set_float")
        else:
            check(fn.seqcls_layer_set_int(self._ptr, layer, code, cv.int32(value, "value")),
                  "seqcls_layer_set_int")

    def get_option(self, layer, option):
        """The value of a layer option, an int or a float by the option's
        type: those that can be set and those fixed by the constructor
        ("units", "vocab", "padding_idx", "activation", "kind", "flags",
        "dropout", "heads", "ff_dim", "ln_epsilon", "max_len", "scale_input";
        or a SEQCLS_OPT_* code).  Since 1.1."""
        code, is_float = self._option(option)
        layer = cv.int32(layer, "layer")
        if is_float is None:       # a code newer than this package: try both
            try:
                return self._get_option(layer, code, False)
            except InvalidArgumentError as first:
                try:
                    return self._get_option(layer, code, True)
                except InvalidArgumentError:
                    raise first from None
        return self._get_option(layer, code, is_float)

    def _get_option(self, layer, code, is_float):
        if is_float:
            v = C.c_float(0)
            check(fn.seqcls_layer_get_float(self._ptr, layer, code, C.byref(v)),
                  "seqcls_layer_get_float")
            return float(v.value)
        v = C.c_int(0)
        check(fn.seqcls_layer_get_int(self._ptr, layer, code, C.byref(v)),
              "seqcls_layer_get_int")
        return v.value

    def layer_kind(self, layer):
        """The kind of layer `layer`: "embedding", "input", "lstm", "gru",
        "attention", "pooling", "dense", "dropout", "batchnorm", "output",
        "conv1d", "flatten", "positional_encoding" or "transformer_encoder"
        (the SEQCLS_LAYER_* code itself for a kind newer than this package).
        Since 1.1."""
        kind = check(fn.seqcls_layer_kind(self._ptr, cv.int32(layer, "layer")),
                     "seqcls_layer_kind")
        return LAYER_KINDS.get(kind, kind)

    # ---- inspection ----
    def __len__(self):
        return fn.seqcls_layer_count(self._ptr)

    @property
    def layers(self):
        """One line per layer (seqcls_layer_describe)."""
        out = []
        buf = C.create_string_buffer(512)
        for i in range(len(self)):
            check(fn.seqcls_layer_describe(self._ptr, i, buf, len(buf)), "seqcls_layer_describe")
            out.append(buf.value.decode("utf-8"))
        return out

    def summary(self):
        return "\n".join("%2d  %s" % (i, s) for i, s in enumerate(self.layers))

    @property
    def num_classes(self):
        """Width of the output layer's logits (1 for a sigmoid output), from
        seqcls_model_output_width; StateError if there is no output layer."""
        return check(fn.seqcls_model_output_width(self._ptr), "seqcls_model_output_width")

    @property
    def output_ndim(self):
        """Rank of the logits and probabilities (seqcls_model_output_ndim): 2,
        [B, C] with labels [B]; or 3, [B, T, C] with labels [B, T], for a
        per-step model (an output layer after a sequence: a tagger, a
        language model).  Since 1.1."""
        return check(fn.seqcls_model_output_ndim(self._ptr), "seqcls_model_output_ndim")

    def _out_shape(self, arr):
        """The logits' / probabilities' shape for input `arr` ([B, T(, F)])."""
        C = self.num_classes
        return (arr.shape[0], arr.shape[1], C) if self.output_ndim == 3 else (arr.shape[0], C)

    def stream(self):
        """A Stream over this model (seqcls_stream_create): one sequence, a
        chunk of steps at a time.  Since 1.1."""
        return Stream(self)

    @property
    def meta(self):
        """The model's metadata store (seqcls_model_set_meta...), saved with
        it: a mutable mapping of str keys to str values, in the order keys
        were first set.  m.meta["maxlen"] = "200"; del m.meta["maxlen"].
        Invalid keys or values raise ValueError with the library's message.
        Since 1.1."""
        return Meta(self)

    @meta.setter
    def meta(self, items):
        """Replace the whole store (all or nothing: on an error the old
        contents are put back)."""
        items = dict(items)
        store = Meta(self)
        old = list(store.items())
        try:
            store.clear()
            store.update(items)
        except BaseException:
            store.clear()
            store.update(old)
            raise

    # ---- reduced precision (1.1) ----
    def quantize(self, precision="int8"):
        """Quantise the model for inference (seqcls_model_quantize): "int8"
        (int8 weights per output channel, activations per row, int32 sums)
        or "bf16" (bfloat16, float32 sums), or seqcls.INT8 / seqcls.BF16.
        The weights of embedding, dense, output, LSTM and GRU layers are
        stored in that precision and their float32 values freed: the model
        predicts, evaluates, streams and saves, but fit and the other
        training calls raise StateError, and so does param() of a
        quantised weight.  Returns self."""
        if isinstance(precision, str):
            if precision not in ("int8", "bf16"):
                raise ValueError("seqcls: precision must be 'int8' or 'bf16', not %r" % precision)
            precision = K.PRECISIONS[precision]
        check(fn.seqcls_model_quantize(self._ptr, cv.int32(precision, "precision")),
              "seqcls_model_quantize")
        return self

    @property
    def precision(self):
        """The precision of the model's weights: "fp32", "bf16" or "int8"
        (seqcls_model_precision)."""
        p = check(fn.seqcls_model_precision(self._ptr), "seqcls_model_precision")
        return {v: k for k, v in K.PRECISIONS.items()}[p]

    def param_precision(self, name):
        """(precision, shape) of a parameter by name or index: "fp32", "bf16"
        or "int8", and its shape (seqcls_param_precision), also for a
        quantised weight, whose value param() refuses."""
        p, i = self._ptr, self._param_index(name)
        ndim = C.c_int(0)
        shape = (C.c_int64 * K.MAX_DIMS)()
        prec = check(fn.seqcls_param_precision(p, i, C.byref(ndim), shape),
                     "seqcls_param_precision")
        return ({v: k for k, v in K.PRECISIONS.items()}[prec],
                tuple(shape[d] for d in range(ndim.value)))

    def param_names(self):
        p = self._ptr
        return [fn.seqcls_param_name(p, i).decode("utf-8")
                for i in range(fn.seqcls_param_count(p))]

    def _param_index(self, name):
        if isinstance(name, (str, bytes)):
            i = fn.seqcls_param_find(self._ptr, cv.cstring(name, "parameter name"))
        else:
            i = cv.int32(name, "parameter index")
        if i < 0:
            raise KeyError(name)
        return i

    def _param_tensors(self, name):
        p, i = self._ptr, self._param_index(name)
        v, g = _out_handle(), _out_handle()
        check(fn.seqcls_param(p, i, C.byref(v), C.byref(g)), "seqcls_param")
        return (Tensor._borrowed(v.value, self._h), Tensor._borrowed(g.value, self._h))

    def param(self, name):
        """numpy view (no copy) of a parameter's value, by name or index;
        writing to it changes the model (weight import).  It keeps the model's
        memory alive."""
        return self._param_tensors(name)[0].numpy()

    def grad(self, name):
        """numpy view of a parameter's gradient."""
        return self._param_tensors(name)[1].numpy()

    def parameters(self):
        """{name: numpy view} of every parameter, like a PyTorch state_dict."""
        return {n: self.param(i) for i, n in enumerate(self.param_names())}

    def load_state_dict(self, state):
        """Copy arrays into the parameters of the same names (shapes must match)."""
        for name, value in state.items():
            dst = self.param(name)
            src = cv.float32_array(value, name)
            if src.shape != dst.shape:
                raise ValueError("seqcls: %s has shape %s, not %s" % (name, dst.shape,
                                                                       src.shape))
            dst[...] = src

    # ---- vocabulary and labels ----
    @property
    def vocab(self):
        """A copy of the model's vocabulary (a Vocab), or None."""
        v = fn.seqcls_model_vocab(self._ptr)
        if not v:
            return None
        borrowed = Vocab(_handle=_Handle(v, None, (self._h,)))
        return Vocab.from_bytes(borrowed.to_bytes())

    @vocab.setter
    def vocab(self, v):
        check(fn.seqcls_model_set_vocab(self._ptr, None if v is None else v._ptr),
              "seqcls_model_set_vocab")

    @property
    def labels(self):
        p = self._ptr
        return [fn.seqcls_model_label(p, i).decode("utf-8")
                for i in range(fn.seqcls_model_label_count(p))]

    @labels.setter
    def labels(self, names):
        names = [] if names is None else [cv.cstring(n, "label %d" % i)
                                          for i, n in enumerate(names)]
        arr = (C.c_char_p * max(len(names), 1))(*names)
        check(fn.seqcls_model_set_labels(self._ptr, cv.int32(len(names), "number of labels"),
                                         arr if names else None), "seqcls_model_set_labels")

    # ---- text in, label names out ----
    def set_vocab(self, vocab, maxlen=DEFAULT_MAXLEN, truncating="post"):
        """Attach `vocab` (a built Vocab) and the maximum length texts are
        cut to, as `seqcls train` does: the model keeps a copy of the
        vocabulary, and its metadata "maxlen" and "tokens" (the
        vocabulary's tokenisation mode), and "truncate" with
        truncating="pre" (a longer text keeps its last tokens; 1.1), all
        saved with it.  Then fit, evaluate, predict, predict_text and
        predict_labels take lists of str.  The embedding's vocab should be
        len(vocab)."""
        if not isinstance(vocab, Vocab):
            raise TypeError("seqcls: set_vocab takes a seqcls.Vocab, not %s"
                            % type(vocab).__name__)
        n = cv.int32(maxlen, "maxlen")
        if not 1 <= n <= MAX_MAXLEN:
            raise ValueError("seqcls: maxlen = %d is not in [1, %d]" % (n, MAX_MAXLEN))
        if truncating not in ("post", "pre"):
            raise ValueError("seqcls: truncating must be 'post' or 'pre', not %r" % (truncating,))
        self.vocab = vocab
        meta = self.meta
        meta["maxlen"] = str(n)
        meta["tokens"] = str(getattr(vocab, "tokens", None) or "word")
        if truncating == "pre":
            meta["truncate"] = "pre"
        elif "truncate" in meta:   # absent means post, as the command line writes it
            del meta["truncate"]
        return self

    @property
    def truncating(self):
        """Which tokens of a text longer than maxlen the model reads: "post"
        (the first) or "pre" (the last), its "truncate" metadata (what
        `seqcls train --truncate` or set_vocab wrote; absent: "post").
        Since 1.1."""
        v = fn.seqcls_model_get_meta(self._ptr, b"truncate")
        if v is None:
            return "post"
        if v not in (b"pre", b"post"):
            raise ValueError('seqcls: the model\'s "truncate" metadata %r is not pre or post'
                             % v.decode("utf-8", "replace"))
        return v.decode()

    @property
    def maxlen(self):
        """The maximum length of texts: the model's "maxlen" metadata (what
        `seqcls train --maxlen` or set_vocab wrote), else 256 (DEFAULT_MAXLEN,
        as the command line for a model without it)."""
        v = fn.seqcls_model_get_meta(self._ptr, b"maxlen")
        if v is None:
            return DEFAULT_MAXLEN
        # what the command line's strtol accepts, and nothing else
        m = re.fullmatch(rb"[ \t\n\v\f\r]*[+-]?[0-9]{1,9}", v)
        n = int(m.group(0)) if m else 0
        if not 1 <= n <= MAX_MAXLEN:
            raise ValueError('seqcls: the model\'s "maxlen" metadata %r is not a length in '
                             '[1, %d]' % (v.decode("utf-8", "replace"), MAX_MAXLEN))
        return n

    @property
    def tokens(self):
        """The tokenisation mode the model was trained with (its "tokens"
        metadata, "word" when absent).  The vocabulary applies it itself."""
        v = fn.seqcls_model_get_meta(self._ptr, b"tokens")
        return "word" if v is None else v.decode("utf-8")

    def _vocab_view(self):
        """The model's own vocabulary, borrowed (no copy); it keeps the model alive."""
        v = fn.seqcls_model_vocab(self._ptr)
        if not v:
            raise StateError("seqcls: the model has no vocabulary, so it cannot read text: "
                             "attach one with model.set_vocab(seqcls.Vocab(texts)), or train "
                             "with `seqcls train`", function="seqcls_model_vocab")
        return Vocab(_handle=_Handle(v, None, (self._h,)))

    def encode_text(self, texts, maxlen=None, truncating=None):
        """(ids int32 [N, maxlen], lengths int32 [N]) of a list of str, with
        the model's vocabulary (and its tokenisation mode), maximum length
        and truncation (the model's own unless `maxlen` or `truncating` is
        given); for a model whose first layer is an embedding bag, ids
        [N, maxlen, per_step] of each token's id and its character n-grams
        (Vocab.encode_subwords; the first maxlen tokens only)."""
        texts = _text_list(texts)
        maxlen = self.maxlen if maxlen is None else maxlen
        truncating = self.truncating if truncating is None else truncating
        if len(self) and self.layer_kind(0) == "embedding_bag":
            if truncating == "pre":
                raise ValueError("seqcls: truncating='pre' is not available for an embedding "
                                 "bag's subwords (the first maxlen tokens are read)")
            return self._vocab_view().encode_subwords_batch(texts, maxlen,
                                                            self.get_option(0, "per_step"))
        return self._vocab_view().encode_batch(texts, maxlen, truncating)

    def _text_input(self, x, lengths, what="x"):
        """(x, lengths) with a list of texts encoded; arrays as they are."""
        if not _is_texts(x):
            return x, lengths
        if lengths is not None:
            raise ValueError("seqcls: %s is a list of texts: their lengths come from the "
                             "vocabulary, do not give lengths" % what)
        return self.encode_text(x)

    def _label_indices(self, y, what="y", fit=False):
        """`y` as class indices: label names (str) are looked up in the
        model's labels; when fitting a model that has none yet, the model
        takes the names in the command line's order (sorted)."""
        if not _is_texts(y):
            return y
        y = [str(n) for n in y] if isinstance(y, np.ndarray) else list(y)
        names = self.labels
        if not names:
            if not fit:
                raise StateError("seqcls: %s holds label names but the model has none: train "
                                 "it with label names, or set model.labels" % what)
            names = label_order(y)
            outputs = self.num_classes
            classes = 2 if outputs == 1 else outputs
            if len(names) != classes:
                raise ValueError("seqcls: %s has %d label names (%s) but the model has %d "
                                 "classes (add_output(%d)%s)"
                                 % (what, len(names), ", ".join(names[:10]), classes, outputs,
                                    ": one logit for two classes" if outputs == 1 else ""))
            self.labels = names
        index = {n: i for i, n in enumerate(names)}
        out = np.empty(len(y), np.int32)
        for i, name in enumerate(y):
            try:
                out[i] = index[name]
            except (KeyError, TypeError):
                raise ValueError("seqcls: %s[%d] = %r is not one of the model's labels %s"
                                 % (what, i, name, names)) from None
        return out

    def predict_text(self, texts, *, maxlen=None, return_labels=False):
        """Class probabilities [N, C] of a list of str (a single str is a
        list of one), read as the model was trained: its own vocabulary,
        tokenisation mode and maximum length (model.maxlen; `maxlen`
        overrides it).  C = 1 for a one-logit model (p of labels[1]), as
        predict.  With return_labels=True returns (probs, names), the
        names as predict_labels gives them."""
        ids, lengths = self.encode_text(texts, maxlen)
        probs = self.predict(ids, lengths)
        if return_labels:
            return probs, self._names(self._classes(probs))
        return probs

    def predict_labels(self, x, lengths=None):
        """The label name of the most probable class of each row: of a list
        of texts (read as predict_text reads them) or of id/feature arrays.
        A one-logit model predicts labels[1] when p >= 0.5.  StateError if
        the model has no label names (fit with names, or set model.labels)."""
        if _is_texts(x) and lengths is None:
            x, lengths = self.encode_text(x)
        return self._names(self.predict_classes(x, lengths))

    def _names(self, classes):
        names = self.labels
        if not names:
            raise StateError("seqcls: the model has no label names (fit it with label names, "
                             "or set model.labels = [...])", function="seqcls_model_label")
        return [names[c] for c in classes]

    @staticmethod
    def _classes(p):
        """The class of each row (of each step, for [B, T, C])."""
        if p.shape[-1] == 1:
            return (p[..., 0] >= 0.5).astype(np.int32)
        return p.argmax(axis=-1).astype(np.int32)

    # ---- low level: forward / backward ----
    @staticmethod
    def _input(x, copy=False):
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            arr = as_array(x, np.float32, "x")
        else:
            arr = as_array(x, np.int32, "x")
        if arr.ndim < 2:
            raise ValueError("seqcls: x must be [B, T] ids, [B, T, P] bags of ids or [B, T, F] "
                             "floats, not shape %s"
                             % (arr.shape,))
        if copy:
            arr = np.array(arr, order="C", copy=True)
        return arr, Tensor(arr)

    def forward(self, x, lengths=None, training=True):
        """Logits [B, C] (a new array; [B, T, C] for a per-step model).
        With training=True the model keeps what backward needs: the forward runs on a private copy of `x`, held
        until the next forward, so changing or dropping the caller's array
        before backward changes nothing (issue 14)."""
        arr, xt = self._input(x, copy=bool(training))
        larr, lp = lengths_arg(lengths, arr.shape[0])
        logits = np.zeros(self._out_shape(arr), np.float32)
        lt = Tensor(logits)
        rc = fn.seqcls_forward(self._ptr, xt._ptr, lp, lt._ptr, 1 if training else 0)
        # The model may read its input again in backward: keep it alive until
        # the next forward.  After a failure keep the previous one too, in
        # case the model still refers to it.
        if rc >= 0:
            self._last_forward, self._failed_forward = (arr, xt, larr), None
        else:
            self._failed_forward = (arr, xt, larr)
        check(rc, "seqcls_forward")
        return logits

    def backward(self, dlogits):
        dl = as_array(dlogits, np.float32, "dlogits")
        dt = Tensor(dl)   # a named reference: the tensor must outlive the call
        check(fn.seqcls_backward(self._ptr, dt._ptr), "seqcls_backward")

    def loss_backward(self, labels):
        """Built-in loss of the last training forward, back-propagated; returns the loss."""
        y = as_array(labels, np.int32, "labels")
        loss = C.c_float(0)
        yt = Tensor(y)
        check(fn.seqcls_loss_backward(self._ptr, yt._ptr, C.byref(loss)),
              "seqcls_loss_backward")
        return loss.value

    def zero_grad(self):
        check(fn.seqcls_zero_grad(self._ptr), "seqcls_zero_grad")

    def input_grad(self):
        """d(loss)/d(input) [B, T, F] of the last backward (a copy)."""
        g = _out_handle()
        check(fn.seqcls_input_grad(self._ptr, C.byref(g)), "seqcls_input_grad")
        return Tensor._borrowed(g.value, self._h).numpy().copy()

    def train_step(self, x, y, lengths=None, optimizer=None):
        """One zero_grad / forward / loss_backward / step; returns the loss."""
        opt = self._optimizer(optimizer)
        self.zero_grad()
        self.forward(x, lengths, training=True)
        loss = self.loss_backward(y)
        opt.step(self)
        return loss

    def attention_weights(self, layer=-1):
        """Attention weights [B, T] of the last forward or predict... of
        seqcls_forward (a copy; -1 = the last attention layer).  For weights
        of a predict call use predict(..., return_attention=True)."""
        w = _out_handle()
        check(fn.seqcls_attention_weights(self._ptr, cv.int32(layer, "layer"), C.byref(w)),
              "seqcls_attention_weights")
        return Tensor._borrowed(w.value, self._h).numpy().copy()

    def final_states(self, layer=-1):
        """(h, c) of recurrent layer `layer` (-1 = the last one) after the last
        Model.forward: h [B, dirs*H] = forward state at each row's last valid
        step | backward state at step 0, c the same of an LSTM's cell (None
        for a GRU).  PyTorch's h_n [dirs, B, H] over a packed batch is
        h_n.transpose(0, 1).reshape(B, -1).  Since 1.1."""
        from .errors import StateError
        layer = cv.int32(layer, "layer")
        if self._last_forward is None:
            raise StateError("seqcls: final_states: no Model.forward has run yet",
                             function="seqcls_final_states")
        index = layer
        if layer == -1:
            kinds = [self.layer_kind(i) for i in range(len(self))]
            rec = [i for i, k in enumerate(kinds) if k in ("lstm", "gru")]
            index = rec[-1] if rec else -1
        width = None
        if 0 <= index < len(self) and self.layer_kind(index) in ("lstm", "gru"):
            bi = self.get_option(index, "flags") & K.BIDIRECTIONAL
            width = self.get_option(index, "units") * (2 if bi else 1)
        if width is None:   # let the library name the problem
            check(fn.seqcls_final_states(self._ptr, layer, None, None), "seqcls_final_states")
        B = self._last_forward[0].shape[0]
        h = np.zeros((B, width), np.float32)
        ht = Tensor(h)
        c, ct = None, None
        if self.layer_kind(index) == "lstm":
            c = np.zeros((B, width), np.float32)
            ct = Tensor(c)
        check(fn.seqcls_final_states(self._ptr, layer, ht._ptr, ct._ptr if ct else None),
              "seqcls_final_states")
        return h, c

    def self_attention_weights(self, layer):
        """The self-attention weights of transformer layer `layer` in the
        last forward (Model.forward), a new float32 array [B, heads, T, T]:
        [b, h, i, j] is the weight query step i gives key step j; rows of
        valid queries sum to 1 over the valid keys, everything else is 0.
        Since 1.1."""
        layer = cv.int32(layer, "layer")
        kind = check(fn.seqcls_layer_kind(self._ptr, layer), "seqcls_layer_kind")
        if kind != K.LAYER_TRANSFORMER_ENCODER or self._last_forward is None:
            # not a transformer layer, or no forward: the library says which
            probe = Tensor(np.zeros((1, 1, 1, 1), np.float32))
            check(fn.seqcls_self_attention_weights(self._ptr, layer, probe._ptr),
                  "seqcls_self_attention_weights")
        heads = self.get_option(layer, K.OPT_HEADS)
        B, T = self._last_forward[0].shape[:2]
        out = np.zeros((B, heads, T, T), np.float32)
        ot = Tensor(out)
        check(fn.seqcls_self_attention_weights(self._ptr, layer, ot._ptr),
              "seqcls_self_attention_weights")
        return out

    # ---- Keras-like ----
    def predict(self, x, lengths=None, *, return_attention=False, out=None):
        """Class probabilities [B, C] (C = 1: p of class 1; a per-step model:
        [B, T, C], zero at padding steps).  Thread-safe.
        With return_attention=True returns (probs, attention [B, T]).
        x may be a list of texts (see predict_text)."""
        x, lengths = self._text_input(x, lengths)
        arr, xt = self._input(x)
        larr, lp = lengths_arg(lengths, arr.shape[0])
        if out is None:
            out = np.zeros(self._out_shape(arr), np.float32)
        else:
            out = as_array(out, np.float32, "out", writable=True)
        pt = Tensor(out)
        att = at = None
        if return_attention:
            att = np.zeros(arr.shape[:2], np.float32)
            at = Tensor(att)
        check(fn.seqcls_predict(self._ptr, xt._ptr, lp, pt._ptr, at._ptr if at else None),
              "seqcls_predict")
        return (out, att) if return_attention else out

    def predict_classes(self, x, lengths=None):
        """Class indices [B] (int32; a per-step model: [B, T], 0 at padding
        steps); predict_labels gives their names."""
        if _is_texts(x) and lengths is None:
            x, lengths = self.encode_text(x)
        cls = self._classes(self.predict(x, lengths))
        if cls.ndim == 2 and lengths is not None:
            cls[np.arange(cls.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = 0
        return cls

    def evaluate(self, x, y, lengths=None, batch_size=0):
        """Loss, accuracy, per-class precision/recall/F1, confusion (a Metrics).
        x may be a list of texts and y a list of label names.  A per-step
        model takes y [N, T] and is scored token by token over the valid
        steps."""
        x, lengths = self._text_input(x, lengths)
        arr, xt = self._input(x)
        larr, lp = lengths_arg(lengths, arr.shape[0])
        ya = as_array(self._label_indices(y), np.int32, "y")
        out = _out_handle()
        yt = Tensor(ya)
        check(fn.seqcls_evaluate(self._ptr, xt._ptr, lp, yt._ptr,
                                 cv.int32(batch_size, "batch_size"),
                                 C.byref(out)), "seqcls_evaluate")
        return Metrics(out.value)

    def compile(self, optimizer="adam", lr=1e-3, **options):
        """Choose the optimiser fit and train_step use (default: Adam, lr 1e-3)."""
        self.optimizer = optimizer if isinstance(optimizer, Optimizer) \
            else Optimizer(optimizer, lr, **options)
        return self

    def _optimizer(self, optimizer):
        if optimizer is not None:
            self.optimizer = optimizer if isinstance(optimizer, Optimizer) \
                else Optimizer(optimizer)
        if self.optimizer is None:
            self.optimizer = Optimizer("adam", 1e-3)
        return self.optimizer

    def fit(self, x, y, lengths=None, *, epochs=10, batch_size=32, validation_split=0.0,
            validation_data=None, callback=None, on_epoch=None, lr_schedule=None,
            shuffle=True, seed=0, patience=0, restore_best=True, bucketing=True,
            initial_epoch=0, optimizer=None, verbose=1, comm=None):
        """Train with seqcls_fit; returns a History (per-epoch loss, accuracy,
        val_loss, val_accuracy; NaN without validation data).

        verbose: 1 (the default, as Keras) shows a progress bar per epoch
        (on a terminal; elsewhere one line at its end) with the loss,
        accuracy, validation figures and time; 2 one line per epoch; 0
        nothing.  When the weights of an earlier epoch are kept
        (restore_best with validation data), fit says which.

        x: ids [N, T] int32 or features [N, T, F] float32, or a list of
        texts once the model has a vocabulary (set_vocab).  y: class
        indices, or label names (str), which the model keeps (labels,
        sorted as the command line sorts them) for predict_labels.

        callback(epoch, batch, batches, loss, accuracy) runs after every batch,
        on_epoch(epoch, loss, accuracy, val_loss, val_accuracy) after every
        epoch; either returning True stops training.  An exception raised in
        one stops training and is re-raised here.  lr_schedule(epoch,
        initial_lr) -> lr.  validation_data = (x, y) or (x, y, lengths).
        validation_split holds out the last rows, as Keras.
        comm (a seqcls.Comm) trains this process's replica of a data-parallel job:
        every rank passes the whole data and the same settings
        (seqcls_fit_config_set_comm, docs/distributed.md); ranks but 0 print nothing.
        """
        if comm is not None and comm.rank != 0:
            verbose = 0          # rank 0 prints for the job
        progress = Progress(verbose, cv.int64(epochs, "epochs"))
        x, lengths = self._text_input(x, lengths)
        y = self._label_indices(y, fit=True)
        opt = self._optimizer(optimizer)
        # Lengths and labels are copied (they are small): seqcls_fit reads them
        # throughout training, and Python code runs meanwhile (the callbacks,
        # other threads), which must not be able to change them under it.
        # x is not copied: the library gathers each batch into a buffer of its
        # own and checks it there.
        arr, xt = self._input(x)
        larr, lp = _private_lengths(lengths, arr.shape[0], "lengths")
        ya = np.array(as_array(y, np.int32, "y"), copy=True)
        yt = Tensor(ya)
        vxt = vyt = vlp = None
        keep = []
        if validation_data is not None:
            if len(validation_data) == 2:
                (vx, vy), vl = validation_data, None
            else:
                vx, vy, vl = validation_data
            vx, vl = self._text_input(vx, vl, "validation x")
            vy = self._label_indices(vy, "validation y")
            varr, vxt = self._input(vx)
            vlarr, vlp = _private_lengths(vl, varr.shape[0], "validation lengths")
            vya = np.array(as_array(vy, np.int32, "validation y"), copy=True)
            vyt = Tensor(vya)
            keep += [varr, vlarr, vya]

        cfg_out = _out_handle()
        check(fn.seqcls_fit_config_create(C.byref(cfg_out)), "seqcls_fit_config_create")
        cfg = _Handle(cfg_out.value, fn.seqcls_fit_config_free)
        for setting, name, value in (
                (K.FIT_BATCH_SIZE, "batch_size", batch_size), (K.FIT_EPOCHS, "epochs", epochs),
                (K.FIT_SHUFFLE, "shuffle", bool(shuffle)), (K.FIT_SEED, "seed", seed),
                (K.FIT_PATIENCE, "patience", patience),
                (K.FIT_RESTORE_BEST, "restore_best", bool(restore_best)),
                (K.FIT_BUCKETING, "bucketing", bool(bucketing)),
                (K.FIT_INITIAL_EPOCH, "initial_epoch", initial_epoch)):
            check(fn.seqcls_fit_config_set_int(cfg.ptr, setting, cv.int64(value, name)),
                  "seqcls_fit_config_set_int")
        if validation_split:
            check(fn.seqcls_fit_config_set_float(cfg.ptr, K.FIT_VALID_SPLIT,
                                                 cv.float32(validation_split,
                                                            "validation_split")),
                  "seqcls_fit_config_set_float")
        history = History()
        cbs = _FitCallbacks(history, callback, on_epoch, lr_schedule, progress)
        check(fn.seqcls_fit_config_set_callbacks(cfg.ptr, cbs.c_batch, cbs.c_epoch,
                                                 cbs.c_schedule, None),
              "seqcls_fit_config_set_callbacks")
        if comm is not None:
            check(fn.seqcls_fit_config_set_comm(cfg.ptr, comm._ptr), "seqcls_fit_config_set_comm")
        try:
            rc = fn.seqcls_fit(self._ptr, opt._ptr, xt._ptr, lp, yt._ptr,
                               vxt._ptr if vxt else None, vlp, vyt._ptr if vyt else None,
                               cfg.ptr)
        finally:
            progress.close()
        del keep, larr
        if cbs.error is not None:
            raise cbs.error
        if comm is not None and getattr(comm, "error", None) is not None and rc < 0:
            raise comm.error
        check(rc, "seqcls_fit")
        if restore_best:
            history.best_epoch = _best_epoch(history)
            if history.best_epoch is not None:
                i = history.epoch.index(history.best_epoch)
                progress.kept(history.best_epoch, history.epoch[-1], history["val_loss"][i])
        return history

    # ---- save / load ----
    def save(self, path):
        """Save the whole model to `path`, atomically (seqcls_model_save)."""
        check(fn.seqcls_model_save(self._ptr, cv.path(path)), "seqcls_model_save")

    @classmethod
    def load(cls, path):
        out = _out_handle()
        check(fn.seqcls_model_load(C.byref(out), cv.path(path)), "seqcls_model_load")
        return cls(_handle=_Handle(out.value, fn.seqcls_model_free))

    def save_checkpoint(self, path, optimizer):
        """Save the model with `optimizer`'s state (seqcls_checkpoint_save), so that
        training resumes exactly (fit with initial_epoch)."""
        check(fn.seqcls_checkpoint_save(self._ptr, optimizer._ptr, cv.path(path)),
              "seqcls_checkpoint_save")

    @classmethod
    def load_checkpoint(cls, path):
        """(model, optimizer) from a file of save_checkpoint."""
        m, o = _out_handle(), _out_handle()
        check(fn.seqcls_checkpoint_load(C.byref(m), C.byref(o), cv.path(path)),
              "seqcls_checkpoint_load")
        model = cls(_handle=_Handle(m.value, fn.seqcls_model_free))
        opt = Optimizer.__new__(Optimizer)
        opt._h = _Handle(o.value, fn.seqcls_optimizer_free)
        return model, opt

    def to_bytes(self):
        return _save_bytes("seqcls_model_save_buffer", self._ptr)

    @classmethod
    def from_bytes(cls, data):
        return cls(_handle=_load_bytes("seqcls_model_load_buffer", "seqcls_model_free", data))

    def __repr__(self):
        if self._h is None:
            return "<seqcls.Model closed>"
        return "<seqcls.Model %d layers, %d parameter tensors>" % (
            len(self), fn.seqcls_param_count(self._ptr))


class Stream:
    """A model run over one sequence as it arrives (seqcls_stream_t): the
    state of its layers is kept between push calls, so pushing a sequence
    in chunks gives what Model.predict gives for the whole of it.

        s = model.stream()
        p = s.push(ids[:10])        # probabilities after step 10: [C]
        p = s.push(ids[10:12])      # after step 12
        s.reset()                   # a new sequence

    For a per-step model push returns one row per pushed step, [n, C].
    Many streams may run on one model, from several threads; the stream
    keeps its model alive.  Since 1.1."""

    def __init__(self, model):
        out = _out_handle()
        check(fn.seqcls_stream_create(C.byref(out), model._ptr), "seqcls_stream_create")
        self._h = _Handle(out.value, fn.seqcls_stream_free, (model._h,))
        self._classes = model.num_classes
        self._per_step = model.output_ndim == 3

    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: stream is closed")
        return self._h.ptr

    def push(self, x, out=None):
        """Feed the next steps: ids (int32 [n]), bags of ids for an embedding
        bag (int32 [n, per_step]) or features (float32 [n, F]).
        Returns the probabilities ([C], or [n, C] per step; written into `out`
        if given).  A push that fails changes nothing."""
        if isinstance(x, np.ndarray) and x.dtype == np.float32:
            arr = as_array(x, np.float32, "x")
        else:
            arr = as_array(x, np.int32, "x")
        n = arr.shape[0] if arr.ndim else 0
        shape = (n, self._classes) if self._per_step else (self._classes,)
        if out is None:
            out = np.zeros(shape, np.float32)
        else:
            out = as_array(out, np.float32, "out", writable=True)
        xt, pt = Tensor(arr), Tensor(out)
        check(fn.seqcls_stream_push(self._ptr, xt._ptr, cv.int32(n, "n_steps"), pt._ptr),
              "seqcls_stream_push")
        return out

    def reset(self):
        """Back to the start of a sequence."""
        check(fn.seqcls_stream_reset(self._ptr), "seqcls_stream_reset")

    def close(self):
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Sampler:
    """seqcls_sample with its own 64-bit generator state: draws a class from
    probabilities at a temperature (weights p_i^(1/T), renormalised; T = 0:
    the most probable class; a single probability: p of class 1).  The same
    seed gives the same draws on every platform.  Since 1.1.

        draw = seqcls.Sampler(seed=7)
        c = draw(probs, temperature=0.8)
    """

    def __init__(self, seed=0):
        self._state = C.c_uint64(cv.uint64(seed, "seed"))

    @property
    def state(self):
        """The generator's state (the seed before the first draw)."""
        return self._state.value

    def __call__(self, probs, temperature=1.0):
        p = as_array(probs, np.float32, "probs")
        if p.ndim != 1:
            raise ValueError("seqcls: probs must be one row of probabilities, not shape %s"
                             % (p.shape,))
        return check(fn.seqcls_sample(p.ctypes.data_as(FLOAT_P), cv.int32(p.shape[0], "n"),
                                      cv.float32(temperature, "temperature"),
                                      C.byref(self._state)), "seqcls_sample")


class Meta(MutableMapping):
    """A model's metadata store as a mutable mapping (Model.meta): str keys
    (1 to 64 ASCII letters, digits, '.', '_', '-') to str values (UTF-8
    text without NUL, at most 65,536 bytes), at most 256 keys, iterated in
    the order they were first set.  Reads and writes go straight to the C
    model; the view keeps the model alive."""

    __slots__ = ("_model",)

    def __init__(self, model):
        self._model = model

    @property
    def _ptr(self):
        return self._model._ptr

    def __getitem__(self, key):
        if not isinstance(key, str):
            raise KeyError(key)
        v = fn.seqcls_model_get_meta(self._ptr, cv.cstring(key, "meta key"))
        if v is None:
            raise KeyError(key)
        return v.decode("utf-8")

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError("seqcls: meta keys are str, not %s" % type(key).__name__)
        if not isinstance(value, str):
            raise TypeError("seqcls: meta values are str, not %s (convert it with str())"
                            % type(value).__name__)
        check(fn.seqcls_model_set_meta(self._ptr, cv.cstring(key, "meta key"),
                                       cv.cstring(value, "the value of meta key %r" % key)),
              "seqcls_model_set_meta")

    def __delitem__(self, key):
        if isinstance(key, str):
            cv.cstring(key, "meta key")        # a NUL in the key is a ValueError
        if key not in self:
            raise KeyError(key)
        check(fn.seqcls_model_set_meta(self._ptr, cv.cstring(key, "meta key"), None),
              "seqcls_model_set_meta")

    def __contains__(self, key):
        if not isinstance(key, str) or "\0" in key:
            return False
        return fn.seqcls_model_get_meta(self._ptr, cv.cstring(key, "meta key")) is not None

    def _keys(self):
        p = self._ptr
        out = []
        for i in range(fn.seqcls_model_meta_count(p)):
            k = fn.seqcls_model_meta_key(p, i)
            if k is not None:
                out.append(k.decode("utf-8"))
        return out

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return fn.seqcls_model_meta_count(self._ptr)

    def __repr__(self):
        return "<seqcls.Model.meta %r>" % dict(self.items())
