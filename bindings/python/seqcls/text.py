"""The text front end: tokeniser and vocabulary."""

import ctypes as C

import numpy as np

from . import constants as K
from ._core import _Handle, _load_bytes, _out_handle, _save_bytes, as_array, check
from ._lib import I32_P, fn


def _utf8(text):
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("seqcls: text must be str or bytes, not %s" % type(text).__name__)


def tokenize(text, max_tokens=None):
    """The tokens of `text` as a list of str (the library's own tokeniser:
    lower-cased, markup stripped; see docs/vocab-format.md).  Each token is
    the original word, as seqcls_tokenize reports byte offsets in the
    original text; use Vocab.encode for the normalised ids."""
    raw = _utf8(text)
    spans = token_spans(raw, max_tokens)
    return [raw[s:e].decode("utf-8", "replace") for s, e in spans]


def token_spans(text, max_tokens=None):
    """[(start, end)] byte offsets of the tokens in the UTF-8 `text`."""
    raw = _utf8(text)
    cap = len(raw) + 1 if max_tokens is None else int(max_tokens)
    starts = np.zeros(cap, np.int32)
    ends = np.zeros(cap, np.int32)
    n = C.c_int32(0)
    check(fn.seqcls_tokenize(raw, len(raw), starts.ctypes.data_as(I32_P),
                             ends.ctypes.data_as(I32_P), cap, C.byref(n)), "seqcls_tokenize")
    return [(int(starts[i]), int(ends[i])) for i in range(n.value)]


class Vocab:
    """A vocabulary (seqcls_vocab_t): count texts, build, then encode.

        v = Vocab()
        for doc in docs: v.add_text(doc)
        v.build(min_freq=2, max_size=20000)
        ids, lengths = v.encode_batch(docs, max_len=200)
    """

    def __init__(self, texts=None, *, min_freq=0, max_size=0, _handle=None):
        if _handle is not None:
            self._h = _handle
            return
        out = _out_handle()
        check(fn.seqcls_vocab_create(C.byref(out)), "seqcls_vocab_create")
        self._h = _Handle(out.value, fn.seqcls_vocab_free)
        if texts is not None:
            for t in texts:
                self.add_text(t)
            self.build(min_freq, max_size)

    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: vocabulary is closed")
        return self._h.ptr

    def add_text(self, text):
        raw = _utf8(text)
        check(fn.seqcls_vocab_add_text(self._ptr, raw, len(raw)), "seqcls_vocab_add_text")

    def build(self, min_freq=0, max_size=0):
        check(fn.seqcls_vocab_build(self._ptr, int(min_freq), int(max_size)),
              "seqcls_vocab_build")
        return self

    def __len__(self):
        return fn.seqcls_vocab_size(self._ptr)

    @property
    def size(self):
        return len(self)

    def id(self, token):
        return check(fn.seqcls_vocab_id(self._ptr, _utf8(token)), "seqcls_vocab_id")

    def token(self, i):
        t = fn.seqcls_vocab_token(self._ptr, int(i))
        if t is None:
            raise IndexError("seqcls: id %d is not in the vocabulary (size %d)" % (i, len(self)))
        return t.decode("utf-8")

    def encode(self, text, max_len):
        """(ids int32 [max_len], n): the first max_len token ids, padded with PAD_ID."""
        raw = _utf8(text)
        ids = np.zeros(int(max_len), np.int32)
        n = C.c_int32(0)
        check(fn.seqcls_vocab_encode(self._ptr, raw, len(raw), ids.ctypes.data_as(I32_P),
                                     int(max_len), C.byref(n)), "seqcls_vocab_encode")
        return ids, n.value

    def encode_batch(self, texts, max_len):
        """(ids int32 [B, max_len], lengths int32 [B]) for a list of texts."""
        texts = list(texts)
        ids = np.zeros((len(texts), int(max_len)), np.int32)
        lengths = np.zeros(len(texts), np.int32)
        n = C.c_int32(0)
        for b, t in enumerate(texts):
            raw = _utf8(t)
            row = ids[b]
            check(fn.seqcls_vocab_encode(self._ptr, raw, len(raw), row.ctypes.data_as(I32_P),
                                         int(max_len), C.byref(n)), "seqcls_vocab_encode")
            lengths[b] = n.value
        return ids, lengths

    def decode(self, ids):
        """The tokens of `ids` joined by spaces (padding skipped)."""
        arr = as_array(ids, np.int32, "ids").reshape(-1)
        need = C.c_size_t(0)
        p = arr.ctypes.data_as(I32_P)
        rc = fn.seqcls_vocab_decode(self._ptr, p, arr.size, None, 0, C.byref(need))
        if rc != K.E_RANGE or need.value == 0:
            check(rc, "seqcls_vocab_decode")
        buf = C.create_string_buffer(max(need.value, 1))
        check(fn.seqcls_vocab_decode(self._ptr, p, arr.size, buf, len(buf), C.byref(need)),
              "seqcls_vocab_decode")
        return buf.value.decode("utf-8")

    def to_bytes(self):
        """The serialised vocabulary (docs/vocab-format.md)."""
        return _save_bytes("seqcls_vocab_save_buffer", self._ptr)

    @classmethod
    def from_bytes(cls, data):
        return cls(_handle=_load_bytes("seqcls_vocab_load_buffer", "seqcls_vocab_free", data))

    def close(self):
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<seqcls.Vocab size=%d>" % len(self) if self._h else "<seqcls.Vocab closed>"
