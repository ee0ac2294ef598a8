#!/usr/bin/env python3
"""Generate docs/api-reference.md from the comments of include/seqcls.h.

    tools/gen_api_reference.py            write docs/api-reference.md
    tools/gen_api_reference.py --check    exit 1 if it is out of date
    (make api-reference / make check-docs)

Every SEQCLS_API function gets its section, its prototype, its header
comment (purpose), an ownership line and an errors line.  Ownership and
errors are read from the comment and the prototype: constructors
(`T **out`) give the caller an object to free with its *_free; *_free
accept NULL; pointer returns are borrowed as the comment says; the errors
are the SEQCLS_E_* codes the comment names (also through "as <function>").
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HEADER = os.path.join(ROOT, "include", "seqcls.h")
OUT = os.path.join(ROOT, "docs", "api-reference.md")

FREE_OF = {"seqcls_tensor_t": "seqcls_tensor_free", "seqcls_model_t": "seqcls_model_free",
           "seqcls_optimizer_t": "seqcls_optimizer_free",
           "seqcls_fit_config_t": "seqcls_fit_config_free",
           "seqcls_metrics_t": "seqcls_metrics_free", "seqcls_vocab_t": "seqcls_vocab_free"}


def clean_comment(text):
    text = re.sub(r"^/\*\*?|\*/$", "", text.strip())
    lines = [re.sub(r"^\s*\* ?", "", l) for l in text.splitlines()]
    return "\n".join(lines).strip()


def parse(header):
    """[(section, intro, [(name, prototype, comment)])] in header order."""
    tokens = re.finditer(
        r"(?P<banner>/\* -{10,} \*/\s*/\*\s*(?P<title>[^*]+?)\s*\*/\s*/\* -{10,} \*/)"
        r"|(?P<title2>^/\* (?P<t2>[A-Z][^*\n]+?)\s+\*/$)"
        r"|(?P<comment>/\*.*?\*/)"
        r"|(?P<api>^SEQCLS_API\s[^;]*;)"
        r"|(?P<define>^#define SEQCLS_\w+)", header, re.S | re.M)
    sections = []
    pending = None        # the last comment, waiting for its declaration
    shared = None         # a comment already used by the previous declaration
    for m in tokens:
        if m.group("banner") or m.group("title2"):
            title = (m.group("title") or m.group("t2")).strip()
            sections.append([title, "", []])
            pending = shared = None
        elif m.group("comment"):
            text = m.group("comment")
            if not sections:
                continue
            body = clean_comment(text)
            if text.startswith("/**"):
                pending, shared = body, None
            elif "\n" in text and not sections[-1][2] or body.startswith(("Layer constructors",
                                                                          "The tokeniser")):
                sections[-1][1] += ("\n\n" if sections[-1][1] else "") + body
                pending = shared = None
            else:
                pending = shared = None
        elif m.group("define"):
            pending = shared = None
        elif m.group("api"):
            proto = " ".join(m.group("api")[len("SEQCLS_API"):].split())
            name = re.search(r"(\w+)\s*\(", proto).group(1)
            comment = pending if pending is not None else (shared or "")
            shared, pending = comment, None
            sections[-1][2].append((name, proto, comment))
    return [s for s in sections if s[2]]


def errors_of(name, comment, table):
    codes = re.findall(r"SEQCLS_E_[A-Z_]+", comment)
    m = re.search(r"\b[Aa]s (seqcls_\w+)", comment)
    if m and m.group(1) in table:
        codes = errors_of(m.group(1), table[m.group(1)], table) + codes
    seen = []
    for c in codes:
        if c not in seen:
            seen.append(c)
    return seen


def ownership(name, proto, comment):
    ret = proto[: proto.index(name)].strip()
    m = re.search(r"\((\w+)_t \*\*out", proto)
    if name == "seqcls_tensor_wrap":
        return "on success the caller owns `*out` (free it with `seqcls_tensor_free`); the " \
               "tensor borrows `data`, which must stay alive and unmoved while it lives"
    if m:
        return "on success the caller owns `*out` and frees it with `%s`; `*out` is NULL on " \
               "failure" % FREE_OF.get(m.group(1) + "_t", "its *_free")
    if name.endswith("_free") and name != "seqcls_free":
        return "frees the object and everything it owns; NULL is allowed"
    if name == "seqcls_free":
        return "frees memory the library returned (a saved buffer); NULL is allowed"
    if re.search(r"void \*\*buf", proto):
        return "the caller owns `*buf` and frees it with `seqcls_free`"
    if re.search(r"seqcls_tensor_t \*\*", proto):
        return "the tensors stored are borrowed from the model (see the comment for how long)"
    if "*" in ret:
        return "the pointer returned is borrowed, never freed by the caller (see the comment " \
               "for how long it stays valid)"
    if "wrap" in name:
        return "borrows `data`"
    if re.search(r"const \w+ \*(data|text|ids|buf|name|token|path)\b", proto):
        return "reads the caller's memory during the call only; nothing is retained"
    return "nothing is allocated for the caller"


def render(sections):
    table = {n: c for _, _, fns in sections for n, _, c in fns}
    out = ["# seqcls API reference", "",
           "Generated from the comments of `include/seqcls.h` by "
           "`tools/gen_api_reference.py` (`make api-reference`); do not edit by hand — "
           "`make check` fails when this page and the header disagree.", "",
           "Conventions: every fallible call returns `SEQCLS_OK` (0) or a negative "
           "`SEQCLS_E_*` status, and `seqcls_last_error()` then names the function, the "
           "argument and the problem (thread-local).  Constructors take the out pointer "
           "first; every `*_free` accepts NULL.  See [api.md](api.md) for the guide and "
           "[threading.md](threading.md) for which calls may run concurrently.", ""]
    out.append("## Contents")
    out.append("")
    for title, _, fns in sections:
        out.append("- **%s**: %s" % (title, ", ".join("[`%s`](#%s)" % (n, n) for n, _, _ in fns)))
    out.append("")
    for title, intro, fns in sections:
        out += ["## %s" % title, ""]
        if intro:
            out += [intro, ""]
        for name, proto, comment in fns:
            out += ['<a id="%s"></a>' % name, "### `%s`" % name, "", "```c", proto, "```", ""]
            if comment:
                out += [comment, ""]
            errs = errors_of(name, comment, table)
            if name.startswith("seqcls_add_"):
                # "Errors as the other constructors": the section's shared list.
                errs = [e for e in re.findall(r"SEQCLS_E_[A-Z_]+", intro) if e not in errs] + errs
            ret = proto[: proto.index(name)].strip()
            if errs:
                err = "returns `SEQCLS_OK` or " + ", ".join("`%s`" % e for e in errs if
                                                             e != "SEQCLS_E_") + "."
            elif ret == "int" and re.search(r"@return|SEQCLS_OK", comment):
                err = "returns `SEQCLS_OK` or a negative status (see above)."
            elif ret == "void":
                err = "none (returns nothing)."
            else:
                err = "none: returns a value, as described (never sets a status)."
            out += ["- *Ownership*: %s." % ownership(name, proto, comment),
                    "- *Errors*: %s" % err, ""]
    return "\n".join(out).rstrip() + "\n"


def main():
    text = render(parse(open(HEADER).read()))
    if "--check" in sys.argv[1:]:
        cur = open(OUT).read() if os.path.exists(OUT) else ""
        if cur != text:
            sys.stderr.write("docs/api-reference.md is out of date: run `make api-reference`\n")
            return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
