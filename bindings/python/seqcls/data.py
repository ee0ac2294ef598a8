"""Reading labelled text files: fastText's and the TSV format, as the
command line reads them (tools/cli/data.c).

    texts, labels = seqcls.read_labelled("train.txt")

Each line is one document, either

    __label__NAME text of the document        (fastText; further __label__X are ignored)
    NAME<TAB>text of the document             (TSV)

in UTF-8.  Windows line ends ("\\r\\n") lose their "\\r", a byte-order mark
at the start of a line is dropped, blank lines are skipped.  Anything else
(no label, an empty label, invalid UTF-8, a NUL byte, UTF-16) raises
ValueError naming the file and the line.
"""

import os

_PREFIX = "__label__"
_SPACE = " \t\r\v\f"          # what separates a label from its text (ASCII white space)
_BOM = "\ufeff"


def _fail(where, lineno, msg):
    raise ValueError("%s:%d: %s" % (where, lineno, msg))


def parse_line(line, labelled=True, where="<text>", lineno=1):
    """(label, text) of one line without its line end, as the command line
    splits it; None for a blank line.  With labelled=False a line needs no
    label (the label is None) and a tab is part of the text."""
    while line.endswith("\r"):
        line = line[:-1]
    if line.startswith(_BOM):
        line = line[1:]
    if "\0" in line:
        _fail(where, lineno, "NUL byte (binary data?)")
    s = line.lstrip(_SPACE)
    if not s:
        return None
    if s.startswith(_PREFIX):
        end = len(_PREFIX)
        while end < len(s) and s[end] not in _SPACE:
            end += 1
        label = s[len(_PREFIX):end]
        if not label:
            _fail(where, lineno, "empty label after __label__")
        rest = s[end:]
        # further labels are ignored: one class per document
        while True:
            rest = rest.lstrip(_SPACE)
            if not rest.startswith(_PREFIX):
                break
            k = 0
            while k < len(rest) and rest[k] not in _SPACE:
                k += 1
            rest = rest[k:]
        return (label if labelled else None), rest
    if not labelled:
        return None, s
    tab = s.find("\t")
    if tab < 0:
        _fail(where, lineno, 'no label (expected "__label__NAME text" or "NAME<TAB>text")')
    label = s[:tab].rstrip(_SPACE)
    if not label:
        _fail(where, lineno, "empty label before the tab")
    return label, s[tab + 1:]


def _lines(path):
    """(lineno, str) of every line of the file at `path`, checked as UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    where = os.fsdecode(path)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError("%s: UTF-16 text (byte-order mark %s): convert it to UTF-8"
                         % (where, "FF FE" if data[:1] == b"\xff" else "FE FF"))
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, raw in enumerate(lines, 1):
        try:
            yield n, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError("%s:%d: invalid UTF-8 at byte %d" % (where, n, e.start + 1)) \
                from None


def read_labelled(path):
    """(texts, labels): two lists of str, one item per document of the
    fastText (`__label__NAME text`) or TSV (`NAME<TAB>text`) file at
    `path` (str or os.PathLike), both formats allowed in one file.

    Give the labels to Model.fit as they are: the model keeps their names
    (Model.labels) and Model.predict_labels returns them."""
    where = os.fsdecode(path)
    texts, labels = [], []
    for n, line in _lines(path):
        doc = parse_line(line, True, where, n)
        if doc is not None:
            labels.append(doc[0])
            texts.append(doc[1])
    return texts, labels


def read_texts(path):
    """The documents of an unlabelled file: one per non-blank line, read as
    read_labelled reads lines (line ends, byte-order mark, UTF-8 checks); a
    leading `__label__NAME` is dropped, a tab is part of the text.
    (`seqcls predict` also takes `NAME<TAB>` for a label when NAME is one
    of the model's.)"""
    where = os.fsdecode(path)
    out = []
    for n, line in _lines(path):
        doc = parse_line(line, False, where, n)
        if doc is not None:
            out.append(doc[1])
    return out


def label_order(labels):
    """The distinct names of `labels` in the order the command line gives
    them class indices: sorted by their UTF-8 bytes."""
    return sorted(set(labels), key=lambda s: s.encode("utf-8"))
