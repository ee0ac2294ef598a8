"""Finding libseqcls.so.1 and declaring every public function of seqcls.h.

The shared object is looked for, in order:
  1. the path in the environment variable SEQCLS_LIBRARY;
  2. the build tree: lib/libseqcls.so.1 three directories above this file
     (bindings/python/seqcls/ in a clone), or, for a copy installed with
     `pip install ./bindings/python`, that of the clone it was installed
     from (seqcls/_where.py, written by setup.py);
  3. the system: ctypes.util.find_library("seqcls"), then "libseqcls.so.1"
     through the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache).

SIGNATURES lists every SEQCLS_API function with its restype and argtypes;
tests/test_declarations.py parses include/seqcls.h and checks that the two
agree, function by function and argument by argument.
"""

import ctypes as C
import ctypes.util
import os

# Opaque handles are plain pointers; the wrappers keep them in _Handle objects.
HANDLE = C.c_void_p
HANDLE_P = C.POINTER(C.c_void_p)
I64_P = C.POINTER(C.c_int64)
I32_P = C.POINTER(C.c_int32)
INT_P = C.POINTER(C.c_int)
FLOAT_P = C.POINTER(C.c_float)
SIZE_P = C.POINTER(C.c_size_t)
U64_P = C.POINTER(C.c_uint64)
CHAR_P = C.c_char_p          # const char * in (bytes) or out (NUL-terminated)
BUF = C.c_void_p             # void * / const void * / char * buffers

# Callback types of seqcls_fit_config_set_callbacks.
BATCH_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int, C.c_int, C.c_float, C.c_float)
EPOCH_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_float, C.c_float, C.c_float,
                       C.c_float)
LR_SCHEDULE_FN = C.CFUNCTYPE(C.c_float, C.c_void_p, C.c_int, C.c_float)
# Callback types of seqcls_comm_create and seqcls_comm_set_destructor (1.1).
ALLREDUCE_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_float), C.c_size_t)
BROADCAST_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_void_p, C.c_size_t)
DESTRUCTOR_FN = C.CFUNCTYPE(None, C.c_void_p)

i, u, f, d = C.c_int, C.c_uint, C.c_float, C.c_double
i64, u64, sz = C.c_int64, C.c_uint64, C.c_size_t

# name: (restype, [argtypes]) -- in the order of the header.
SIGNATURES = {
    # version and errors
    "seqcls_version": (i, []),
    "seqcls_version_string": (CHAR_P, []),
    "seqcls_strerror": (CHAR_P, [i]),
    "seqcls_last_error": (CHAR_P, []),
    # tensors
    "seqcls_tensor_create": (i, [HANDLE_P, i, i, I64_P]),
    "seqcls_tensor_wrap": (i, [HANDLE_P, i, i, I64_P, BUF]),
    "seqcls_tensor_free": (None, [HANDLE]),
    "seqcls_tensor_data": (BUF, [HANDLE]),
    "seqcls_tensor_ndim": (i, [HANDLE]),
    "seqcls_tensor_dim": (i64, [HANDLE, i]),
    "seqcls_tensor_dtype": (i, [HANDLE]),
    "seqcls_tensor_numel": (i64, [HANDLE]),
    # models and layers
    "seqcls_model_create": (i, [HANDLE_P, u64]),
    "seqcls_model_free": (None, [HANDLE]),
    "seqcls_layer_count": (i, [HANDLE]),
    "seqcls_layer_describe": (i, [HANDLE, i, BUF, sz]),
    "seqcls_add_embedding": (i, [HANDLE, i, i, i, INT_P]),
    "seqcls_add_embedding_bag": (i, [HANDLE, i, i, i, INT_P]),       # 1.1
    "seqcls_embedding_set_rows": (i, [HANDLE, i, i, i, i, FLOAT_P]),
    "seqcls_add_input": (i, [HANDLE, i, INT_P]),
    "seqcls_add_lstm": (i, [HANDLE, i, u, INT_P]),
    "seqcls_add_gru": (i, [HANDLE, i, u, INT_P]),
    "seqcls_add_attention": (i, [HANDLE, i, i, INT_P]),
    "seqcls_add_batchnorm": (i, [HANDLE, INT_P]),
    "seqcls_add_pooling": (i, [HANDLE, i, INT_P]),
    "seqcls_add_dense": (i, [HANDLE, i, i, INT_P]),
    "seqcls_add_positional_encoding": (i, [HANDLE, i, i, INT_P]),
    "seqcls_add_transformer_encoder": (i, [HANDLE, i, i, u, INT_P]),
    "seqcls_add_dropout": (i, [HANDLE, f, INT_P]),
    "seqcls_add_output": (i, [HANDLE, i, INT_P]),
    "seqcls_add_conv1d": (i, [HANDLE, i, i, u, INT_P]),
    "seqcls_add_flatten": (i, [HANDLE, INT_P]),
    "seqcls_layer_set_int": (i, [HANDLE, i, i, i]),
    "seqcls_layer_set_float": (i, [HANDLE, i, i, f]),
    # introspection (1.1)
    "seqcls_layer_kind": (i, [HANDLE, i]),
    "seqcls_layer_get_int": (i, [HANDLE, i, i, INT_P]),
    "seqcls_layer_get_float": (i, [HANDLE, i, i, FLOAT_P]),
    "seqcls_model_output_width": (i, [HANDLE]),
    "seqcls_model_output_ndim": (i, [HANDLE]),
    # parameters
    "seqcls_param_count": (i, [HANDLE]),
    "seqcls_param_name": (CHAR_P, [HANDLE, i]),
    "seqcls_param": (i, [HANDLE, i, HANDLE_P, HANDLE_P]),
    "seqcls_param_find": (i, [HANDLE, CHAR_P]),
    # reduced precision (1.1)
    "seqcls_model_quantize": (i, [HANDLE, i]),
    "seqcls_model_precision": (i, [HANDLE]),
    "seqcls_param_precision": (i, [HANDLE, i, INT_P, I64_P]),
    # forward and backward
    "seqcls_forward": (i, [HANDLE, HANDLE, I32_P, HANDLE, i]),
    "seqcls_backward": (i, [HANDLE, HANDLE]),
    "seqcls_loss_backward": (i, [HANDLE, HANDLE, FLOAT_P]),
    "seqcls_input_grad": (i, [HANDLE, HANDLE_P]),
    "seqcls_zero_grad": (i, [HANDLE]),
    "seqcls_attention_weights": (i, [HANDLE, i, HANDLE_P]),
    "seqcls_final_states": (i, [HANDLE, i, HANDLE, HANDLE]),
    "seqcls_self_attention_weights": (i, [HANDLE, i, HANDLE]),
    "seqcls_predict": (i, [HANDLE, HANDLE, I32_P, HANDLE, HANDLE]),
    # streams and sampling (1.1)
    "seqcls_stream_create": (i, [HANDLE_P, HANDLE]),
    "seqcls_stream_push": (i, [HANDLE, HANDLE, i, HANDLE]),
    "seqcls_stream_reset": (i, [HANDLE]),
    "seqcls_stream_free": (None, [HANDLE]),
    "seqcls_sample": (i, [FLOAT_P, i, f, U64_P]),
    # threads
    "seqcls_set_num_threads": (i, [i]),
    "seqcls_get_num_threads": (i, []),
    # optimisers
    "seqcls_optimizer_create": (i, [HANDLE_P, i, f]),
    "seqcls_optimizer_set_float": (i, [HANDLE, i, f]),
    "seqcls_optimizer_step": (i, [HANDLE, HANDLE]),
    "seqcls_optimizer_steps": (i64, [HANDLE]),
    "seqcls_optimizer_free": (None, [HANDLE]),
    # training loop and evaluation
    "seqcls_fit_config_create": (i, [HANDLE_P]),
    "seqcls_fit_config_free": (None, [HANDLE]),
    "seqcls_fit_config_set_int": (i, [HANDLE, i, i64]),
    "seqcls_fit_config_set_float": (i, [HANDLE, i, f]),
    "seqcls_fit_config_set_callbacks": (i, [HANDLE, BATCH_FN, EPOCH_FN, LR_SCHEDULE_FN,
                                            C.c_void_p]),
    "seqcls_fit": (i, [HANDLE, HANDLE, HANDLE, I32_P, HANDLE, HANDLE, I32_P, HANDLE, HANDLE]),
    # distributed training (1.1)
    "seqcls_comm_create": (i, [HANDLE_P, i, i, ALLREDUCE_FN, BROADCAST_FN, C.c_void_p]),
    "seqcls_comm_free": (None, [HANDLE]),
    "seqcls_comm_set_destructor": (i, [HANDLE, DESTRUCTOR_FN]),
    "seqcls_comm_rank": (i, [HANDLE]),
    "seqcls_comm_size": (i, [HANDLE]),
    "seqcls_comm_set_int": (i, [HANDLE, i, i64]),
    "seqcls_comm_stat": (d, [HANDLE, i]),
    "seqcls_fit_config_set_comm": (i, [HANDLE, HANDLE]),
    "seqcls_comm_allreduce_grads": (i, [HANDLE, HANDLE]),
    "seqcls_comm_broadcast_params": (i, [HANDLE, HANDLE]),
    "seqcls_evaluate": (i, [HANDLE, HANDLE, I32_P, HANDLE, i, HANDLE_P]),
    "seqcls_metrics_classes": (i, [HANDLE]),
    "seqcls_metrics_get": (d, [HANDLE, i, i]),
    "seqcls_metrics_confusion": (i64, [HANDLE, i, i]),
    "seqcls_metrics_free": (None, [HANDLE]),
    # text
    "seqcls_tokenize": (i, [BUF, sz, I32_P, I32_P, i, I32_P]),
    "seqcls_vocab_create": (i, [HANDLE_P]),
    "seqcls_vocab_free": (None, [HANDLE]),
    "seqcls_vocab_set_int": (i, [HANDLE, i, i]),                     # 1.1
    "seqcls_vocab_get_int": (i, [HANDLE, i, INT_P]),                 # 1.1
    "seqcls_vocab_rows": (i, [HANDLE]),                              # 1.1
    "seqcls_vocab_add_text": (i, [HANDLE, BUF, sz]),
    "seqcls_vocab_build": (i, [HANDLE, i, i]),
    "seqcls_vocab_size": (i, [HANDLE]),
    "seqcls_vocab_id": (i, [HANDLE, CHAR_P]),
    "seqcls_vocab_token": (CHAR_P, [HANDLE, i]),
    "seqcls_vocab_encode": (i, [HANDLE, BUF, sz, I32_P, i, I32_P]),
    "seqcls_vocab_encode_ex": (i, [HANDLE, BUF, sz, I32_P, i, u, I32_P]),
    "seqcls_vocab_from_list": (i, [HANDLE_P, C.POINTER(CHAR_P), i]),
    "seqcls_vocab_encode_subwords": (i, [HANDLE, BUF, sz, I32_P, i, i, INT_P]),   # 1.1
    "seqcls_vocab_tokenize": (i, [HANDLE, BUF, sz, I32_P, I32_P, i, I32_P]),     # 1.1
    "seqcls_vocab_decode": (i, [HANDLE, I32_P, i, BUF, sz, SIZE_P]),
    "seqcls_vocab_save_buffer": (i, [HANDLE, HANDLE_P, SIZE_P]),
    "seqcls_vocab_load_buffer": (i, [HANDLE_P, BUF, sz]),
    # what a model carries
    "seqcls_model_set_vocab": (i, [HANDLE, HANDLE]),
    "seqcls_model_vocab": (HANDLE, [HANDLE]),
    "seqcls_model_set_labels": (i, [HANDLE, i, C.POINTER(CHAR_P)]),
    "seqcls_model_label_count": (i, [HANDLE]),
    "seqcls_model_label": (CHAR_P, [HANDLE, i]),
    # metadata (1.1)
    "seqcls_model_set_meta": (i, [HANDLE, CHAR_P, CHAR_P]),
    "seqcls_model_get_meta": (CHAR_P, [HANDLE, CHAR_P]),
    "seqcls_model_meta_count": (i, [HANDLE]),
    "seqcls_model_meta_key": (CHAR_P, [HANDLE, i]),
    # save and load
    "seqcls_model_save": (i, [HANDLE, CHAR_P]),
    "seqcls_model_load": (i, [HANDLE_P, CHAR_P]),
    "seqcls_model_save_buffer": (i, [HANDLE, HANDLE_P, SIZE_P]),
    "seqcls_model_load_buffer": (i, [HANDLE_P, BUF, sz]),
    "seqcls_checkpoint_save": (i, [HANDLE, HANDLE, CHAR_P]),
    "seqcls_checkpoint_load": (i, [HANDLE_P, HANDLE_P, CHAR_P]),
    "seqcls_free": (None, [C.c_void_p]),
}

del i, u, f, d, i64, u64, sz

_HERE = os.path.dirname(os.path.abspath(__file__))


def candidates():
    """The places the shared object is looked for, in order."""
    out = []
    env = os.environ.get("SEQCLS_LIBRARY")
    if env:
        out.append(env)
    out.append(os.path.normpath(os.path.join(_HERE, "..", "..", "..", "lib", "libseqcls.so.1")))
    try:
        from ._where import BUILD_TREE_LIBRARY
    except ImportError:         # not an installed copy
        BUILD_TREE_LIBRARY = None
    if BUILD_TREE_LIBRARY and BUILD_TREE_LIBRARY not in out:
        out.append(BUILD_TREE_LIBRARY)
    found = ctypes.util.find_library("seqcls")
    if found:
        out.append(found)
    out.append("libseqcls.so.1")
    return out


def _load():
    env = os.environ.get("SEQCLS_LIBRARY")
    if env:
        # An explicit choice is not second-guessed: if it fails, say so.
        return C.CDLL(env), env
    errors = []
    for path in candidates():
        if os.sep in path and not os.path.exists(path):
            continue
        try:
            return C.CDLL(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("seqcls: cannot find libseqcls.so.1 (set SEQCLS_LIBRARY to its path, "
                      "build it with `make`, or `make install` it); tried: "
                      + "; ".join(errors or candidates()))


lib, path = _load()

# Functions the header declares but this build of the library lacks (an
# older or partial build).  Calling one raises UnsupportedError.
missing = []


def _missing_stub(name):
    def stub(*args):
        from .errors import UnsupportedError
        raise UnsupportedError("%s: not in the loaded library %s" % (name, path),
                               function=name)
    stub.__name__ = name
    return stub


class _Functions:
    """Attribute access to the declared C functions (fn.seqcls_model_create...)."""


fn = _Functions()
for _name, (_res, _args) in SIGNATURES.items():
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        missing.append(_name)
        setattr(fn, _name, _missing_stub(_name))
        continue
    _f.restype = _res
    _f.argtypes = list(_args)
    setattr(fn, _name, _f)
del _name, _res, _args
