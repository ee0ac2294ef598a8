"""Handles, status checking, and tensors over numpy arrays."""

import ctypes as C

import numpy as np

from . import _convert
from . import constants as K
from ._lib import HANDLE, I32_P, fn
from .errors import error_for


def last_error():
    """seqcls_last_error() of the calling thread, as str."""
    return fn.seqcls_last_error().decode("utf-8", "replace")


def strerror(status):
    """seqcls_strerror(status), as str."""
    return fn.seqcls_strerror(status).decode("utf-8", "replace")


def check(status, function=None):
    """Raise the SeqclsError subclass of `status` if it is not SEQCLS_OK.

    The exception carries seqcls_last_error(), read at once in the
    calling thread (ctypes runs the call in this thread too).
    """
    if status < 0:
        msg = last_error() or strerror(status)
        raise error_for(status, msg, function)
    return status


class _Handle:
    """Owns one C object: frees it when the last Python reference goes.

    `keep` holds the objects the C object borrows from (numpy arrays,
    parent handles), so that they outlive it.  Wrappers and borrowed views
    reference the _Handle, never the raw pointer alone, so that dropping
    objects in any order is safe: the C object is freed only when nothing
    that can reach it is left.
    """

    __slots__ = ("ptr", "_free", "keep", "__weakref__")

    def __init__(self, ptr, free, keep=()):
        self.ptr = ptr
        self._free = free
        self.keep = tuple(keep)

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if ptr and self._free is not None:
            try:
                self._free(ptr)
            except Exception:  # interpreter shutdown: nothing sensible to do
                pass


def _out_handle():
    return HANDLE()


_DTYPES = {np.dtype(np.float32): K.F32, np.dtype(np.int32): K.I32}
_NP = {K.F32: np.float32, K.I32: np.int32}


def _save_bytes(save_name, ptr):
    """The bytes a seqcls_*_save_buffer call returns; the C buffer is freed."""
    buf, n = C.c_void_p(), C.c_size_t(0)
    check(getattr(fn, save_name)(ptr, C.byref(buf), C.byref(n)), save_name)
    try:
        return C.string_at(buf.value, n.value)
    finally:
        fn.seqcls_free(buf)


def _load_bytes(load_name, free_name, data):
    """A _Handle for what a seqcls_*_load_buffer call makes of `data`."""
    data = bytes(data)
    out = _out_handle()
    check(getattr(fn, load_name)(C.byref(out), data, len(data)), load_name)
    return _Handle(out.value, getattr(fn, free_name))


def dtype_code(dtype):
    try:
        return _DTYPES[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError("seqcls: dtype %s is not supported (float32 or int32)" % (dtype,))


def as_array(x, dtype, name, writable=False):
    """`x` as a numpy array of `dtype` that C can read in place.

    A numpy array is never copied: a wrong dtype is a TypeError, a
    non-C-contiguous or misaligned one a ValueError.  Anything else
    (lists, tuples) is converted, which copies it once, with every element
    checked (_convert: an integer outside int32 raises OverflowError, it is
    never wrapped).
    """
    want = np.dtype(dtype)
    if isinstance(x, np.ndarray):
        if x.dtype != want:
            raise TypeError("seqcls: %s must be an array of %s, not %s (convert it with "
                            ".astype(np.%s))" % (name, want, x.dtype, want))
        if not x.flags.c_contiguous:
            raise ValueError("seqcls: %s must be C-contiguous (use np.ascontiguousarray)"
                             % name)
        if x.ctypes.data % want.alignment:
            raise ValueError("seqcls: %s is not aligned to %d bytes" % (name, want.alignment))
        if writable and not x.flags.writeable:
            raise ValueError("seqcls: %s must be writable" % name)
        return x
    if want == np.int32:
        return _convert.int32_array(x, name)
    if want == np.float32:
        return _convert.float32_array(x, name)
    raise TypeError("seqcls: dtype %s is not supported (float32 or int32)" % (want,))


def lengths_arg(lengths, batch, name="lengths"):
    """(array or None, ctypes pointer or None) for a lengths argument."""
    if lengths is None:
        return None, None
    arr = as_array(lengths, np.int32, name)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError("seqcls: %s must have one value per row (%d), not shape %s"
                         % (name, batch, arr.shape))
    return arr, arr.ctypes.data_as(I32_P)


def _view(ptr, shape, dtype, owner):
    """A numpy view of C memory at `ptr` that keeps `owner` alive."""
    n = int(np.prod(shape)) if len(shape) else 1
    ctype = C.c_float if dtype == K.F32 else C.c_int32
    if n == 0 or not ptr:
        return np.zeros(shape, dtype=_NP[dtype])
    buf = (ctype * n).from_address(ptr)
    buf._seqcls_owner = owner          # numpy's view references buf, buf the owner
    return np.frombuffer(buf, dtype=_NP[dtype]).reshape(shape)


class Tensor:
    """A seqcls tensor: owned (Tensor.zeros), wrapping a numpy array
    without a copy (Tensor.wrap / Tensor(array)), or borrowed from a model
    (parameters), which it then keeps alive.

    `numpy()` is a view of the tensor's storage, never a copy: writing to
    it writes to the tensor.
    """

    def __init__(self, array=None, *, _handle=None):
        if _handle is not None:
            self._h = _handle
            return
        arr = as_array(array, array.dtype if isinstance(array, np.ndarray) else np.float32,
                       "array")
        code = dtype_code(arr.dtype)
        shape = (C.c_int64 * arr.ndim)(*arr.shape)
        out = _out_handle()
        check(fn.seqcls_tensor_wrap(C.byref(out), code, arr.ndim, shape,
                                    arr.ctypes.data_as(C.c_void_p)), "seqcls_tensor_wrap")
        # The tensor borrows the array's buffer: keep the array alive.
        self._h = _Handle(out.value, fn.seqcls_tensor_free, (arr,))

    @classmethod
    def wrap(cls, array):
        """A tensor over `array`'s own buffer (float32 or int32, C-contiguous)."""
        if not isinstance(array, np.ndarray):
            raise TypeError("seqcls: Tensor.wrap takes a numpy array")
        return cls(array)

    @classmethod
    def zeros(cls, shape, dtype=np.float32):
        """A new zero-filled tensor that owns its 64-byte aligned storage."""
        shape = tuple(_convert.int64(s, "shape[%d]" % i) for i, s in enumerate(shape))
        cshape = (C.c_int64 * len(shape))(*shape)
        out = _out_handle()
        check(fn.seqcls_tensor_create(C.byref(out), dtype_code(dtype), len(shape), cshape),
              "seqcls_tensor_create")
        return cls(_handle=_Handle(out.value, fn.seqcls_tensor_free))

    @classmethod
    def _borrowed(cls, ptr, owner):
        """A tensor owned by a C parent (a model): not freed, keeps `owner` alive."""
        return cls(_handle=_Handle(ptr, None, (owner,)))

    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: tensor is closed")
        return self._h.ptr

    @property
    def ndim(self):
        return fn.seqcls_tensor_ndim(self._ptr)

    @property
    def shape(self):
        p = self._ptr
        return tuple(fn.seqcls_tensor_dim(p, a) for a in range(fn.seqcls_tensor_ndim(p)))

    @property
    def dtype(self):
        return np.dtype(_NP[fn.seqcls_tensor_dtype(self._ptr)])

    @property
    def size(self):
        return fn.seqcls_tensor_numel(self._ptr)

    @property
    def data_ptr(self):
        return fn.seqcls_tensor_data(self._ptr) or 0

    def numpy(self):
        """A numpy view (no copy) of the storage; it keeps the tensor alive."""
        return _view(self.data_ptr, self.shape, fn.seqcls_tensor_dtype(self._ptr), self._h)

    def close(self):
        """Drop this reference now (the storage goes when no view uses it)."""
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self._h is None:
            return "<seqcls.Tensor closed>"
        return "<seqcls.Tensor %s %s>" % (self.dtype, self.shape)
