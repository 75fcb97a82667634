"""ctypes declarations of libcff's C API (cff.h), and where to find libcff_c.

This module mirrors the header by hand: every function's argument and result types. The library is
loaded on first use from the first of these that loads: the libcff_c.so of the prefix the package
was pip-installed against (``cff/_install.py``, written by setup.py from ``pkg-config cff`` or
``CFF_PREFIX``), the ``CFF_LIBRARY`` environment variable (a path to libcff_c.so), the build tree
this package sits in (``<repo>/build/capi``), then the system loader.
"""
import ctypes
import ctypes.util
import os
import threading
from ctypes import POINTER, c_char_p, c_double, c_float, c_int32, c_int64, c_uint32, c_uint64, c_void_p

#: The ABI version (CFF_ABI_VERSION in cff.h) this binding was written for.
ABI_VERSION = 2

c_enum = ctypes.c_uint  # a C enum with small non-negative values (gcc, clang: unsigned int)


class Status(ctypes.Structure):
    """Opaque cff_status."""


class Options(ctypes.Structure):
    """Opaque cff_options."""


class Model(ctypes.Structure):
    """Opaque cff_model."""


class LayerBatch(ctypes.Structure):
    """Opaque cff_layer_batch."""


class Dataset(ctypes.Structure):
    """Opaque cff_dataset."""


class ProviderList(ctypes.Structure):
    """Opaque cff_provider_list."""


class Batch(ctypes.Structure):
    """cff_batch: a batch of images (and labels) in caller memory."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("dtype", c_int32),
        ("layout", c_int32),
        ("reserved", c_int32),
        ("images", c_void_p),
        ("images_length", c_int64),
        ("labels", POINTER(c_int64)),
        ("labels_length", c_int64),
        ("count", c_int64),
        ("channels", c_int64),
        ("height", c_int64),
        ("width", c_int64),
    ]


class Progress(ctypes.Structure):
    """cff_progress: what a progress callback receives."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("end_of_epoch", c_int32),
        ("stage", c_int64),
        ("epoch", c_int64),
        ("epochs", c_int64),
        ("batch", c_int64),
        ("batches", c_int64),
        ("losses", POINTER(c_double)),
        ("num_losses", c_int64),
        ("val_losses", POINTER(c_double)),
        ("num_val_losses", c_int64),
        ("seconds", c_double),
        ("message", c_char_p),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(c_int32, POINTER(Progress), c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, c_int32, c_char_p, c_void_p)


class BatchIterator(ctypes.Structure):
    """Opaque cff_batch_iterator."""

S = POINTER(Status)
P = POINTER
i64p = P(c_int64)
dp = P(c_double)
fp = P(c_float)
cpp = P(c_char_p)
out_str = P(ctypes.c_void_p)  # char** outputs: read as void* so that the pointer can be freed

# name: (result type, [argument types]); in the order of cff.h.
SIGNATURES = {
    "cff_version": (c_char_p, []),
    "cff_abi_version": (c_uint32, []),
    "cff_abi_check": (S, [c_uint32]),
    "cff_torch_version": (c_char_p, []),
    "cff_status_code": (c_enum, [S]),
    "cff_status_message": (c_char_p, [S]),
    "cff_status_free": (None, [S]),
    "cff_code_name": (c_char_p, [c_enum]),
    "cff_string_free": (None, [c_void_p]),
    "cff_threads_set": (S, [c_int64]),
    "cff_limit_set": (S, [c_char_p, c_int64]),
    "cff_plugin_abi_version": (c_uint32, []),
    "cff_plugin_load": (S, [c_char_p, out_str]),
    "cff_plugin_unload": (S, [c_char_p, POINTER(c_int32)]),
    "cff_device_check": (S, [c_char_p]),
    "cff_log_set": (None, [LOG_FN, c_void_p]),
    "cff_plugins_discover": (S, [i64p, i64p]),
    "cff_lr_schedule_scale": (S, [c_int32, c_int64, c_int64, dp]),
    "cff_options_create": (S, [P(P(Options))]),
    "cff_options_free": (None, [P(Options)]),
    "cff_options_set_json": (S, [P(Options), c_char_p]),
    "cff_options_get_json": (S, [P(Options), out_str]),
    "cff_options_validate": (S, [P(Options)]),
    "cff_options_set_arch": (S, [P(Options), c_enum]),
    "cff_options_set_algorithm": (S, [P(Options), c_enum]),
    "cff_options_set_embed_dim": (S, [P(Options), c_int64]),
    "cff_options_set_num_layers": (S, [P(Options), c_int64]),
    "cff_options_set_num_heads": (S, [P(Options), c_int64]),
    "cff_options_set_patch_size": (S, [P(Options), c_int64]),
    "cff_options_set_pooling": (S, [P(Options), c_enum]),
    "cff_options_set_input_shape": (S, [P(Options), c_int64, c_int64, c_int64]),
    "cff_options_set_num_classes": (S, [P(Options), c_int64]),
    "cff_options_set_loss": (S, [P(Options), c_char_p]),
    "cff_options_set_augment": (S, [P(Options), c_char_p]),
    "cff_options_set_views": (S, [P(Options), c_int64]),
    "cff_options_set_lr": (S, [P(Options), c_double, c_double]),
    "cff_options_set_head_lr": (S, [P(Options), c_double, c_double]),
    "cff_options_set_batch_size": (S, [P(Options), c_int64]),
    "cff_options_set_epochs": (S, [P(Options), c_int64, c_int64]),
    "cff_options_set_val_fraction": (S, [P(Options), c_double]),
    "cff_options_set_seed": (S, [P(Options), c_uint64]),
    "cff_options_set_device": (S, [P(Options), c_char_p]),
    "cff_options_set_precision": (S, [P(Options), c_enum]),
    "cff_options_set_lr_schedule": (S, [P(Options), c_enum]),
    "cff_options_set_threads": (S, [P(Options), c_int64]),
    "cff_options_set_normalization": (S, [P(Options), dp, dp, c_int64]),
    "cff_options_set_ff_prediction": (S, [P(Options), c_enum]),
    "cff_model_create": (S, [P(Options), P(P(Model))]),
    "cff_model_create_json": (S, [c_char_p, P(P(Model))]),
    "cff_model_free": (None, [P(Model)]),
    "cff_model_load": (S, [c_char_p, c_char_p, P(P(Model))]),
    "cff_model_save": (S, [P(Model), c_char_p]),
    "cff_model_export_torchscript": (S, [P(Model), c_char_p]),
    "cff_model_load_state": (S, [P(Model), c_char_p]),
    "cff_model_num_layers": (S, [P(Model), i64p]),
    "cff_model_num_classes": (S, [P(Model), i64p]),
    "cff_model_embed_dim": (S, [P(Model), i64p]),
    "cff_model_num_parameters": (S, [P(Model), i64p]),
    "cff_model_input_shape": (S, [P(Model), i64p, i64p, i64p]),
    "cff_model_progress": (S, [P(Model), i64p, i64p]),
    "cff_model_device": (S, [P(Model), out_str]),
    "cff_model_config_json": (S, [P(Model), out_str]),
    "cff_model_set_ff_prediction": (S, [P(Model), c_enum]),
    "cff_model_set_lr_scale": (S, [P(Model), c_double]),
    "cff_model_set_parallel": (S, [P(Model), c_char_p]),
    "cff_layer_batch_create": (S, [P(Model), P(Batch), c_int32, P(P(LayerBatch))]),
    "cff_layer_batch_free": (None, [P(LayerBatch)]),
    "cff_layer_batch_next_layer": (S, [P(LayerBatch), i64p]),
    "cff_model_train_layer": (S, [P(Model), P(LayerBatch), c_int64, dp]),
    "cff_model_step": (S, [P(Model), P(Batch), dp, c_int64, i64p]),
    "cff_model_layer_losses": (S, [P(Model), P(Batch), c_int32, dp, c_int64, i64p]),
    "cff_model_head_step": (S, [P(Model), P(Batch), dp]),
    "cff_model_head_loss": (S, [P(Model), P(Batch), dp]),
    "cff_model_fit": (S, [P(Model), P(Dataset), PROGRESS_FN, c_void_p, c_char_p, P(c_int32)]),
    "cff_model_predict": (S, [P(Model), P(Batch), c_int64, i64p, c_int64, fp, c_int64, i64p, c_int64]),
    "cff_model_embed": (S, [P(Model), P(Batch), c_int64, fp, c_int64]),
    "cff_model_evaluate": (S, [P(Model), P(Batch), i64p, c_int64, dp]),
    "cff_model_evaluate_dataset": (S, [P(Model), P(Dataset), i64p, c_int64, dp]),
    "cff_dataset_load_idx": (S, [c_char_p, c_char_p, P(P(Dataset))]),
    "cff_dataset_create": (S, [P(Batch), c_int64, P(P(Dataset))]),
    "cff_dataset_free": (None, [P(Dataset)]),
    "cff_dataset_slice": (S, [P(Dataset), c_int64, c_int64, P(P(Dataset))]),
    "cff_dataset_info": (S, [P(Dataset), i64p, i64p, i64p, i64p, P(c_enum), i64p]),
    "cff_dataset_images": (S, [P(Dataset), c_int64, c_int64, c_enum, c_void_p, c_int64]),
    "cff_dataset_labels": (S, [P(Dataset), c_int64, c_int64, i64p, c_int64]),
    "cff_dataset_class_name": (S, [P(Dataset), c_int64, cpp]),
    "cff_dataset_normalization": (S, [P(Dataset), dp, dp, c_int64]),
    "cff_batch_iterator_create": (S, [P(Dataset), c_int64, c_uint64, c_int32, P(P(BatchIterator))]),
    "cff_batch_iterator_free": (None, [P(BatchIterator)]),
    "cff_batch_iterator_next": (S, [P(BatchIterator), c_int32, c_void_p, c_int64, i64p, c_int64, i64p, i64p]),
    "cff_provider_list_create": (S, [c_enum, P(P(ProviderList))]),
    "cff_provider_list_free": (None, [P(ProviderList)]),
    "cff_provider_list_count": (S, [P(ProviderList), i64p]),
    "cff_provider_list_get": (S, [P(ProviderList), c_int64, cpp, cpp, cpp, cpp]),
}


def candidates():
    """Where the library is looked for, in order."""
    out = []
    try:
        from . import _install  # written by setup.py when the package is pip-installed

        if _install.LIBRARY:
            out.append(_install.LIBRARY)
    except ImportError:  # run from the source tree (PYTHONPATH=bindings/python)
        pass
    env = os.environ.get("CFF_LIBRARY")
    if env:
        out.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    build_tree = os.path.join(repo, "build", "capi", "libcff_c.so")
    if os.path.exists(build_tree):
        out.append(build_tree)
    found = ctypes.util.find_library("cff_c")
    out.append(found or f"libcff_c.so.{ABI_VERSION}")
    return out


_lock = threading.Lock()
_lib = None
loaded_from = None  # the candidate the library was loaded from


def check_abi(expected, library):
    """None when the versions match, else the message of the refusal."""
    if expected == library:
        return None
    return (f"libcff_c has ABI version {library} but this Python binding was written for ABI version "
            f"{expected}; use a binding matching the installed cff.h")


def load():
    """The loaded library with every signature declared; raises OSError when it cannot be found
    and cff.CffError (UNSUPPORTED) on an ABI mismatch. Loaded once."""
    global _lib, loaded_from
    with _lock:
        if _lib is not None:
            return _lib
        errors = []
        lib = None
        for path in candidates():
            if os.sep in path and not os.path.exists(path):
                errors.append(f"{path}: no such file")
                continue
            try:
                lib = ctypes.CDLL(path)
                loaded_from = path
                break
            except OSError as e:
                errors.append(str(e))
        if lib is None:
            raise OSError("libcff_c not found (set CFF_LIBRARY to its path): " + "; ".join(errors))
        from . import CffError, Code  # noqa: circular at import time only

        # cff_abi_version exists in every ABI: compare first, before looking up any other symbol.
        lib.cff_abi_version.restype = c_uint32
        lib.cff_abi_version.argtypes = []
        problem = check_abi(ABI_VERSION, lib.cff_abi_version())
        if problem:
            raise CffError(Code.UNSUPPORTED, problem)
        for name, (restype, argtypes) in SIGNATURES.items():
            f = getattr(lib, name)
            f.restype = restype
            f.argtypes = argtypes
        status = lib.cff_abi_check(ABI_VERSION)  # the library's own verdict
        if status:
            message = lib.cff_status_message(status).decode(errors="replace")
            lib.cff_status_free(status)
            raise CffError(Code.UNSUPPORTED, message)
        _lib = lib
        return lib
