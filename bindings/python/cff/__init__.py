"""Python binding of libcff: train neural networks layer by layer with local losses (Contrastive
Forward-Forward, arXiv 2502.00571) through libcff's C API, over ctypes (no compiler needed).

Images are numpy arrays: uint8 (0..255) or float32 (0..1), shaped (N, C, H, W), (N, H, W, C) with
``layout="nhwc"``, or (N, H, W) for one channel. A C-contiguous uint8 or float32 array is passed to
the library as is, without a copy; anything else is converted first. Failures raise
:class:`CffError` carrying the library's code and message.

    import numpy as np, cff
    model = cff.Model({"model": {"embed_dim": 16, "num_layers": 2, "height": 8, "width": 8,
                                 "num_classes": 2}, "train": {"device": "cpu"}})
    losses = model.step(images, labels)      # one local update of every layer
    model.head_step(images, labels)          # one update of the linear head
    predicted = model.predict(images)        # int64 labels
    model.save("model.cff"); same = cff.Model.load("model.cff")

Threads: the library serialises calls on one model and releases the GIL during them (ctypes);
datasets are immutable; an Options object must not be changed from two threads at once.
"""
import ctypes
import enum
import json as _json
import os
from collections import namedtuple
from ctypes import byref, c_char_p, c_double, c_int32, c_int64, c_void_p

import numpy as np

from . import _lib
from ._lib import ABI_VERSION, check_abi

__all__ = [
    "ABI_VERSION", "Algorithm", "Arch", "CffError", "CffTypeError", "CffValueError", "Code", "Dataset",
    "DatasetInfo", "FFPrediction", "LayerBatch", "Model", "Options", "Pooling", "Precision", "Provider",
    "ProviderKind", "LogLevel", "LrSchedule", "abi_version", "check_abi", "device_check", "discover_plugins",
    "library_path", "load_plugin", "lr_schedule_scale", "set_log_handler", "plugin_abi_version", "providers",
    "set_threads",
    "torch_version", "unload_plugin", "version",
]


class Code(enum.IntEnum):
    """cff_code: the kind of a failure (pinned values)."""

    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    FORMAT = 3
    STATE = 4
    PLUGIN = 5
    UNSUPPORTED = 6
    NUMERICS = 7
    OUT_OF_MEMORY = 8
    INTERNAL = 9


class Arch(enum.IntEnum):
    MLP = 0
    VIT = 1


class Algorithm(enum.IntEnum):
    CONTRASTIVE = 0
    FORWARD_FORWARD = 1
    BACKPROP = 2


class Precision(enum.IntEnum):
    FLOAT32 = 0
    BFLOAT16 = 1
    AUTO = 2  # bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else float32 (the default)


class LrSchedule(enum.IntEnum):
    AUTO = 0  # cosine for contrastive and backprop, constant for FF (fit's default)
    CONSTANT = 1
    COSINE = 2


class LogLevel(enum.IntEnum):
    DEBUG = 0
    INFO = 1
    WARNING = 2
    ERROR = 3


class Pooling(enum.IntEnum):
    MEAN = 0
    CLASS_TOKEN = 1


class FFPrediction(enum.IntEnum):
    GOODNESS = 0
    HEAD = 1


class ProviderKind(enum.IntEnum):
    LOSS = 0
    AUGMENTATION = 1


_DTYPES = {np.dtype(np.uint8): 0, np.dtype(np.float32): 1}
_LAYOUTS = {"nchw": 0, "nhwc": 1}


class CffError(Exception):
    """A failure reported by libcff (or by this binding before calling it).

    ``code`` is a :class:`Code` (or a plain int for a code this binding does not know) and
    ``message`` the library's one-line message."""

    def __init__(self, code, message):
        try:
            code = Code(code)
        except ValueError:
            code = int(code)
        self.code = code
        self.message = message
        super().__init__(message)

    def __str__(self):
        name = "CFF_CODE_" + self.code.name if isinstance(self.code, Code) else "CFF_CODE_UNKNOWN"
        return f"{self.message} ({name})"


class CffTypeError(CffError, TypeError):
    """An argument of the wrong type (raised by the binding; code INVALID_ARGUMENT)."""

    def __init__(self, message):
        super().__init__(Code.INVALID_ARGUMENT, message)


class CffValueError(CffError, ValueError):
    """An argument of the right type but a wrong value or shape (raised by the binding; code
    INVALID_ARGUMENT)."""

    def __init__(self, message):
        super().__init__(Code.INVALID_ARGUMENT, message)


def _L():
    return _lib.load()


def _check(status):
    """Raises CffError for a non-NULL status, after copying its message and freeing it."""
    if not status:
        return
    lib = _L()
    try:
        code = lib.cff_status_code(status)
        message = lib.cff_status_message(status).decode("utf-8", "replace")
    finally:
        lib.cff_status_free(status)
    raise CffError(code, message)


def _invalid(message):
    return CffError(Code.INVALID_ARGUMENT, message)


def _bytes(s):
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    if isinstance(s, str):
        s = s.encode("utf-8")
    if b"\0" in s:
        raise _invalid(f"{s!r} contains a NUL byte")
    return s


def _take_string(p):
    """Copies and frees a string returned through char**."""
    if not p.value:
        return ""
    try:
        return ctypes.string_at(p.value).decode("utf-8", "replace")
    finally:
        _L().cff_string_free(p)


def version():
    """The library's release version, e.g. "0.1.0"."""
    return _L().cff_version().decode()


def library_path():
    """Where the loaded libcff_c came from (a path, or the bare name the system loader found)."""
    _L()
    return _lib.loaded_from


def abi_version():
    """The ABI version of the loaded library (compare :data:`ABI_VERSION`)."""
    return int(_L().cff_abi_version())


def torch_version():
    """The LibTorch version the library was built against."""
    return _L().cff_torch_version().decode()


def set_threads(threads):
    """Sets the CPU threads LibTorch uses, process-wide (0 = every core)."""
    _check(_L().cff_threads_set(threads))


def plugin_abi_version():
    """The plugin ABI version the library loads."""
    return int(_L().cff_plugin_abi_version())


def load_plugin(path):
    """Loads a loss/augmentation plugin (a shared library) and returns the plugin's name; its
    providers are then usable by name in loss/augment specs. Raises CffError (code PLUGIN) naming
    the file and the problem."""
    out = c_void_p()
    _check(_L().cff_plugin_load(_bytes(str(path)), byref(out)))
    return _take_string(out)


def unload_plugin(path):
    """Removes a loaded plugin's providers; returns False if the file was not loaded."""
    flag = c_int32(0)
    _check(_L().cff_plugin_unload(_bytes(str(path)), byref(flag)))
    return bool(flag.value)


def device_check(device):
    """Raises CffError unless ``device`` ("auto", "cpu", "cuda", "cuda:N") is usable."""
    _check(_L().cff_device_check(_bytes(device)))


# ---- Batches -------------------------------------------------------------------------------------

def _images(images, layout):
    """(array passed to C, (n, c, h, w)). No copy for a C-contiguous uint8/float32 array."""
    if layout not in _LAYOUTS:
        raise CffValueError(f"layout must be 'nchw' or 'nhwc', not {layout!r}")
    a = np.asarray(images)
    if a.dtype not in _DTYPES:
        if a.dtype.kind == "f":
            a = a.astype(np.float32)
        else:
            raise CffTypeError(f"images must be uint8 (0..255) or float32 (0..1), not {a.dtype}")
    a = np.ascontiguousarray(a)  # no copy when already C-contiguous
    if a.ndim == 3:
        n, h, w = a.shape
        c = 1
    elif a.ndim == 4:
        n, c, h, w = a.shape if layout == "nchw" else (a.shape[0], a.shape[3], a.shape[1], a.shape[2])
    else:
        raise CffValueError(f"images must be shaped (N, C, H, W), (N, H, W, C) or (N, H, W), not {a.shape}")
    return a, (n, c, h, w)


def _labels(labels, n):
    raw = np.asarray(labels)
    if raw.dtype.kind not in "iu" and raw.size:  # 3.7 must not quietly become class 3
        raise CffTypeError(f"labels must be integers, not {raw.dtype}")
    if raw.ndim != 1:
        raise CffValueError(f"labels must be one-dimensional (one per image), not shaped {raw.shape}")
    if raw.shape[0] != n:
        raise CffValueError(f"{raw.shape[0]} labels for a batch of {n} images")
    return np.ascontiguousarray(raw, dtype=np.int64)


class _Batch:
    """A cff_batch over numpy arrays; keeps them alive while the struct is in use."""

    def __init__(self, images, labels=None, layout="nchw", need_labels=False):
        self.images, (n, c, h, w) = _images(images, layout)
        self.labels = None if labels is None else _labels(labels, n)
        if need_labels and self.labels is None:
            raise _invalid("this call needs labels")
        self.count = n
        self.struct = _lib.Batch(
            ctypes.sizeof(_lib.Batch), _DTYPES[self.images.dtype], _LAYOUTS[layout], 0,
            self.images.ctypes.data_as(c_void_p), self.images.size,
            None if self.labels is None else self.labels.ctypes.data_as(ctypes.POINTER(c_int64)),
            0 if self.labels is None else self.labels.size,
            n, c, h, w)

    @property
    def ref(self):
        return byref(self.struct)


def _i64p(a):
    return a.ctypes.data_as(ctypes.POINTER(c_int64))


def _dp(a):
    return a.ctypes.data_as(ctypes.POINTER(c_double))


def _fp(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


# ---- Handles -------------------------------------------------------------------------------------

class _Handle:
    """Owns one C handle: freed by close(), by ``with``, or when garbage-collected."""

    _free = None  # name of the C function that frees the handle

    def __init__(self, handle):
        self._h = handle

    def close(self):
        """Frees the C object; safe to call twice. Later calls fail with INVALID_ARGUMENT."""
        h, self._h = getattr(self, "_h", None), None
        lib = getattr(_lib, "_lib", None)  # None at interpreter shutdown, or if never loaded
        if h and lib is not None:
            getattr(lib, self._free)(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Options(_Handle):
    """Everything that defines a model and how it trains; defaults are the paper's.

    ``Options({"model": {...}, "train": {...}})`` or ``Options(json_string)`` starts from the
    defaults and merges the config in. Setters return ``self`` so that they chain."""

    _free = "cff_options_free"

    def __init__(self, config=None):
        h = ctypes.POINTER(_lib.Options)()
        _check(_L().cff_options_create(byref(h)))
        super().__init__(h)
        if config is not None:
            self.set_json(config)

    def set_json(self, config):
        """Merges a JSON config (a str, or a dict that is serialised) into the options."""
        text = config if isinstance(config, str) else _json.dumps(config)
        _check(_L().cff_options_set_json(self._h, _bytes(text)))
        return self

    def to_json(self):
        out = c_void_p()
        _check(_L().cff_options_get_json(self._h, byref(out)))
        return _take_string(out)

    def to_dict(self):
        return _json.loads(self.to_json())

    def validate(self):
        _check(_L().cff_options_validate(self._h))
        return self

    def _set(self, name, *args):
        _check(getattr(_L(), "cff_options_set_" + name)(self._h, *args))
        return self

    def set_arch(self, arch): return self._set("arch", int(arch))
    def set_algorithm(self, algorithm): return self._set("algorithm", int(algorithm))
    def set_embed_dim(self, e): return self._set("embed_dim", e)
    def set_num_layers(self, n): return self._set("num_layers", n)
    def set_num_heads(self, n): return self._set("num_heads", n)
    def set_patch_size(self, p): return self._set("patch_size", p)
    def set_pooling(self, pooling): return self._set("pooling", int(pooling))
    def set_input_shape(self, channels, height, width): return self._set("input_shape", channels, height, width)
    def set_num_classes(self, k): return self._set("num_classes", k)
    def set_loss(self, spec): return self._set("loss", _bytes(spec))
    def set_augment(self, spec): return self._set("augment", _bytes(spec))
    def set_views(self, v): return self._set("views", v)
    def set_lr(self, lr, weight_decay=0.0): return self._set("lr", lr, weight_decay)
    def set_head_lr(self, lr, weight_decay=0.0): return self._set("head_lr", lr, weight_decay)
    def set_batch_size(self, n): return self._set("batch_size", n)
    def set_epochs(self, epochs, head_epochs): return self._set("epochs", epochs, head_epochs)
    def set_val_fraction(self, f): return self._set("val_fraction", f)
    def set_seed(self, seed): return self._set("seed", seed)
    def set_device(self, device): return self._set("device", _bytes(device))
    def set_precision(self, precision): return self._set("precision", int(precision))
    def set_threads(self, n): return self._set("threads", n)
    def set_ff_prediction(self, mode): return self._set("ff_prediction", int(mode))
    def set_lr_schedule(self, schedule): return self._set("lr_schedule", int(schedule))

    def set_normalization(self, mean=(), std=()):
        """Per-channel mean and std; empty sequences clear it."""
        m = np.ascontiguousarray(mean, dtype=np.float64)
        s = np.ascontiguousarray(std, dtype=np.float64)
        if m.shape != s.shape or m.ndim != 1:
            raise _invalid(f"{m.size} means but {s.size} standard deviations")
        if m.size == 0:
            return self._set("normalization", None, None, 0)
        return self._set("normalization", _dp(m), _dp(s), m.size)


Progress = namedtuple("Progress", "end_of_epoch stage epoch epochs batch batches losses val_losses seconds message")
Prediction = namedtuple("Prediction", "labels scores topk")
DatasetInfo = namedtuple("DatasetInfo", "count channels height width dtype num_classes")
Provider = namedtuple("Provider", "name description params origin")


class LayerBatch(_Handle):
    """The activations entering one layer for one batch (see :meth:`Model.layer_batch`)."""

    _free = "cff_layer_batch_free"

    @property
    def next_layer(self):
        v = c_int64()
        _check(_L().cff_layer_batch_next_layer(self._h, byref(v)))
        return v.value


class Model(_Handle):
    """A model and its training state.

    ``Model()`` uses the defaults; ``Model(options)`` takes an :class:`Options`, a config dict or a
    JSON string. ``Model.load(path)`` reads a checkpoint."""

    _free = "cff_model_free"

    def __init__(self, config=None, *, _handle=None):
        if _handle is not None:
            super().__init__(_handle)
            return
        h = ctypes.POINTER(_lib.Model)()
        if isinstance(config, Options) and not config._h:
            raise _invalid("the options are closed")  # NULL options would silently mean defaults
        if config is None or isinstance(config, Options):
            _check(_L().cff_model_create(config._h if config is not None else None, byref(h)))
        else:
            text = config if isinstance(config, str) else _json.dumps(config)
            _check(_L().cff_model_create_json(_bytes(text), byref(h)))
        super().__init__(h)

    @classmethod
    def load(cls, path, device=None):
        """Reads a checkpoint; ``device`` overrides the saved device."""
        h = ctypes.POINTER(_lib.Model)()
        _check(_L().cff_model_load(_bytes(path), None if device is None else _bytes(device), byref(h)))
        return cls(_handle=h)

    def save(self, path):
        """Writes the whole model (config, weights, optimizers, progress, RNG) atomically."""
        _check(_L().cff_model_save(self._h, _bytes(path)))

    def export_torchscript(self, path):
        """Writes the one-pass predictor as a TorchScript module for ``torch.jit.load``: its
        ``forward(x)`` takes (N, C, H, W) uint8 or float 0..1 images and returns (N, classes) logits."""
        path = os.fspath(path)
        _check(_L().cff_model_export_torchscript(self._h, _bytes(path)))

    def load_state(self, path):
        """Replaces the model's state with a checkpoint's; unchanged on error."""
        _check(_L().cff_model_load_state(self._h, _bytes(path)))

    def _int(self, name):
        v = c_int64()
        _check(getattr(_L(), name)(self._h, byref(v)))
        return v.value

    @property
    def num_layers(self):
        return self._int("cff_model_num_layers")

    @property
    def num_classes(self):
        return self._int("cff_model_num_classes")

    @property
    def embed_dim(self):
        return self._int("cff_model_embed_dim")

    @property
    def num_parameters(self):
        """Trainable parameters, encoder and head."""
        return self._int("cff_model_num_parameters")

    @property
    def input_shape(self):
        c, h, w = c_int64(), c_int64(), c_int64()
        _check(_L().cff_model_input_shape(self._h, byref(c), byref(h), byref(w)))
        return (c.value, h.value, w.value)

    @property
    def progress(self):
        """(stage, completed epochs) of :meth:`fit`."""
        s, e = c_int64(), c_int64()
        _check(_L().cff_model_progress(self._h, byref(s), byref(e)))
        return (s.value, e.value)

    @property
    def device(self):
        out = c_void_p()
        _check(_L().cff_model_device(self._h, byref(out)))
        return _take_string(out)

    @property
    def config(self):
        """The model's complete config as a dict."""
        out = c_void_p()
        _check(_L().cff_model_config_json(self._h, byref(out)))
        return _json.loads(_take_string(out))

    def set_ff_prediction(self, mode):
        _check(_L().cff_model_set_ff_prediction(self._h, int(mode)))

    def set_lr_scale(self, scale):
        """Every layer trains at scale x lr and the head at scale x head lr from now on (a
        schedule of your own when training step by step; see :func:`lr_schedule_scale`)."""
        _check(_L().cff_model_set_lr_scale(self._h, float(scale)))

    def set_parallel(self, **options):
        """Layer-parallel training for the next :meth:`fit` calls (Experimental; cff.h,
        ``cff_model_set_parallel``): ``pipeline=True`` (the in-process pipeline), ``stages``,
        ``queue_depth``, ``balance``, ``mode`` (``"pipeline"``, ``"data"`` or ``"pipeline,data"``:
        across processes launched with torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT) and
        ``timeout_s``. No options: back to the defaults (one process, sequential)."""
        _check(_L().cff_model_set_parallel(self._h, _bytes(_json.dumps(options))))

    def _losses(self, fn, batch, *extra):
        losses = np.zeros(max(self.num_layers, 1), dtype=np.float64)
        n = c_int64()
        _check(fn(self._h, batch.ref, *extra, _dp(losses), losses.size, byref(n)))
        return losses[: n.value]

    def step(self, images, labels, layout="nchw"):
        """One local update of every layer (stage 1); returns the per-layer losses."""
        return self._losses(_L().cff_model_step, _Batch(images, labels, layout, True))

    def layer_losses(self, images, labels, augment=False, layout="nchw"):
        """Per-layer local losses without any update."""
        return self._losses(_L().cff_model_layer_losses, _Batch(images, labels, layout, True), int(bool(augment)))

    def layer_batch(self, images, labels, augment=True, layout="nchw"):
        """Prepares a batch for layer-by-layer training with :meth:`train_layer`."""
        b = _Batch(images, labels, layout, True)
        h = ctypes.POINTER(_lib.LayerBatch)()
        _check(_L().cff_layer_batch_create(self._h, b.ref, int(bool(augment)), byref(h)))
        return LayerBatch(h)

    def train_layer(self, layer_batch, layer):
        """One local update of ``layer`` on a layer batch; returns the loss."""
        loss = c_double()
        _check(_L().cff_model_train_layer(self._h, layer_batch._h, layer, byref(loss)))
        return loss.value

    def head_step(self, images, labels, layout="nchw"):
        """One cross-entropy update of the linear head; returns the loss."""
        loss = c_double()
        _check(_L().cff_model_head_step(self._h, _Batch(images, labels, layout, True).ref, byref(loss)))
        return loss.value

    def head_loss(self, images, labels, layout="nchw"):
        loss = c_double()
        _check(_L().cff_model_head_loss(self._h, _Batch(images, labels, layout, True).ref, byref(loss)))
        return loss.value

    def predict_full(self, images, k=1, layout="nchw"):
        """(labels (N,), scores (N, classes), topk (N, k)) in one pass."""
        b = _Batch(images, None, layout)
        n, classes = b.count, self.num_classes
        labels = np.zeros(n, dtype=np.int64)
        scores = np.zeros((n, classes), dtype=np.float32)
        topk = np.zeros((n, max(k, 0)), dtype=np.int64)
        _check(_L().cff_model_predict(self._h, b.ref, k, _i64p(labels), labels.size, _fp(scores), scores.size,
                                _i64p(topk), topk.size))
        return Prediction(labels, scores, topk)

    def predict(self, images, layout="nchw"):
        """Top-1 labels, int64 array of N."""
        b = _Batch(images, None, layout)
        labels = np.zeros(b.count, dtype=np.int64)
        _check(_L().cff_model_predict(self._h, b.ref, 1, _i64p(labels), labels.size, None, 0, None, 0))
        return labels

    def predict_proba(self, images, layout="nchw"):
        """Per-class probabilities (N, classes) (FF goodness models: summed goodness)."""
        return self.predict_full(images, 1, layout).scores

    def embed(self, images, layer, layout="nchw"):
        """The pooled representation of ``layer``: float32 (N, E)."""
        b = _Batch(images, None, layout)
        out = np.zeros((b.count, self.embed_dim), dtype=np.float32)
        _check(_L().cff_model_embed(self._h, b.ref, layer, _fp(out), out.size))
        return out

    def evaluate(self, images, labels, ks=(1,), layout="nchw"):
        """Top-k accuracies on a labelled batch, one per k."""
        b = _Batch(images, labels, layout, True)
        k = np.ascontiguousarray(ks, dtype=np.int64)
        out = np.zeros(k.size, dtype=np.float64)
        _check(_L().cff_model_evaluate(self._h, b.ref, _i64p(k), k.size, _dp(out)))
        return out.tolist()

    def evaluate_dataset(self, dataset, ks=(1,)):
        """Top-k accuracies over a whole :class:`Dataset`."""
        k = np.ascontiguousarray(ks, dtype=np.int64)
        out = np.zeros(k.size, dtype=np.float64)
        _check(_L().cff_model_evaluate_dataset(self._h, dataset._h, _i64p(k), k.size, _dp(out)))
        return out.tolist()

    def fit(self, dataset, checkpoint=None, progress=None):
        """Trains stage 1 then stage 2 on a :class:`Dataset` (see cff_model_fit). ``progress(p)``,
        when given, sees every batch and epoch (a :class:`Progress`) and returns False to stop (None
        or True goes on). Returns True when the callback stopped the run. An exception raised by
        the callback stops the run and is re-raised here."""
        raised = []

        def trampoline(p, _user):
            try:
                q = p.contents
                info = Progress(
                    bool(q.end_of_epoch), q.stage, q.epoch, q.epochs, q.batch, q.batches,
                    [q.losses[i] for i in range(q.num_losses)],
                    None if not q.val_losses else [q.val_losses[i] for i in range(q.num_val_losses)],
                    q.seconds, (q.message or b"").decode("utf-8", "replace"))
                return 1 if progress(info) is False else 0
            except BaseException as e:  # never let it unwind into C
                raised.append(e)
                return 1

        fn = _lib.PROGRESS_FN(trampoline) if progress is not None else _lib.PROGRESS_FN()
        stopped = c_int32()
        status = _L().cff_model_fit(self._h, dataset._h, fn, None,
                                    None if checkpoint is None else _bytes(checkpoint), byref(stopped))
        if raised:
            _check(status)  # frees it (a failure takes precedence over the callback's exception)
            raise raised[0]
        _check(status)
        return bool(stopped.value)


class Dataset(_Handle):
    """A labelled image set held by the library; immutable."""

    _free = "cff_dataset_free"

    @classmethod
    def load_idx(cls, folder, part="train"):
        """Reads an IDX folder in MNIST layout (e.g. /usr/share/datasets/fashion-mnist)."""
        h = ctypes.POINTER(_lib.Dataset)()
        _check(_L().cff_dataset_load_idx(_bytes(folder), _bytes(part), byref(h)))
        return cls(h)

    @classmethod
    def from_arrays(cls, images, labels, num_classes, layout="nchw"):
        """Copies images and labels into a new dataset."""
        b = _Batch(images, labels, layout, True)
        h = ctypes.POINTER(_lib.Dataset)()
        _check(_L().cff_dataset_create(b.ref, num_classes, byref(h)))
        return cls(h)

    @property
    def info(self):
        n, c, h, w, k = (c_int64() for _ in range(5))
        dt = ctypes.c_uint()
        _check(_L().cff_dataset_info(self._h, byref(n), byref(c), byref(h), byref(w), byref(dt), byref(k)))
        dtype = {0: np.dtype(np.uint8), 1: np.dtype(np.float32)}.get(dt.value, dt.value)
        return DatasetInfo(n.value, c.value, h.value, w.value, dtype, k.value)

    def __len__(self):
        return self.info.count

    def slice(self, start, count):
        h = ctypes.POINTER(_lib.Dataset)()
        _check(_L().cff_dataset_slice(self._h, start, count, byref(h)))
        return Dataset(h)

    def images(self, start=0, count=None, dtype=np.uint8):
        """Images as an (N, C, H, W) array of uint8 or float32 (0..1), written by the library."""
        i = self.info
        count = i.count - start if count is None else count
        dtype = np.dtype(dtype)
        if dtype not in _DTYPES:
            raise _invalid(f"dtype must be uint8 or float32, not {dtype}")
        out = np.zeros((max(count, 0), i.channels, i.height, i.width), dtype=dtype)
        _check(_L().cff_dataset_images(self._h, start, count, _DTYPES[dtype], out.ctypes.data_as(c_void_p), out.size))
        return out

    def labels(self, start=0, count=None):
        count = len(self) - start if count is None else count
        out = np.zeros(max(count, 0), dtype=np.int64)
        _check(_L().cff_dataset_labels(self._h, start, count, _i64p(out), out.size))
        return out

    def class_name(self, index):
        name = c_char_p()
        _check(_L().cff_dataset_class_name(self._h, index, byref(name)))
        return name.value.decode("utf-8", "replace")

    @property
    def class_names(self):
        return [self.class_name(i) for i in range(self.info.num_classes)]

    def normalization(self):
        """(mean, std) per channel of the images scaled to [0, 1], as fit() computes them."""
        c = self.info.channels
        mean, std = np.zeros(c), np.zeros(c)
        _check(_L().cff_dataset_normalization(self._h, _dp(mean), _dp(std), c))
        return mean, std

    def batches(self, batch_size, seed=0, shuffle=True, dtype=np.uint8, epochs=1):
        """Yields (images, labels) batches for `epochs` epochs: images N x C x H x W of `dtype`
        (uint8 0..255 or float32 0..1), filled by the library in one buffer per batch; epoch e is
        shuffled by (seed, e) as the C++ Loader does."""
        lib = _L()
        info = self.info
        dt = _DTYPES[np.dtype(dtype)]
        h = ctypes.POINTER(_lib.BatchIterator)()
        _check(lib.cff_batch_iterator_create(self._h, int(batch_size), int(seed), int(bool(shuffle)), byref(h)))
        try:
            count, epoch = c_int64(), c_int64()
            done = 0
            while done < epochs:
                images = np.empty((batch_size, info.channels, info.height, info.width), dtype=dtype)
                labels = np.empty(batch_size, dtype=np.int64)
                _check(lib.cff_batch_iterator_next(h, dt, images.ctypes.data_as(c_void_p), images.size, _i64p(labels),
                                                   labels.size, byref(count), byref(epoch)))
                if count.value == 0:
                    done += 1
                    continue
                yield images[:count.value], labels[:count.value]
        finally:
            lib.cff_batch_iterator_free(h)


def providers(kind=ProviderKind.LOSS):
    """The registered losses or augmentations (built-ins and plugins), sorted by name."""
    lib = _L()
    h = ctypes.POINTER(_lib.ProviderList)()
    _check(lib.cff_provider_list_create(int(kind), byref(h)))
    try:
        count = c_int64()
        _check(lib.cff_provider_list_count(h, byref(count)))
        out = []
        for i in range(count.value):
            s = [c_char_p() for _ in range(4)]
            _check(lib.cff_provider_list_get(h, i, *(byref(x) for x in s)))
            out.append(Provider(*((x.value or b"").decode() for x in s)))
        return out
    finally:
        lib.cff_provider_list_free(h)


def lr_schedule_scale(schedule, step, total_steps):
    """The lr factor of `schedule` (LrSchedule.CONSTANT or COSINE) at `step` of `total_steps`."""
    out = c_double()
    _check(_L().cff_lr_schedule_scale(int(schedule), int(step), int(total_steps), byref(out)))
    return out.value


def discover_plugins():
    """Loads every libcff-plugin-*.so on the plugin search path (once); returns (loaded, failed)."""
    loaded, failed = c_int64(), c_int64()
    _check(_L().cff_plugins_discover(byref(loaded), byref(failed)))
    return loaded.value, failed.value


_log_callback = None  # the installed ctypes callback, kept alive while the library may call it


def set_log_handler(handler):
    """Installs ``handler(level: LogLevel, message: str)`` for the library's messages (skipped
    files, plugin warnings; it may run on library threads), or None to drop them (the default)."""
    global _log_callback
    lib = _L()
    if handler is None:
        lib.cff_log_set(ctypes.cast(None, _lib.LOG_FN), None)
        _log_callback = None
        return

    def deliver(level, message, _user):
        try:
            handler(LogLevel(level), message.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - a handler's failure must not cross into C
            pass

    callback = _lib.LOG_FN(deliver)
    lib.cff_log_set(callback, None)
    _log_callback = callback


def set_limit(name, value):
    """Sets one of the input limits (cff_limit_set): "max_image_pixels", "max_file_bytes",
    "max_data_bytes" or "max_parameters"."""
    _check(_L().cff_limit_set(name.encode(), int(value)))
