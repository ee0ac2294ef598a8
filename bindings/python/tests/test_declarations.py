"""Every SEQCLS_API function of the header is declared with the right
types, and every #define constant has its value in the package."""
import ctypes as C
import os
import re

import seqcls
from seqcls import _lib
from conftest import ROOT

HEADER = os.path.join(ROOT, "include", "seqcls.h")


def header_functions():
    """{name: (return C type, [argument C types])} from the header."""
    text = open(HEADER).read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = {}
    for m in re.finditer(r"^SEQCLS_API\s+([^;]*?)\s*;", text, re.M | re.S):
        decl = " ".join(m.group(1).split())
        head, args = re.match(r"(.*?)\((.*)\)$", decl).groups()
        name = re.search(r"(\w+)$", head).group(1)
        ret = head[: -len(name)].strip()
        params = [] if args.strip() == "void" else [a.strip() for a in args.split(",")]
        types = []
        for p in params:
            pm = re.match(r"(.*?)(\w+)$", p)
            types.append(" ".join(pm.group(1).replace("*", " * ").split()))
        out[name] = (" ".join(ret.replace("*", " * ").split()), types)
    return out


def header_defines():
    out = {}
    text = open(HEADER).read().replace("\\\n", " ")
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    for m in re.finditer(r"^#define (SEQCLS_\w+)[ \t]+(.+)$", text, re.M):
        name, value = m.group(1), m.group(2).strip()
        if name == "SEQCLS_API" or not value:
            continue
        out[name] = value
    return out


def expected_ctype(ctype):
    """The ctypes type a C type is declared with in _lib.SIGNATURES."""
    base = ctype.replace("const ", "").strip()
    scalars = {"int": C.c_int, "unsigned": C.c_uint, "float": C.c_float, "double": C.c_double,
               "int64_t": C.c_int64, "uint64_t": C.c_uint64, "size_t": C.c_size_t,
               "void": None}
    if base in scalars:
        return scalars[base]
    if base == "char *":
        return C.c_char_p
    if base == "void *":
        return C.c_void_p
    if base == "char * *":          # const char *const *names
        return C.POINTER(C.c_char_p)
    if base == "void * *":
        return C.POINTER(C.c_void_p)
    if re.match(r"seqcls_\w+_t \* \*$", base):
        return C.POINTER(C.c_void_p)
    if re.match(r"seqcls_\w+_t \*$", base):
        return C.c_void_p
    if base in ("seqcls_batch_fn", "seqcls_epoch_fn", "seqcls_lr_schedule_fn",
                "seqcls_allreduce_fn", "seqcls_broadcast_fn", "seqcls_destructor_fn"):
        return {"seqcls_batch_fn": _lib.BATCH_FN, "seqcls_epoch_fn": _lib.EPOCH_FN,
                "seqcls_lr_schedule_fn": _lib.LR_SCHEDULE_FN,
                "seqcls_allreduce_fn": _lib.ALLREDUCE_FN,
                "seqcls_broadcast_fn": _lib.BROADCAST_FN,
                "seqcls_destructor_fn": _lib.DESTRUCTOR_FN}[base]
    pointee = {"int32_t *": C.c_int32, "int64_t *": C.c_int64, "int *": C.c_int,
               "float *": C.c_float, "size_t *": C.c_size_t, "uint64_t *": C.c_uint64}
    if base in pointee:
        return C.POINTER(pointee[base])
    raise AssertionError("no ctypes mapping for C type %r" % ctype)


def same(a, b):
    # c_char_p buffers (char *buf) are declared as void * so ctypes does not
    # treat them as immutable bytes; both are pointer-sized.
    if a is b:
        return True
    if {a, b} == {C.c_void_p, C.c_char_p}:
        return True
    return False


def test_header_parsed():
    fns = header_functions()
    assert len(fns) >= 80
    assert fns["seqcls_fit"][1][0] == "seqcls_model_t *"


def test_every_header_function_is_declared():
    fns = header_functions()
    undeclared = sorted(set(fns) - set(_lib.SIGNATURES))
    assert not undeclared, "not declared in bindings/python/seqcls/_lib.py: %s" % undeclared
    extra = sorted(set(_lib.SIGNATURES) - set(fns))
    assert not extra, "declared but not in seqcls.h: %s" % extra


def test_declarations_match_header_types():
    for name, (ret, args) in header_functions().items():
        restype, argtypes = _lib.SIGNATURES[name]
        assert same(restype, expected_ctype(ret)), (name, ret, restype)
        assert len(argtypes) == len(args), (name, args, argtypes)
        for i, (want, got) in enumerate(zip(args, argtypes)):
            assert same(got, expected_ctype(want)), (name, i, want, got)


def test_every_declared_function_is_bound_on_the_library():
    for name, (restype, argtypes) in _lib.SIGNATURES.items():
        if name in seqcls.missing:
            continue
        f = getattr(_lib.lib, name)
        assert f.restype == restype and list(f.argtypes) == list(argtypes), name
        assert getattr(seqcls.fn, name) is f


def test_the_library_has_every_function_of_the_header():
    # (the package tolerates an older 1.x library; this build must be complete)
    assert not seqcls.missing, seqcls.missing


def test_constants_match_header():
    defines = header_defines()
    assert len(defines) > 60
    for name, value in defines.items():
        short = name[len("SEQCLS_"):]
        assert hasattr(seqcls, short), "seqcls.%s missing (%s)" % (short, name)
        got = getattr(seqcls, short)
        if value.startswith('"'):
            assert got == value.strip('"'), name
        elif name == "SEQCLS_VERSION_NUMBER":
            assert got == seqcls.VERSION_MAJOR * 10000 + seqcls.VERSION_MINOR * 100 \
                + seqcls.VERSION_PATCH
        else:
            assert got == int(value.strip("()").rstrip("uU"), 0), name


def test_runtime_version_matches_constants():
    assert seqcls.version() == seqcls.VERSION_NUMBER
    assert seqcls.version_string() == seqcls.VERSION_STRING
