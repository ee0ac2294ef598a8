"""The text front end: tokeniser and vocabulary."""

import ctypes as C

import numpy as np

from . import _convert as cv
from . import constants as K
from ._core import _Handle, _load_bytes, _out_handle, _save_bytes, as_array, check
from ._lib import I32_P, fn


# The defaults of `seqcls train` (tools/cli/train.c): --min-count, --vocab,
# --maxlen.  tests/test_text.py checks that a Vocab built with them equals
# the command line's.
DEFAULT_MIN_FREQ = 2
DEFAULT_MAX_SIZE = 20000
DEFAULT_MAXLEN = 256
MAX_MAXLEN = 100000          # the command line's largest --maxlen


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


def _spans(tokenize, name, text, max_tokens):
    """[(start, end)] byte offsets of the tokens in the UTF-8 `text` as
    `tokenize(raw, len, starts, ends, cap, &n)` finds them."""
    raw = _utf8(text)
    # at most one token per byte (and at most INT32_MAX: longer texts are refused)
    cap = min(len(raw) + 1, cv.INT32_MAX) if max_tokens is None \
        else cv.int32(max_tokens, "max_tokens")
    if cap < 0:
        raise ValueError("seqcls: max_tokens = %d is negative" % cap)
    starts = np.zeros(cap, np.int32)
    ends = np.zeros(cap, np.int32)
    n = C.c_int32(0)
    check(tokenize(raw, len(raw), starts.ctypes.data_as(I32_P), ends.ctypes.data_as(I32_P), cap,
                   C.byref(n)), name)
    return [(int(starts[i]), int(ends[i])) for i in range(n.value)]


def token_spans(text, max_tokens=None):
    """[(start, end)] byte offsets of the tokens in the UTF-8 `text`."""
    return _spans(fn.seqcls_tokenize, "seqcls_tokenize", text, max_tokens)


def _max_len(max_len):
    """max_len as an int32 >= 0, checked before an array of that size is made."""
    n = cv.int32(max_len, "max_len")
    if n < 0:
        raise ValueError("seqcls: max_len = %d is negative" % n)
    return n


# Vocabulary options (SEQCLS_VOCAB_*, 1.1) by keyword name.
VOCAB_OPTIONS = {"tokens": K.VOCAB_TOKENS, "oov_buckets": K.VOCAB_OOV_BUCKETS,
                 "minn": K.VOCAB_MINN, "maxn": K.VOCAB_MAXN, "bucket": K.VOCAB_BUCKET}
_TOKEN_MODES = {"word": K.TOKENS_WORD, "char": K.TOKENS_CHAR}


class Vocab:
    """A vocabulary (seqcls_vocab_t): count texts, build, then encode.

        v = Vocab(texts)                  # counts and builds: min_freq=2, max_size=20000
        ids, lengths = v.encode_batch(texts)       # max_len=256

    or step by step: Vocab(), add_text(t) for each text, build(min_freq,
    max_size).  The defaults are those of `seqcls train` (--min-count 2,
    --vocab 20000, --maxlen 256), so a Vocab of the same texts equals the
    one the command line builds.  min_freq 0 or 1 keeps every token,
    max_size 0 means no cap (it counts "<pad>" and "<unk>").

    Options (1.1, fixed once built, saved with the vocabulary): tokens="word"
    or "char" (every code point a token, a whitespace run one " "),
    oov_buckets=N (unknown tokens hashed into N rows after the vocabulary),
    and fastText's subword model: minn, maxn (character n-gram lengths, 0 =
    off) and bucket (rows the n-grams are hashed into); see encode_subwords.
    The defaults are those of `seqcls train` (--tokens word, --oov-buckets
    0, n-grams off).
    """

    def __init__(self, texts=None, *, min_freq=DEFAULT_MIN_FREQ, max_size=DEFAULT_MAX_SIZE,
                 tokens="word", oov_buckets=0, minn=0, maxn=0, bucket=2000000, _handle=None):
        if _handle is not None:
            self._h = _handle
            return
        out = _out_handle()
        check(fn.seqcls_vocab_create(C.byref(out)), "seqcls_vocab_create")
        self._h = _Handle(out.value, fn.seqcls_vocab_free)
        self.set_option("tokens", tokens)
        self.set_option("oov_buckets", oov_buckets)
        self.set_option("maxn", maxn)
        self.set_option("minn", minn)
        self.set_option("bucket", bucket)
        if texts is not None:
            for t in texts:
                self.add_text(t)
            self.build(min_freq, max_size)

    @property
    def _ptr(self):
        if self._h is None or not self._h.ptr:
            raise ValueError("seqcls: vocabulary is closed")
        return self._h.ptr

    def set_option(self, option, value):
        """Set an option (a name of VOCAB_OPTIONS or a SEQCLS_VOCAB_* number)
        before the vocabulary is built; tokens takes "word" or "char" too."""
        code = VOCAB_OPTIONS.get(option, option)
        if code == K.VOCAB_TOKENS and isinstance(value, str):
            if value not in _TOKEN_MODES:
                raise ValueError("seqcls: tokens must be 'word' or 'char', not %r" % value)
            value = _TOKEN_MODES[value]
        check(fn.seqcls_vocab_set_int(self._ptr, cv.int32(code, "option"),
                                      cv.int32(value, "value")), "seqcls_vocab_set_int")

    def get_option(self, option):
        """The value of an option; tokens as "word" or "char"."""
        code = VOCAB_OPTIONS.get(option, option)
        out = C.c_int(0)
        check(fn.seqcls_vocab_get_int(self._ptr, cv.int32(code, "option"), C.byref(out)),
              "seqcls_vocab_get_int")
        if code == K.VOCAB_TOKENS:
            return {v: k for k, v in _TOKEN_MODES.items()}.get(out.value, out.value)
        return out.value

    @property
    def tokens(self):
        return self.get_option("tokens")

    @property
    def rows(self):
        """Rows an embedding over this vocabulary needs (size + buckets)."""
        return fn.seqcls_vocab_rows(self._ptr)

    def add_text(self, text):
        raw = _utf8(text)
        check(fn.seqcls_vocab_add_text(self._ptr, raw, len(raw)), "seqcls_vocab_add_text")

    def build(self, min_freq=DEFAULT_MIN_FREQ, max_size=DEFAULT_MAX_SIZE):
        check(fn.seqcls_vocab_build(self._ptr, cv.int32(min_freq, "min_freq"),
                                    cv.int32(max_size, "max_size")),
              "seqcls_vocab_build")
        return self

    def __len__(self):
        return fn.seqcls_vocab_size(self._ptr)

    @property
    def size(self):
        return len(self)

    def id(self, token):
        return check(fn.seqcls_vocab_id(self._ptr, cv.cstring(token, "token")),
                     "seqcls_vocab_id")

    def token(self, i):
        t = fn.seqcls_vocab_token(self._ptr, cv.int32(i, "id"))
        if t is None:
            raise IndexError("seqcls: id %d is not in the vocabulary (size %d)" % (i, len(self)))
        return t.decode("utf-8")

    def _encode_into(self, raw, row, max_len, truncating, n):
        if truncating == "post":
            check(fn.seqcls_vocab_encode(self._ptr, raw, len(raw), row.ctypes.data_as(I32_P),
                                         max_len, C.byref(n)), "seqcls_vocab_encode")
        elif truncating == "pre":
            check(fn.seqcls_vocab_encode_ex(self._ptr, raw, len(raw), row.ctypes.data_as(I32_P),
                                            max_len, K.TRUNCATE_PRE, C.byref(n)),
                  "seqcls_vocab_encode_ex")
        else:
            raise ValueError("seqcls: truncating must be 'post' or 'pre', not %r" % (truncating,))

    def encode(self, text, max_len=DEFAULT_MAXLEN, truncating="post"):
        """(ids int32 [max_len], n): the first max_len token ids, or with
        truncating="pre" (Keras' pad_sequences default) the last; padded with
        PAD_ID after them."""
        raw = _utf8(text)
        max_len = _max_len(max_len)
        ids = np.zeros(max_len, np.int32)
        n = C.c_int32(0)
        self._encode_into(raw, ids, max_len, truncating, n)
        return ids, n.value

    def encode_batch(self, texts, max_len=DEFAULT_MAXLEN, truncating="post"):
        """(ids int32 [B, max_len], lengths int32 [B]) for a list of texts."""
        texts = list(texts)
        max_len = _max_len(max_len)
        ids = np.zeros((len(texts), max_len), np.int32)
        lengths = np.zeros(len(texts), np.int32)
        n = C.c_int32(0)
        for b, t in enumerate(texts):
            self._encode_into(_utf8(t), ids[b], max_len, truncating, n)
            lengths[b] = n.value
        return ids, lengths

    @classmethod
    def from_list(cls, tokens):
        """A vocabulary from a word index in id order: tokens[i] is the token of
        id i from 2 on (a Keras TextVectorization's get_vocabulary(), a
        torchtext itos list); ids 0 and 1 are "<pad>" and "<unk>" whatever
        tokens[0] and tokens[1] say.  A {token: id} dict (Keras' word_index)
        is turned into that list by its ids (they must be 2.. without gaps).
        Since 1.1."""
        if isinstance(tokens, dict):
            items = sorted((cv.int32(i, "id"), t) for t, i in tokens.items())
            ids = [i for i, _ in items if i >= 2]
            if ids != list(range(2, 2 + len(ids))):
                raise ValueError("seqcls: word index ids must run from 2 without gaps "
                                 "(ids 0 and 1 are <pad> and <unk>)")
            tokens = ["", ""] + [t for i, t in items if i >= 2]
        tokens = list(tokens)
        arr = (C.c_char_p * len(tokens))(*[cv.cstring(t if i >= 2 else "", "token")
                                           for i, t in enumerate(tokens)])
        out = _out_handle()
        check(fn.seqcls_vocab_from_list(C.byref(out), arr, cv.int32(len(tokens), "n")),
              "seqcls_vocab_from_list")
        return cls(_handle=_Handle(out.value, fn.seqcls_vocab_free))
    def encode_subwords(self, text, max_len, per_token):
        """(ids int32 [max_len, per_token], n): per token its id, then its
        character n-gram ids, -1 in unused slots (for an embedding bag)."""
        raw = _utf8(text)
        max_len = _max_len(max_len)
        per = cv.int32(per_token, "per_token")
        if per < 1:
            raise ValueError("seqcls: per_token = %d is below 1" % per)
        ids = np.full((max_len, per), -1, np.int32)
        n = C.c_int(0)
        check(fn.seqcls_vocab_encode_subwords(self._ptr, raw, len(raw),
                                              ids.ctypes.data_as(I32_P), max_len, per,
                                              C.byref(n)), "seqcls_vocab_encode_subwords")
        return ids, n.value

    def encode_subwords_batch(self, texts, max_len, per_token):
        """(ids int32 [B, max_len, per_token], lengths int32 [B])."""
        texts = list(texts)
        rows = [self.encode_subwords(t, max_len, per_token) for t in texts]
        ids = np.stack([r[0] for r in rows]) if rows else \
            np.zeros((0, _max_len(max_len), per_token), np.int32)
        return ids, np.array([r[1] for r in rows], np.int32)

    def spans(self, text, max_tokens=None):
        """[(start, end)] byte offsets of the tokens of `text` in this
        vocabulary's mode (seqcls_vocab_tokenize)."""
        return _spans(lambda *args: fn.seqcls_vocab_tokenize(self._ptr, *args),
                      "seqcls_vocab_tokenize", text, max_tokens)

    def decode(self, ids):
        """The tokens of `ids` joined by spaces (padding skipped)."""
        arr = as_array(ids, np.int32, "ids").reshape(-1)
        need = C.c_size_t(0)
        p = arr.ctypes.data_as(I32_P)
        n = cv.int32(arr.size, "number of ids")
        rc = fn.seqcls_vocab_decode(self._ptr, p, n, None, 0, C.byref(need))
        if rc != K.E_RANGE or need.value == 0:
            check(rc, "seqcls_vocab_decode")
        buf = C.create_string_buffer(max(need.value, 1))
        check(fn.seqcls_vocab_decode(self._ptr, p, n, buf, len(buf), C.byref(need)),
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
