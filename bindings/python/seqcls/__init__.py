"""seqcls from Python: ctypes bindings of libseqcls.so.1 (numpy only).

    import numpy as np, seqcls
    m = seqcls.Model(seed=1)
    m.add_embedding(vocab=50, dim=16, padding_idx=0)
    m.add_lstm(16, bidirectional=True, return_sequences=True)
    m.add_attention("bahdanau", units=16)
    m.add_output(1)
    history = m.fit(x, y, lengths=lengths, epochs=5)
    probs = m.predict(x, lengths)

Text and label names (bindings/python/README.md):

    texts, labels = seqcls.read_labelled("train.txt")   # fastText or TSV
    vocab = seqcls.Vocab(texts)                          # the command line's defaults
    m = seqcls.Model(seed=1)
    m.add_embedding(len(vocab), 64)
    m.add_pooling("mean")
    m.add_output(1)                                      # two labels: one logit
    m.set_vocab(vocab)                                   # maxlen 256
    m.fit(texts, labels, epochs=5, validation_split=0.1)
    m.predict_labels(["a new text"])                     # ["spam"]

Every constant of seqcls.h is here without its SEQCLS_ prefix
(seqcls.BIDIRECTIONAL, seqcls.E_SHAPE); every failure raises a SeqclsError
subclass carrying seqcls_last_error().  `seqcls.lib` is the raw ctypes
library with every function declared (seqcls.fn.seqcls_...).
"""

from . import _convert, constants
from ._core import Tensor, check, last_error, strerror
from ._lib import fn, lib, missing
from ._lib import path as library_path
from .constants import *  # noqa: F401,F403
from .data import read_labelled, read_texts
from .distributed import Comm
from .errors import (CommError, FormatError, InvalidArgumentError, IOError, NoMemoryError,
                     NumericError, RangeError, SeqclsError, ShapeError, StateError,
                     UnsupportedError, VersionError)
from .model import (LAYER_KINDS, SGD, Adam, AdamW, History, Meta, Metrics, Model, Optimizer,
                    RMSprop, Sampler, Stream)
from .text import DEFAULT_MAXLEN, Vocab, token_spans, tokenize

__version__ = constants.VERSION_STRING


def version():
    """Version of the loaded library, MAJOR*10000 + MINOR*100 + PATCH."""
    return fn.seqcls_version()


def version_string():
    return fn.seqcls_version_string().decode()


def set_num_threads(n):
    """Process-wide thread count for seqcls and its BLAS (0 = one per core)."""
    check(fn.seqcls_set_num_threads(_convert.int32(n, "n")), "seqcls_set_num_threads")


def get_num_threads():
    return fn.seqcls_get_num_threads()
