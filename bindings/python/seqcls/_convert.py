"""Python values to C arguments, checked: the one place where the package
turns what a caller passes into the int32, uint32, int64, uint64, float
and `const char *` arguments of seqcls.h, and into int32/float32 arrays.

ctypes itself wraps integers silently (c_int(2**32) is 0) and truncates
C strings at the first NUL; numpy wraps out-of-range Python ints when it
casts a list to int32.  Every argument of a C call therefore goes through
one of these helpers first:

  - an integer outside the C type's range raises OverflowError, a float
    that is not a whole number ValueError, anything that is not a number
    TypeError;
  - a finite float beyond float32 raises OverflowError (NaN and infinity
    are passed on: the library refuses them with its own message);
  - a string (or bytes) holding a NUL raises ValueError;
  - a list or other sequence converted to an int32 array is checked
    element by element in the same way (a numpy array of another dtype is
    refused by _core.as_array, never converted).

The message names the argument, e.g. "seqcls: hidden = 4294967296 is
outside int32 [-2147483648, 2147483647]".
"""

import math
import operator
import os

import numpy as np

RANGES = {
    "int32": (-2 ** 31, 2 ** 31 - 1),
    "uint32": (0, 2 ** 32 - 1),
    "int64": (-2 ** 63, 2 ** 63 - 1),
    "uint64": (0, 2 ** 64 - 1),
    "size_t": (0, 2 ** 64 - 1),
}
INT32_MIN, INT32_MAX = RANGES["int32"]
FLOAT32_MAX = float(np.finfo(np.float32).max)


def integer(value, name, ctype="int32"):
    """`value` as a Python int within `ctype` (a key of RANGES)."""
    if isinstance(value, (bool, np.bool_)):
        v = int(value)
    else:
        try:
            v = operator.index(value)
        except TypeError:
            if isinstance(value, (float, np.floating)):
                f = float(value)
                if not math.isfinite(f):
                    raise ValueError("seqcls: %s = %r is not a whole number" % (name, value)) \
                        from None
                if not f.is_integer():
                    raise ValueError("seqcls: %s = %r is not a whole number" % (name, value)) \
                        from None
                v = int(f)
            else:
                raise TypeError("seqcls: %s must be an integer, not %s"
                                % (name, type(value).__name__)) from None
    lo, hi = RANGES[ctype]
    if not lo <= v <= hi:
        raise OverflowError("seqcls: %s = %d is outside %s [%d, %d]" % (name, v, ctype, lo, hi))
    return v


def int32(value, name):
    return integer(value, name, "int32")


def uint32(value, name):
    return integer(value, name, "uint32")


def int64(value, name):
    return integer(value, name, "int64")


def uint64(value, name):
    return integer(value, name, "uint64")


def float32(value, name):
    """`value` as a Python float that float32 holds without overflowing."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise TypeError("seqcls: %s must be a number, not %s" % (name, type(value).__name__)) \
            from None
    if math.isfinite(f) and abs(f) > FLOAT32_MAX:
        with np.errstate(over="ignore"):
            if math.isinf(float(np.float32(f))):
                raise OverflowError("seqcls: %s = %r is beyond the range of float32 (%g)"
                                    % (name, f, FLOAT32_MAX))
    return f


def cstring(value, name):
    """`value` (str, encoded as UTF-8, or bytes) as bytes for a `const char *`."""
    if isinstance(value, str):
        raw = value.encode("utf-8")        # lone surrogates: UnicodeEncodeError, a ValueError
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise TypeError("seqcls: %s must be str or bytes, not %s" % (name, type(value).__name__))
    i = raw.find(b"\0")
    if i >= 0:
        raise ValueError("seqcls: %s %r contains a NUL character (byte %d); a C string would "
                         "end there" % (name, value, i))
    return raw


def path(value, name="path"):
    """A file name (str, bytes or os.PathLike) as bytes for a `const char *`."""
    return cstring(os.fsencode(value), name)


def int32_array(x, name):
    """A sequence (list, tuple, nested) as a new C-contiguous int32 array,
    every element checked as int32() checks a scalar."""
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind == "b":
        pass
    elif kind in "iu":
        if a.size:
            lo, hi = int(a.min()), int(a.max())
            if lo < INT32_MIN or hi > INT32_MAX:
                bad = lo if lo < INT32_MIN else hi
                raise OverflowError("seqcls: %s holds %d, outside int32 [%d, %d]"
                                    % (name, bad, INT32_MIN, INT32_MAX))
    elif kind == "f":
        if a.size:
            finite = np.isfinite(a)
            if not finite.all() or not (a == np.floor(a)).all():
                bad = a[~finite | (a != np.floor(a))].flat[0]
                raise ValueError("seqcls: %s holds %r, which is not a whole number"
                                 % (name, float(bad)))
            lo, hi = float(a.min()), float(a.max())
            if lo < INT32_MIN or hi > INT32_MAX:
                raise OverflowError("seqcls: %s holds %r, outside int32 [%d, %d]"
                                    % (name, lo if lo < INT32_MIN else hi, INT32_MIN, INT32_MAX))
    elif kind == "O":
        flat = [int32(v, "%s[%d]" % (name, i)) for i, v in enumerate(a.ravel())]
        return np.array(flat, dtype=np.int32).reshape(a.shape)
    else:
        raise TypeError("seqcls: %s must hold integers, not %s" % (name, a.dtype))
    return np.ascontiguousarray(a.astype(np.int32))


def float32_array(x, name):
    """A sequence as a new C-contiguous float32 array; finite values beyond
    float32 raise OverflowError instead of becoming infinities."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        if a.dtype.kind == "O":
            a = np.array([float32(v, "%s[%d]" % (name, i)) for i, v in enumerate(a.ravel())],
                         dtype=np.float64).reshape(a.shape)
        else:
            raise TypeError("seqcls: %s must hold numbers, not %s" % (name, a.dtype))
    if a.dtype.kind == "f" and a.dtype.itemsize > 4 and a.size:
        big = np.isfinite(a) & (np.abs(a) > FLOAT32_MAX)
        if big.any():
            with np.errstate(over="ignore"):
                over = np.isinf(a[big].astype(np.float32))
            if over.any():
                raise OverflowError("seqcls: %s holds %r, beyond the range of float32"
                                    % (name, float(a[big][over][0])))
    return np.ascontiguousarray(a.astype(np.float32))
