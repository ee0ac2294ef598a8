"""Data-parallel training: communicators for Model.fit(comm=...) (1.1).

Start the same script on every rank with mpirun; each reads the whole data
set and passes it to fit, which shares every batch out, sums the gradients
over the ranks and keeps the replicas equal (docs/distributed.md):

    comm = seqcls.Comm.mpi()          # libseqcls-mpi.so.1 over MPI_COMM_WORLD
    history = model.fit(x, y, lengths, epochs=5, batch_size=256, comm=comm)
    if comm.rank == 0:
        model.save("model.sqcl")

Comm.from_callbacks builds one from two Python functions instead (for
example mpi4py's comm.Allreduce and comm.Bcast).
"""

import atexit
import ctypes as C
import os

import numpy as np

from . import _convert as cv
from . import constants as K
from ._core import _Handle, check
from ._lib import ALLREDUCE_FN, BROADCAST_FN, DESTRUCTOR_FN, fn
from ._lib import path as _library_path
from .errors import error_for

_mpi = None


def _load_mpi(library=None):
    """libseqcls-mpi.so.1: `library`, $SEQCLS_MPI_LIBRARY, beside libseqcls.so.1, or the
    loader's search; loaded RTLD_GLOBAL (MPI's plug-ins resolve symbols through it)."""
    global _mpi
    if _mpi is not None:
        return _mpi
    tried = [library, os.environ.get("SEQCLS_MPI_LIBRARY"),
             os.path.join(os.path.dirname(os.path.abspath(_library_path)), "libseqcls-mpi.so.1")
             if os.sep in _library_path else None, "libseqcls-mpi.so.1"]
    errors = []
    for p in tried:
        if not p or (os.sep in p and not os.path.exists(p)):
            continue
        try:
            lib = C.CDLL(p, mode=C.RTLD_GLOBAL)
            break
        except OSError as e:
            errors.append("%s: %s" % (p, e))
    else:
        raise ImportError("seqcls: cannot load libseqcls-mpi.so.1 (build seqcls with Open MPI "
                          "installed, or set SEQCLS_MPI_LIBRARY); " + "; ".join(errors))
    lib.seqcls_mpi_world_create.restype = C.c_int
    lib.seqcls_mpi_world_create.argtypes = [C.POINTER(C.c_void_p)]
    lib.seqcls_mpi_finalize.restype = C.c_int
    lib.seqcls_mpi_finalize.argtypes = []
    lib.seqcls_mpi_last_error.restype = C.c_char_p
    lib.seqcls_mpi_last_error.argtypes = []
    # MPI is finalised at exit (communicators still alive then skip their
    # MPI_Comm_free, as seqcls_mpi.h allows)
    atexit.register(lib.seqcls_mpi_finalize)
    _mpi = lib
    return lib


class Comm:
    """A communicator (seqcls_comm_t): this process's rank among `size`."""

    def __init__(self, handle, keep=()):
        self._h = handle
        self._keep = keep
        self._errors = []

    @property
    def error(self):
        """The first exception a Python callback raised, or None."""
        return self._errors[0] if self._errors else None

    @classmethod
    def mpi(cls, library=None):
        """A communicator over MPI_COMM_WORLD through libseqcls-mpi (MPI is initialised
        with MPI_THREAD_SERIALIZED unless it already is, and finalised at exit)."""
        lib = _load_mpi(library)
        out = C.c_void_p()
        rc = lib.seqcls_mpi_world_create(C.byref(out))
        if rc != K.OK:
            raise error_for(rc, lib.seqcls_mpi_last_error().decode("utf-8", "replace"),
                            "seqcls_mpi_world_create")
        return cls(_Handle(out.value, fn.seqcls_comm_free))

    @classmethod
    def from_callbacks(cls, rank, size, allreduce, broadcast, overlap=True, on_free=None):
        """A communicator from two functions: allreduce(a) replaces the float32 array `a`
        by its element-wise sum over the ranks (the same on every rank), broadcast(b)
        copies rank 0's bytes (a uint8 array) into `b` on every rank.  An exception in
        either fails the training, and fit raises it again (it is kept in `.error`).
        With overlap, they are called from a thread of the library's own (one call at a
        time).  on_free() is called when the communicator is freed (to close what the
        callbacks use)."""
        self = cls(None)
        errors = self._errors = []   # (not self: no cycle keeps the communicator alive)

        def c_allreduce(user, data, n):
            try:
                allreduce(np.ctypeslib.as_array(data, shape=(n,)) if n else
                          np.zeros(0, np.float32))
                return 0
            except BaseException as e:  # reported through the status; kept for the caller
                errors.append(e)
                return 1

        def c_broadcast(user, data, n):
            try:
                buf = (np.ctypeslib.as_array(C.cast(data, C.POINTER(C.c_uint8)), shape=(n,))
                       if n else np.zeros(0, np.uint8))
                broadcast(buf)
                return 0
            except BaseException as e:
                errors.append(e)
                return 1

        def c_free(user):
            if on_free is not None:
                on_free()

        keep = (ALLREDUCE_FN(c_allreduce), BROADCAST_FN(c_broadcast), DESTRUCTOR_FN(c_free))
        out = C.c_void_p()
        check(fn.seqcls_comm_create(C.byref(out), cv.int32(rank, "rank"), cv.int32(size, "size"),
                                    keep[0], keep[1], None), "seqcls_comm_create")
        self._h = _Handle(out.value, fn.seqcls_comm_free, keep)
        self._keep = keep
        check(fn.seqcls_comm_set_destructor(self._h.ptr, keep[2]), "seqcls_comm_set_destructor")
        if not overlap:
            check(fn.seqcls_comm_set_int(self._h.ptr, K.COMM_OVERLAP, 0), "seqcls_comm_set_int")
        return self

    @property
    def _ptr(self):
        return self._h.ptr

    @property
    def rank(self):
        return fn.seqcls_comm_rank(self._h.ptr)

    @property
    def size(self):
        return fn.seqcls_comm_size(self._h.ptr)

    def set_bucket_bytes(self, n):
        check(fn.seqcls_comm_set_int(self._h.ptr, K.COMM_BUCKET_BYTES, cv.int64(n, "n")),
              "seqcls_comm_set_int")

    def stats(self):
        """Gradient communication so far: steps, buckets, bytes, comm_seconds,
        exposed_seconds (not hidden behind the backward pass), backward_seconds."""
        names = ("steps", "buckets", "bytes", "comm_seconds", "exposed_seconds",
                 "backward_seconds")
        return {n: fn.seqcls_comm_stat(self._h.ptr, i + 1) for i, n in enumerate(names)}

    def allreduce_grads(self, model):
        """The mean over the ranks of every trained parameter's gradient (own loops)."""
        check(fn.seqcls_comm_allreduce_grads(self._h.ptr, model._ptr),
              "seqcls_comm_allreduce_grads")

    def broadcast_params(self, model):
        """Rank 0's parameter values into `model` on every rank (own loops)."""
        check(fn.seqcls_comm_broadcast_params(self._h.ptr, model._ptr),
              "seqcls_comm_broadcast_params")
