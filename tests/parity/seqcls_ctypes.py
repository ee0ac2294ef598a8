"""Minimal ctypes binding of lib/libseqcls.so.1 for the parity tests.

Only the calls the tests need are declared.  `Model` owns a model and
frees it; `tensor_from` wraps a float32/int32 numpy array without a copy
(the array must stay alive while the tensor is used).
"""
import ctypes as C
import os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
lib = C.CDLL(os.path.join(ROOT, "lib", "libseqcls.so.1"))

F32, I32 = 1, 2
BIDIRECTIONAL, RETURN_SEQUENCES, MERGE_SUM, GRU_RESET_BEFORE = 1, 2, 4, 8
MERGE_AVE, MERGE_MUL = 0x20, 0x40
POOL_LAST, POOL_MEAN, POOL_MAX = 1, 2, 3
ATTN_BAHDANAU, ATTN_DOT, ATTN_GENERAL, ATTN_LEARNED_QUERY, ATTN_FEATURE_TIME = 1, 2, 3, 4, 5
ACT_NONE, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_HARD_SIGMOID = 0, 1, 2, 3, 4
OPT_RECURRENT_ACTIVATION, OPT_INPUT_DROPOUT = 2, 3
OPT_ACTIVATION, OPT_DILATION, OPT_RECURRENT_DROPOUT = 9, 18, 19
PAD_SAME = 1

_p = C.c_void_p
_i64p = C.POINTER(C.c_int64)
_i32p = C.POINTER(C.c_int32)
_intp = C.POINTER(C.c_int)


def _decl(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_decl("seqcls_last_error", C.c_char_p)
_decl("seqcls_tensor_create", C.c_int, C.POINTER(_p), C.c_int, C.c_int, _i64p)
_decl("seqcls_tensor_wrap", C.c_int, C.POINTER(_p), C.c_int, C.c_int, _i64p, _p)
_decl("seqcls_tensor_free", None, _p)
_decl("seqcls_tensor_data", _p, _p)
_decl("seqcls_tensor_ndim", C.c_int, _p)
_decl("seqcls_tensor_dim", C.c_int64, _p, C.c_int)
_decl("seqcls_model_create", C.c_int, C.POINTER(_p), C.c_uint64)
_decl("seqcls_model_free", None, _p)
_decl("seqcls_add_input", C.c_int, _p, C.c_int, _intp)
_decl("seqcls_add_embedding", C.c_int, _p, C.c_int, C.c_int, C.c_int, _intp)
_decl("seqcls_add_attention", C.c_int, _p, C.c_int, C.c_int, _intp)
_decl("seqcls_add_dense", C.c_int, _p, C.c_int, C.c_int, _intp)
_decl("seqcls_add_dropout", C.c_int, _p, C.c_float, _intp)
_decl("seqcls_add_lstm", C.c_int, _p, C.c_int, C.c_uint, _intp)
_decl("seqcls_add_gru", C.c_int, _p, C.c_int, C.c_uint, _intp)
_decl("seqcls_add_pooling", C.c_int, _p, C.c_int, _intp)
_decl("seqcls_add_conv1d", C.c_int, _p, C.c_int, C.c_int, C.c_uint, _intp)
_decl("seqcls_add_flatten", C.c_int, _p, _intp)
_decl("seqcls_add_output", C.c_int, _p, C.c_int, _intp)
_decl("seqcls_layer_set_int", C.c_int, _p, C.c_int, C.c_int, C.c_int)
_decl("seqcls_layer_set_float", C.c_int, _p, C.c_int, C.c_int, C.c_float)
_decl("seqcls_param_count", C.c_int, _p)
_decl("seqcls_param_name", C.c_char_p, _p, C.c_int)
_decl("seqcls_param", C.c_int, _p, C.c_int, C.POINTER(_p), C.POINTER(_p))
_decl("seqcls_param_find", C.c_int, _p, C.c_char_p)
_decl("seqcls_forward", C.c_int, _p, _p, _i32p, _p, C.c_int)
_decl("seqcls_backward", C.c_int, _p, _p)
_decl("seqcls_input_grad", C.c_int, _p, C.POINTER(_p))
_decl("seqcls_zero_grad", C.c_int, _p)
_decl("seqcls_predict", C.c_int, _p, _p, _i32p, _p, _p)
_decl("seqcls_set_num_threads", C.c_int, C.c_int)
_decl("seqcls_loss_backward", C.c_int, _p, _p, C.POINTER(C.c_float))
_decl("seqcls_model_output_width", C.c_int, _p)
_decl("seqcls_model_output_ndim", C.c_int, _p)
_decl("seqcls_stream_create", C.c_int, C.POINTER(_p), _p)
_decl("seqcls_stream_push", C.c_int, _p, _p, C.c_int, _p)
_decl("seqcls_stream_free", None, _p)
_decl("seqcls_final_states", C.c_int, _p, C.c_int, _p, _p)


class SeqclsError(RuntimeError):
    pass


def check(rc):
    if rc != 0:
        raise SeqclsError("seqcls error %d: %s" % (rc, lib.seqcls_last_error().decode()))
    return rc


def tensor_view(t):
    """A numpy view (float32) of a borrowed tensor's data."""
    nd = lib.seqcls_tensor_ndim(t)
    shape = tuple(lib.seqcls_tensor_dim(t, i) for i in range(nd))
    n = int(np.prod(shape)) if shape else 0
    buf = (C.c_float * n).from_address(lib.seqcls_tensor_data(t))
    return np.frombuffer(buf, dtype=np.float32).reshape(shape)


class Tensor:
    """A seqcls tensor wrapping a numpy array (kept alive here)."""

    def __init__(self, array):
        if array.dtype == np.float32:
            dtype = F32
        elif array.dtype == np.int32:
            dtype = I32
        else:
            raise TypeError("float32 or int32 arrays only")
        self.array = np.ascontiguousarray(array)
        shape = (C.c_int64 * self.array.ndim)(*self.array.shape)
        self.ptr = _p()
        check(lib.seqcls_tensor_wrap(C.byref(self.ptr), dtype, self.array.ndim, shape,
                                     self.array.ctypes.data_as(_p)))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.seqcls_tensor_free(self.ptr)
            self.ptr = None


class Model:
    def __init__(self, seed=0):
        self.ptr = _p()
        check(lib.seqcls_model_create(C.byref(self.ptr), seed))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.seqcls_model_free(self.ptr)
            self.ptr = None

    def add(self, name, *args):
        idx = C.c_int(-1)
        check(getattr(lib, "seqcls_add_" + name)(self.ptr, *args, C.byref(idx)))
        return idx.value

    def set_int(self, layer, option, value):
        check(lib.seqcls_layer_set_int(self.ptr, layer, option, value))

    def set_float(self, layer, option, value):
        check(lib.seqcls_layer_set_float(self.ptr, layer, option, value))

    def param_names(self):
        return [lib.seqcls_param_name(self.ptr, i).decode()
                for i in range(lib.seqcls_param_count(self.ptr))]

    def param(self, name):
        """(value, grad) numpy views of the parameter called `name`."""
        i = lib.seqcls_param_find(self.ptr, name.encode())
        if i < 0:
            raise KeyError(name)
        v, g = _p(), _p()
        check(lib.seqcls_param(self.ptr, i, C.byref(v), C.byref(g)))
        return tensor_view(v), tensor_view(g)

    @staticmethod
    def _lengths(lengths):
        if lengths is None:
            return None, None
        arr = np.ascontiguousarray(lengths, dtype=np.int32)
        return arr, arr.ctypes.data_as(_i32p)

    def _out_shape(self, x, classes):
        """[B, C], or [B, T, C] for a per-step model (an output layer after a sequence)."""
        if lib.seqcls_model_output_ndim(self.ptr) == 3:
            return (x.shape[0], x.shape[1], classes)
        return (x.shape[0], classes)

    def forward(self, x, lengths, classes, training=1):
        xt = Tensor(x)
        keep, lp = self._lengths(lengths)
        logits = np.zeros(self._out_shape(x, classes), dtype=np.float32)
        lt = Tensor(logits)
        check(lib.seqcls_forward(self.ptr, xt.ptr, lp, lt.ptr, training))
        self._x = xt   # the input must outlive the backward
        return lt.array

    def loss_backward(self, labels):
        """The built-in loss of the last training forward, back-propagated."""
        yt = Tensor(np.ascontiguousarray(labels, dtype=np.int32))
        loss = C.c_float(0)
        check(lib.seqcls_loss_backward(self.ptr, yt.ptr, C.byref(loss)))
        return loss.value

    def stream_probs(self, steps, chunks):
        """Probabilities of a stream fed `steps` (ids [T] or floats [T, F]) in
        chunks of the given sizes: one row per step for a per-step model."""
        C_ = lib.seqcls_model_output_width(self.ptr)
        per_step = lib.seqcls_model_output_ndim(self.ptr) == 3
        s = _p()
        check(lib.seqcls_stream_create(C.byref(s), self.ptr))
        rows, t = [], 0
        try:
            for n in chunks:
                xt = Tensor(np.ascontiguousarray(steps[t:t + n]))
                out = np.zeros((n, C_) if per_step else (C_,), np.float32)
                pt = Tensor(out)
                check(lib.seqcls_stream_push(s, xt.ptr, n, pt.ptr))
                rows.append(pt.array.copy())
                t += n
        finally:
            lib.seqcls_stream_free(s)
        return np.concatenate(rows) if per_step else rows[-1]

    def backward(self, dlogits):
        dt = Tensor(np.ascontiguousarray(dlogits, dtype=np.float32))
        check(lib.seqcls_backward(self.ptr, dt.ptr))

    def input_grad(self):
        g = _p()
        check(lib.seqcls_input_grad(self.ptr, C.byref(g)))
        return tensor_view(g).copy()

    def zero_grad(self):
        check(lib.seqcls_zero_grad(self.ptr))

    def final_states(self, layer, B, width, cell=True):
        """(h, c) [B, width] of recurrent layer `layer` after the last forward
        (c None unless `cell`)."""
        h = Tensor(np.zeros((B, width), np.float32))
        c = Tensor(np.zeros((B, width), np.float32)) if cell else None
        check(lib.seqcls_final_states(self.ptr, layer, h.ptr, c.ptr if c else None))
        return h.array, (c.array if c else None)

    def predict(self, x, lengths, classes, attention=False):
        """Probabilities, and with `attention` also the attention weights [B, T]."""
        xt = Tensor(x)
        keep, lp = self._lengths(lengths)
        probs = np.zeros(self._out_shape(x, classes), dtype=np.float32)
        pt = Tensor(probs)
        at = Tensor(np.zeros(x.shape[:2], dtype=np.float32)) if attention else None
        check(lib.seqcls_predict(self.ptr, xt.ptr, lp, pt.ptr, at.ptr if at else None))
        return (pt.array, at.array) if attention else pt.array
