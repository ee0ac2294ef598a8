"""Exceptions: one SeqclsError subclass per status code of seqcls.h.

Each also derives from the closest built-in exception, so that
`except ValueError` catches a bad argument as Python code expects.
"""

from . import constants as K


class SeqclsError(Exception):
    """A seqcls call failed.

    `status` is the SEQCLS_E_* code, `message` the library's
    seqcls_last_error() text (which names the function, the argument and
    the problem), `function` the C function that failed.
    """

    status = None

    def __init__(self, message, status=None, function=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.function = function

    def __str__(self):
        return self.message


class InvalidArgumentError(SeqclsError, ValueError):
    status = K.E_INVALID_ARG


class NoMemoryError(SeqclsError, MemoryError):
    status = K.E_NOMEM


class ShapeError(SeqclsError, ValueError):
    status = K.E_SHAPE


class RangeError(SeqclsError, IndexError):
    status = K.E_RANGE


class StateError(SeqclsError, RuntimeError):
    status = K.E_STATE


class NumericError(SeqclsError, ArithmeticError):
    status = K.E_NUMERIC


class FormatError(SeqclsError, ValueError):
    status = K.E_FORMAT


class VersionError(SeqclsError, ValueError):
    status = K.E_VERSION


class IOError(SeqclsError, OSError):  # noqa: A001 -- seqcls' own, in its namespace
    status = K.E_IO


class UnsupportedError(SeqclsError, NotImplementedError):
    status = K.E_UNSUPPORTED


class CommError(SeqclsError, RuntimeError):
    """Data-parallel training: a collective failed, or the ranks disagree (1.1)."""
    status = K.E_COMM


ERRORS = {cls.status: cls for cls in (
    InvalidArgumentError, NoMemoryError, ShapeError, RangeError, StateError,
    NumericError, FormatError, VersionError, IOError, UnsupportedError, CommError)}


def error_for(status, message, function=None):
    """The exception for `status` (SeqclsError itself for an unknown code)."""
    cls = ERRORS.get(status, SeqclsError)
    return cls(message, status, function)
