/**
 * @file cff.h
 * @brief libcff's stable C API: train neural networks layer by layer with local losses
 *        (Contrastive Forward-Forward, arXiv 2502.00571) from any language that can call C.
 *
 * Plain C99; compiles as C and as C++. Link with `-lcff_c` (pkg-config: `cff`; CMake:
 * `find_package(cff)` then target `cff::cff_c`). Nothing that is not declared in this header is API.
 *
 * ## Conventions (they hold for every function unless its comment says otherwise)
 *
 * - **Errors.** A fallible function returns `cff_status*`: NULL on success, otherwise a status
 *   object that the caller owns and releases with cff_status_free(). The status carries a pinned
 *   code (::cff_code) and a one-line message. It is a plain object, not thread-local state, so it
 *   can be read from any thread (Go goroutines may move between OS threads). No C++ exception and
 *   no abort ever crosses this API: every failure inside becomes a status. On failure, output
 *   parameters are left unchanged.
 * - **Arguments.** A NULL handle, a NULL required pointer, a handle already freed (where the
 *   library can tell: it keeps a table of live handles), an out-of-range enum value or a buffer
 *   whose stated size does not match gives ::CFF_CODE_INVALID_ARGUMENT, never a crash.
 * - **Ownership.** The caller owns every buffer it passes in; the library reads or writes it only
 *   during the call and never keeps a pointer to it. Handles (`cff_model*`, `cff_options*`, ...)
 *   belong to the caller from their `_create`/`_load` until their `_free`; every `_free` accepts
 *   NULL and ignores a handle already freed. Strings returned through `char**` are released with cff_string_free(); strings returned
 *   as `const char*` are owned by the library and live as long as the object they come from
 *   (or for ever where stated).
 * - **Threads.** Separate objects may be used from separate threads at the same time. Calls on
 *   one ::cff_model from several threads are serialised by the library (each waits for the
 *   previous one to finish). ::cff_options is not synchronised: do not change one options object
 *   from two threads at once. ::cff_dataset and ::cff_provider_list are immutable and may be read
 *   from any number of threads. Freeing a handle while calls on other threads (or the progress
 *   callback's caller) still use it is safe: those calls finish normally, the object is destroyed
 *   when the last of them returns, and every later call is INVALID_ARGUMENT ("not a live
 *   handle"). The free never waits. (A handle value freed and then reused by a new object of the
 *   same kind is, to the library, that new object: do not keep using a handle you freed.)
 * - **Names.** `cff_<object>_<verb>`; enum values carry their enum's name; counts and sizes are
 *   `int64_t`; the handle comes first, then inputs, then outputs.
 * - **Stability.** Every function here is *stable* unless its comment starts with
 *   "Experimental:": a stable function keeps its name, signature and documented behaviour for as
 *   long as CFF_ABI_VERSION stays the same, and structs only grow at their end (`struct_size`
 *   says how much of one the other side knows). An experimental function may change or go in any
 *   release; it is listed in cff_c.map like the rest. From ABI 2 on, a function that is renamed
 *   keeps its old name for one more release, marked CFF_DEPRECATED("use cff_new_name").
 * - **Results.** Every `cff_status*` result is CFF_NODISCARD: ignoring it drops the error and leaks
 *   the status (gcc and clang warn).
 */
#ifndef CFF_H
#define CFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(CFF_C_BUILDING)
#define CFF_API __declspec(dllexport)
#elif defined(_WIN32)
#define CFF_API __declspec(dllimport)
#elif defined(__GNUC__)
#define CFF_API __attribute__((visibility("default")))
#else
#define CFF_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CFF_NODISCARD __attribute__((warn_unused_result))
#define CFF_DEPRECATED(message) __attribute__((deprecated(message)))
#elif defined(_MSC_VER)
#define CFF_NODISCARD /* _Check_return_ would need <sal.h>; MSVC's /analyze is opt-in anyway */
#define CFF_DEPRECATED(message) __declspec(deprecated(message))
#else
#define CFF_NODISCARD
#define CFF_DEPRECATED(message)
#endif

/* ---- Versions ------------------------------------------------------------------------------- */

/** Version of the ABI declared by this header. Bumped on any incompatible change to a signature,
 *  a struct layout or an enum value; a host compares it with cff_abi_version() at run time. */
#define CFF_ABI_VERSION 2

#ifndef CFF_VERSION_MAJOR /* the C++ header cff/version.hpp defines the same release version */
#define CFF_VERSION_MAJOR 0
#define CFF_VERSION_MINOR 1
#define CFF_VERSION_PATCH 0
#define CFF_VERSION_STRING "0.1.0"
#endif

/** The library's release version, e.g. "0.1.0" (the run-time twin of CFF_VERSION_STRING).
 *  Never fails; the string is static. Thread-safe. */
CFF_API const char* cff_version(void);

/** The ABI version the library was built with (the run-time twin of CFF_ABI_VERSION); a host built
 *  against a different value must not use the library. Never fails. Thread-safe. */
CFF_API uint32_t cff_abi_version(void);

/** The LibTorch version the library was built against, e.g. "1.13.1". Static string; thread-safe. */
CFF_API const char* cff_torch_version(void);

/* ---- Status --------------------------------------------------------------------------------- */

/** What kind of failure a status reports. Values are pinned and never renumbered; a binding must
 *  treat a value it does not know as a failure. Values 1..7 equal the C++ `cff::ErrorCode`s. */
typedef enum cff_code {
  CFF_CODE_OK = 0,               /**< success (the code of a NULL status) */
  CFF_CODE_INVALID_ARGUMENT = 1, /**< a bad handle, pointer, option, shape, size or value */
  CFF_CODE_IO = 2,               /**< a file could not be opened, read or written */
  CFF_CODE_FORMAT = 3,           /**< a file's content is corrupt, truncated or of another model */
  CFF_CODE_STATE = 4,            /**< the call is not valid in the object's current state */
  CFF_CODE_PLUGIN = 5,           /**< a plugin failed to load or failed its own call */
  CFF_CODE_UNSUPPORTED = 6,      /**< the build or machine lacks what the call needs (e.g. CUDA) */
  CFF_CODE_NUMERICS = 7,         /**< a NaN or Inf appeared in an input, a loss or a gradient */
  CFF_CODE_OUT_OF_MEMORY = 8,    /**< an allocation failed */
  CFF_CODE_INTERNAL = 9          /**< an unexpected failure inside the library or LibTorch */
} cff_code;

/** A failure: code and message. Opaque; owned by the caller once returned. */
typedef struct cff_status cff_status;

/** The status's code; ::CFF_CODE_OK for NULL (success), ::CFF_CODE_INVALID_ARGUMENT for a status
 *  that was already freed (statuses are tracked like every handle). Thread-safe for distinct statuses. */
CFF_API cff_code cff_status_code(const cff_status* status);

/** The status's one-line message, "" for NULL. The string is owned by the status and lives until
 *  cff_status_free(status). */
CFF_API const char* cff_status_message(const cff_status* status);

/** Releases a status. NULL, and a status already freed, are ignored. */
CFF_API void cff_status_free(cff_status* status);

/** The name of a code, e.g. "CFF_CODE_IO"; "CFF_CODE_UNKNOWN" for a value this library does not
 *  know. Static string; thread-safe. */
CFF_API const char* cff_code_name(cff_code code);

/** Releases a string the library returned through a `char**` output. NULL is fine. */
CFF_API void cff_string_free(char* string);

/** Checks that this library serves hosts built against ABI `host_abi_version` (pass
 *  CFF_ABI_VERSION): NULL when it does, else UNSUPPORTED with a message naming both versions.
 *  Every binding calls it when it loads the library. Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_abi_check(uint32_t host_abi_version);

/* ---- Enumerations ---------------------------------------------------------------------------- */

/** Element type of an image buffer. */
typedef enum cff_dtype {
  CFF_DTYPE_UINT8 = 0,  /**< 0..255 */
  CFF_DTYPE_FLOAT32 = 1 /**< 0..1; NaN or Inf gives ::CFF_CODE_NUMERICS, a finite value outside
                           [-0.01, 1.01] (another scale) ::CFF_CODE_INVALID_ARGUMENT */
} cff_dtype;

/** Memory order of an image buffer (row-major in both cases). */
typedef enum cff_layout {
  CFF_LAYOUT_NCHW = 0, /**< images, then channels, then rows, then columns */
  CFF_LAYOUT_NHWC = 1  /**< images, then rows, then columns, then channels (interleaved pixels) */
} cff_layout;

/** Network family: MLP[E L] or ViT[E H L]. */
typedef enum cff_arch { CFF_ARCH_MLP = 0, CFF_ARCH_VIT = 1 } cff_arch;

/** How the encoder is trained in stage 1. */
typedef enum cff_algorithm {
  CFF_ALGORITHM_CONTRASTIVE = 0,     /**< CFF / CFF+M (default; loss "mcl" = CFF+M) */
  CFF_ALGORITHM_FORWARD_FORWARD = 1, /**< FF / SymBa: label in the input, goodness loss */
  CFF_ALGORITHM_BACKPROP = 2         /**< ordinary end-to-end backpropagation (baseline) */
} cff_algorithm;

/** Floating-point mode of forward and backward passes (losses always run in float32). */
/** AUTO (the default): bf16 on CUDA and on CPUs with AMX-BF16 / AVX512-BF16, else float32. */
typedef enum cff_precision {
  CFF_PRECISION_FLOAT32 = 0,
  CFF_PRECISION_BFLOAT16 = 1,
  CFF_PRECISION_AUTO = 2
} cff_precision;

/** How a ViT reduces its tokens to one vector. */
typedef enum cff_pooling { CFF_POOLING_MEAN = 0, CFF_POOLING_CLASS_TOKEN = 1 } cff_pooling;

/** How an FF-trained model predicts. */
typedef enum cff_ff_prediction {
  CFF_FF_PREDICTION_GOODNESS = 0, /**< try every label, sum goodness over layers 2..L */
  CFF_FF_PREDICTION_HEAD = 1      /**< one pass with a neutral label through the linear head */
} cff_ff_prediction;

/** Which registry a provider list reads. */
typedef enum cff_provider_kind {
  CFF_PROVIDER_KIND_LOSS = 0,        /**< local losses ("mcl", "supcon", "ff", "symba", ...) */
  CFF_PROVIDER_KIND_AUGMENTATION = 1 /**< augmentations ("crop", "hflip", ...) */
} cff_provider_kind;

/** How cff_model_fit() moves the learning rate over a stage (the JSON key "train.lr_schedule"). */
typedef enum cff_lr_schedule {
  CFF_LR_SCHEDULE_AUTO = 0,     /**< constant (a cosine starves short stages; docs/results.md) */
  CFF_LR_SCHEDULE_CONSTANT = 1, /**< the configured lr throughout */
  CFF_LR_SCHEDULE_COSINE = 2    /**< cosine decay, step by step, from the configured lr to 0 */
} cff_lr_schedule;

/** Importance of a log message (cff_log_set()). */
typedef enum cff_log_level {
  CFF_LOG_LEVEL_DEBUG = 0,
  CFF_LOG_LEVEL_INFO = 1,
  CFF_LOG_LEVEL_WARNING = 2, /**< e.g. an image file skipped, a plugin that differs from the recorded one */
  CFF_LOG_LEVEL_ERROR = 3
} cff_log_level;

/* ---- Batches in host memory ------------------------------------------------------------------ */

/** A batch of images (and labels) in the caller's memory. A plain struct of fixed-width fields (no
 *  enum-typed field, so every language lays it out alike): initialise it with CFF_BATCH_INIT so
 *  that `struct_size` is set, then fill in the fields. The library reads the buffers during a call
 *  only. Both buffers come with their lengths in elements, checked against the shape (a mismatch
 *  is INVALID_ARGUMENT, never an out-of-bounds read); `channels`, `height` and `width` must equal
 *  the model's input shape. `struct_size` may be smaller than this header's sizeof(cff_batch) when
 *  a host was built against an older ABI-2 header (fields it does not have take their defaults),
 *  never larger than the library's. */
typedef struct cff_batch {
  uint32_t struct_size;  /**< sizeof(cff_batch), set by CFF_BATCH_INIT */
  int32_t dtype;         /**< element type of `images`: a ::cff_dtype value */
  int32_t layout;        /**< memory order of `images`: a ::cff_layout value */
  int32_t reserved;      /**< 0 */
  const void* images;    /**< count * channels * height * width elements of `dtype` */
  int64_t images_length; /**< elements in `images` */
  const int64_t* labels; /**< count labels in 0..classes-1; NULL where a call needs none */
  int64_t labels_length; /**< elements in `labels` (0 when it is NULL) */
  int64_t count;         /**< number of images, >= 1 */
  int64_t channels;
  int64_t height;
  int64_t width;
} cff_batch;

/** Initialiser of a ::cff_batch: `cff_batch b = CFF_BATCH_INIT;` */
#define CFF_BATCH_INIT {(uint32_t)sizeof(cff_batch), CFF_DTYPE_UINT8, CFF_LAYOUT_NCHW, 0, NULL, 0, NULL, 0, 0, 0, 0, 0}

/* ---- Runtime --------------------------------------------------------------------------------- */

/** Sets the number of CPU threads used by LibTorch; 0 = automatic: on a CPU without fast bf16
 *  (see CFF_PRECISION_AUTO) LibTorch gets 1 and a pthreads OpenBLAS every core, since fp32 work is
 *  mostly OpenBLAS products; otherwise LibTorch gets every core and OpenBLAS 1 (their pools
 *  contend). For n > 0, OpenBLAS gets 1 next to a multi-threaded LibTorch, else n
 *  ("blas_threads" in a JSON config overrides it).
 *  Process-wide: affects every model. Errors: INVALID_ARGUMENT for n < 0. Thread-safe, but
 *  changing it while another thread trains changes that thread's speed, not its results. */
CFF_API CFF_NODISCARD cff_status* cff_threads_set(int64_t threads);

/** Checks that `device` ("auto", "cpu", "cuda", "cuda:N") names a usable device. NULL status when it
 *  does; INVALID_ARGUMENT for an unknown name; UNSUPPORTED when CUDA is absent. Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_device_check(const char* device);

/** Receives one message of the library: a ::cff_log_level value and one line of UTF-8 text
 *  without a newline, valid during the call. It may be called from any thread, several at once
 *  (data loading runs on worker threads); it must not call into libcff. */
typedef void (*cff_log_fn)(int32_t level, const char* message, void* user_data);

/** Installs the process-wide log callback; NULL drops every message (the default). The library
 *  never writes to stdout or stderr by itself: warnings such as a skipped image file come here
 *  (the `cff` tool prints them to stderr). Thread-safe. Never fails. */
CFF_API void cff_log_set(cff_log_fn fn, void* user_data);

/* ---- Options --------------------------------------------------------------------------------- */

/** Everything that defines a model and how it trains. Opaque; typed setters and JSON may be mixed.
 *  Defaults are the paper's: MLP[500 3] on 1x28x28 inputs, 10 classes, CFF+M, AdamW lr 0.004,
 *  head lr 0.0005, batch 512, 10 + 10 epochs, seed 0, device "auto", float32, all cores. */
typedef struct cff_options cff_options;

/** Creates options holding the defaults. The caller frees them with cff_options_free().
 *  Errors: INVALID_ARGUMENT (out_options NULL), OUT_OF_MEMORY. */
CFF_API CFF_NODISCARD cff_status* cff_options_create(cff_options** out_options);

/** Releases options. NULL is fine. Models created from them are not affected. */
CFF_API void cff_options_free(cff_options* options);

/** Merges a JSON config into the options (RFC 7386 merge patch): keys present in `json` replace
 *  the current values, others are kept. The schema is the C++ `cff::Config` JSON:
 *  `{"model": {"arch": "mlp", "embed_dim": 500, ...}, "train": {"seed": 0, "lr": 0.004, ...}}`.
 *  Errors: INVALID_ARGUMENT for invalid JSON, an unknown key or a value of the wrong type (the
 *  message names the key); the options are unchanged then. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_json(cff_options* options, const char* json);

/** The options as a complete JSON config. `*out_json` is owned by the caller: cff_string_free(). */
CFF_API CFF_NODISCARD cff_status* cff_options_get_json(const cff_options* options, char** out_json);

/** Checks the options as cff_model_create() will, without building a model. NULL when valid;
 *  otherwise INVALID_ARGUMENT naming the first bad field. */
CFF_API CFF_NODISCARD cff_status* cff_options_validate(const cff_options* options);

/** Typed setters. Each checks its own value (INVALID_ARGUMENT naming the field when it is out of
 *  range); combinations (e.g. embed_dim divisible by num_heads) are checked by cff_model_create()
 *  and cff_options_validate(). Strings are copied. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_arch(cff_options* options, cff_arch arch);
CFF_API CFF_NODISCARD cff_status* cff_options_set_algorithm(cff_options* options, cff_algorithm algorithm);
/** Width E of every layer (MLP) or token dimension (ViT), >= 1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_embed_dim(cff_options* options, int64_t embed_dim);
/** Number L of independently trained layers, >= 1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_num_layers(cff_options* options, int64_t num_layers);
/** ViT attention heads H, >= 1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_num_heads(cff_options* options, int64_t num_heads);
/** ViT patch size p, >= 1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_patch_size(cff_options* options, int64_t patch_size);
CFF_API CFF_NODISCARD cff_status* cff_options_set_pooling(cff_options* options, cff_pooling pooling);
/** Input images: channels x height x width, each >= 1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_input_shape(cff_options* options, int64_t channels, int64_t height, int64_t width);
/** Number of classes, >= 2; labels are 0 .. num_classes-1. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_num_classes(cff_options* options, int64_t num_classes);
/** Local loss spec `name[:key=value,...]`, e.g. "mcl:m0=0.4,mL=0.1" or "supcon:tau=0.1"; "" = the
 *  algorithm's default. An unknown name is reported by cff_model_create(). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_loss(cff_options* options, const char* spec);
/** Augmentation pipeline spec, e.g. "crop:padding=4+hflip:p=0.5"; "none" disables; "" = default. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_augment(cff_options* options, const char* spec);
/** Contrastive views per batch: 2 (two-forward CFF) or 1 (one-forward). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_views(cff_options* options, int64_t views);
/** Stage-1 AdamW learning rate (> 0) and weight decay (>= 0) of every layer. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_lr(cff_options* options, double lr, double weight_decay);
/** Stage-2 (head) AdamW learning rate (> 0) and weight decay (>= 0). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_head_lr(cff_options* options, double lr, double weight_decay);
/** Batch size of cff_model_fit() and cff_model_evaluate_dataset(), >= 2. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_batch_size(cff_options* options, int64_t batch_size);
/** Epochs of cff_model_fit(): stage 1 (encoder) and stage 2 (head), each >= 0. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_epochs(cff_options* options, int64_t epochs, int64_t head_epochs);
/** Share of cff_model_fit()'s data held out for validation and best-epoch selection, in [0, 1). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_val_fraction(cff_options* options, double val_fraction);
/** Seed of initialisation, augmentation, shuffling and the validation split. Any value. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_seed(cff_options* options, uint64_t seed);
/** Device: "auto" (CUDA when present), "cpu", "cuda", "cuda:N". Checked by cff_model_create(). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_device(cff_options* options, const char* device);
CFF_API CFF_NODISCARD cff_status* cff_options_set_precision(cff_options* options, cff_precision precision);
/** Learning-rate schedule of cff_model_fit() (step-by-step hosts: cff_model_set_lr_scale()). */
CFF_API CFF_NODISCARD cff_status* cff_options_set_lr_schedule(cff_options* options, cff_lr_schedule schedule);
/** CPU threads, >= 0 (0 = automatic, see cff_threads_set()). Applied process-wide when the model
 *  is created. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_threads(cff_options* options, int64_t threads);
/** Per-channel input normalisation (applied to images scaled to [0, 1]): `channels` values each,
 *  std > 0. channels = 0 (and NULL arrays) clears it: fit() then computes it from its data, other
 *  calls use none. */
CFF_API CFF_NODISCARD cff_status* cff_options_set_normalization(cff_options* options, const double* mean, const double* std,
                                                  int64_t channels);
CFF_API CFF_NODISCARD cff_status* cff_options_set_ff_prediction(cff_options* options, cff_ff_prediction mode);

/* ---- Models ---------------------------------------------------------------------------------- */

/** A model and its training state (network, head, optimizers, RNG). Opaque. All calls on one model
 *  are serialised by the library. */
typedef struct cff_model cff_model;

/** Builds and initialises a model from options (NULL = all defaults), seeded by the options' seed.
 *  The options are copied and may be freed right after. The model is owned by the caller:
 *  cff_model_free(). Errors: INVALID_ARGUMENT (bad combination, unknown loss/augmentation, naming
 *  it), UNSUPPORTED (device absent), OUT_OF_MEMORY. */
CFF_API CFF_NODISCARD cff_status* cff_model_create(const cff_options* options, cff_model** out_model);

/** cff_model_create() from a JSON config string (any subset of the schema of
 *  cff_options_set_json(); missing keys keep their defaults). */
CFF_API CFF_NODISCARD cff_status* cff_model_create_json(const char* json, cff_model** out_model);

/** Releases a model. NULL is fine. Layer batches made from it must be freed too (before or after). */
CFF_API void cff_model_free(cff_model* model);

/** Reads a checkpoint written by cff_model_save() (or the C++ API / the `cff` tool) into a new
 *  model. `device` overrides the saved device; NULL or "" keeps it. The file's config is checked
 *  against the input limits (cff_limit_set()) and every tensor's shape against the model it
 *  describes before the model is used. Errors: IO (missing or unreadable file, a folder, a FIFO
 *  or device), FORMAT (corrupt, truncated, not a checkpoint, above a limit, tensors of another
 *  shape), UNSUPPORTED (device), OUT_OF_MEMORY. */
CFF_API CFF_NODISCARD cff_status* cff_model_load(const char* path, const char* device, cff_model** out_model);

/** Writes config, weights, optimizer states, progress and RNG state to `path` atomically: a temp
 *  file `path.tmp.<pid>` fsync'ed, renamed over `path`, then the folder fsync'ed. Temp files of
 *  processes that no longer exist (killed during a save) are removed first. A model whose weights
 *  are not finite is never written (`path` keeps its content). Errors: IO, NUMERICS. */
CFF_API CFF_NODISCARD cff_status* cff_model_save(cff_model* model, const char* path);

/** Writes the model's one-pass predictor to `path` as a TorchScript module, atomically, for
 *  `torch.jit.load` (Python) or `torch::jit::load` (C++): `forward(x)` takes N x C x H x W images,
 *  uint8 (0..255) or float (0..1), normalises them as the model was trained and returns
 *  N x classes float32 logits (their softmax is cff_model_predict()'s scores; FF models export their
 *  one-pass head). Errors: IO, NUMERICS (weights not finite). */
CFF_API CFF_NODISCARD cff_status* cff_model_export_torchscript(cff_model* model, const char* path);

/** Replaces the model's whole state with a checkpoint's. All or nothing: on error (IO, FORMAT, or
 *  FORMAT when the checkpoint holds a model of another shape) the model is unchanged. */
CFF_API CFF_NODISCARD cff_status* cff_model_load_state(cff_model* model, const char* path);

/** Shape queries. Outputs must not be NULL. */
CFF_API CFF_NODISCARD cff_status* cff_model_num_layers(cff_model* model, int64_t* out_num_layers);
CFF_API CFF_NODISCARD cff_status* cff_model_num_classes(cff_model* model, int64_t* out_num_classes);
/** Length of each layer's embedding (cff_model_embed()), E. */
CFF_API CFF_NODISCARD cff_status* cff_model_embed_dim(cff_model* model, int64_t* out_embed_dim);
CFF_API CFF_NODISCARD cff_status* cff_model_input_shape(cff_model* model, int64_t* out_channels, int64_t* out_height,
                                          int64_t* out_width);
/** Number of trainable parameters (encoder and head). Training holds about four floats per
 *  parameter (weights, gradients, AdamW's two moments): a binding with a garbage collector uses
 *  it to account for the C memory a model holds. */
CFF_API CFF_NODISCARD cff_status* cff_model_num_parameters(cff_model* model, int64_t* out_num_parameters);
/** Progress of cff_model_fit(): stage 1 (encoder), 2 (head) or 3 (finished), and the completed
 *  epochs of the current stage. A model trained step by step stays at stage 1, epoch 0. */
CFF_API CFF_NODISCARD cff_status* cff_model_progress(cff_model* model, int64_t* out_stage, int64_t* out_epoch);
/** The device the model runs on, e.g. "cpu". `*out_device`: caller-owned, cff_string_free(). */
CFF_API CFF_NODISCARD cff_status* cff_model_device(cff_model* model, char** out_device);
/** The model's complete JSON config. `*out_json`: caller-owned, cff_string_free(). */
CFF_API CFF_NODISCARD cff_status* cff_model_config_json(cff_model* model, char** out_json);
/** How an FF model predicts from now on (no effect on other algorithms). */
CFF_API CFF_NODISCARD cff_status* cff_model_set_ff_prediction(cff_model* model, cff_ff_prediction mode);

/** For hosts that train step by step with a schedule of their own: from now on every layer trains
 *  at `scale` x the options' lr and the head at `scale` x the head lr (cff_model_fit() sets its
 *  own scale while it runs and leaves 1). Errors: INVALID_ARGUMENT (scale negative or not finite). */
CFF_API CFF_NODISCARD cff_status* cff_model_set_lr_scale(cff_model* model, double scale);

/** The factor ::cff_lr_schedule `schedule` applies at step `step` (0-based) of `total_steps`, as
 *  cff_model_fit() does: 1 for CONSTANT; 0.5 (1 + cos(pi step / total_steps)) for COSINE. A host
 *  passes it to cff_model_set_lr_scale() before each step. Errors: INVALID_ARGUMENT for AUTO
 *  (pick one), total_steps < 1 or step outside 0..total_steps. Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_lr_schedule_scale(int32_t schedule, int64_t step, int64_t total_steps,
                                                        double* out_scale);

/* ---- Stage 1: layer-local training ------------------------------------------------------------ */

/** The activations entering one layer for one batch: the streams its local loss needs (augmented
 *  views, or positive and negative passes). Made by cff_layer_batch_create() from host images;
 *  each cff_model_train_layer() call advances it by one layer. It belongs to the model that made it. A
 *  layer batch is synchronised: two threads may use it, one call at a time. */
typedef struct cff_layer_batch cff_layer_batch;

/** Experimental: the layer-at-a-time API may change with the pipelined trainer.
 *  Prepares a batch (images and labels, both required) for layer 0: copies it to the model's
 *  device, augments it (when `augment` is non-zero; draws from the model's RNG) and encodes it.
 *  The caller owns the result: cff_layer_batch_free(). Errors: INVALID_ARGUMENT (shape, size,
 *  label out of range), NUMERICS (NaN/Inf image), STATE (a backprop model has no layer batches). */
CFF_API CFF_NODISCARD cff_status* cff_layer_batch_create(cff_model* model, const cff_batch* batch, int32_t augment,
                                           cff_layer_batch** out_layer_batch);

/** Releases a layer batch. NULL is fine. */
CFF_API void cff_layer_batch_free(cff_layer_batch* layer_batch);

/** The layer the batch enters next (0 after create, L once every layer has been trained). */
CFF_API CFF_NODISCARD cff_status* cff_layer_batch_next_layer(const cff_layer_batch* layer_batch, int64_t* out_layer);

/** Experimental (see cff_layer_batch_create()).
 *  One local update of layer `layer` on one batch: forward, local loss, backward, AdamW step. The
 *  batch then holds that layer's (detached) outputs, ready for `layer + 1`. Layers of one batch
 *  must be trained in order: `layer` must equal cff_layer_batch_next_layer() (STATE otherwise);
 *  different batches may be interleaved freely (a host's own pipeline). `out_loss` may be NULL.
 *  Errors: INVALID_ARGUMENT (layer out of range, batch of another model), STATE, NUMERICS (loss
 *  NaN/Inf; the layer is not updated). */
CFF_API CFF_NODISCARD cff_status* cff_model_train_layer(cff_model* model, cff_layer_batch* layer_batch, int64_t layer,
                                    double* out_loss);

/** One local update of every layer on one batch (stage 1), i.e. cff_layer_batch_create() with
 *  augmentation and cff_model_train_layer() for l = 0..L-1. Writes the per-layer losses to
 *  `out_losses[0 .. L-1]` (backprop: one end-to-end update, one cross-entropy); `losses_capacity`
 *  is the length of `out_losses` and must be at least that count. `out_count` (may be NULL) gets
 *  the number written. Errors: INVALID_ARGUMENT (shapes, sizes, labels, capacity), NUMERICS (an
 *  image is NaN/Inf, or layer l's loss is: the call is not transactional, layers 0..l-1 have been
 *  updated by it, layers l..L-1 have not; the message names l). */
CFF_API CFF_NODISCARD cff_status* cff_model_step(cff_model* model, const cff_batch* batch, double* out_losses, int64_t losses_capacity,
                             int64_t* out_count);

/** Per-layer local losses on a batch without any update (validation), as cff_model_step() reports them.
 *  `augment` non-zero draws the views as training does (using the model's RNG). */
CFF_API CFF_NODISCARD cff_status* cff_model_layer_losses(cff_model* model, const cff_batch* batch, int32_t augment, double* out_losses,
                                     int64_t losses_capacity, int64_t* out_count);

/* ---- Stage 2: the head ------------------------------------------------------------------------ */

/** One cross-entropy update of the linear head on the frozen encoder (one augmented view).
 *  `out_loss` may be NULL. Errors: as cff_model_step(); STATE for a backprop model (its head trains in
 *  cff_model_step()). */
CFF_API CFF_NODISCARD cff_status* cff_model_head_step(cff_model* model, const cff_batch* batch, double* out_loss);

/** Head cross-entropy on a batch without update (no augmentation). */
CFF_API CFF_NODISCARD cff_status* cff_model_head_loss(cff_model* model, const cff_batch* batch, double* out_loss);

/* ---- Whole runs ------------------------------------------------------------------------------ */

/** A labelled image set held by the library (read from files or copied from host buffers).
 *  Immutable; may be shared between threads and models. */
typedef struct cff_dataset cff_dataset;

/** What a progress callback receives. Owned by the library; valid during the callback only.
 *  Read a field only when `struct_size` covers it (later versions append fields). */
typedef struct cff_progress {
  uint32_t struct_size;      /**< sizeof the struct as this library built it */
  int32_t end_of_epoch;      /**< 0: after a batch; 1: an epoch finished (val_losses set) */
  int64_t stage;             /**< 1 = encoder (layer-local), 2 = head */
  int64_t epoch;             /**< 1-based within the stage */
  int64_t epochs;            /**< epochs of this stage */
  int64_t batch;             /**< 1-based batch within the epoch (== batches at the end) */
  int64_t batches;           /**< batches per epoch */
  const double* losses;      /**< running mean of this epoch's training losses (per layer, or head) */
  int64_t num_losses;
  const double* val_losses;  /**< validation losses of the finished epoch; NULL after a batch */
  int64_t num_val_losses;
  double seconds;            /**< since the epoch started */
  const char* message;       /**< the same as one line of text (a log line) */
} cff_progress;

/** Progress/log callback of cff_model_fit(), called on the thread that called fit. Return 0 to go
 *  on, non-zero to stop after the current batch. It must not call functions on the same model
 *  (they would fail with STATE). */
typedef int32_t (*cff_progress_fn)(const cff_progress* progress, void* user_data);

/** Experimental: layer-parallel training for the next cff_model_fit() calls (cff/parallel.hpp), a JSON
 *  object; keys left out keep their defaults, NULL or "{}" restores them all:
 *  - "pipeline" (bool, false): the in-process pipeline, each stage of layers on its own thread;
 *  - "stages" (int, 0): pipeline stages (0 = one per layer in-process, the world size across ranks;
 *    required for "pipeline,data");
 *  - "queue_depth" (int, 2): in-process, batches queued between two stages;
 *  - "balance" (bool, false): split the layers by their measured time;
 *  - "mode" ("none"): "pipeline", "data" or "pipeline,data" trains across processes on c10d; every
 *    process calls cff_model_fit() with the same model and data, launched as torchrun launches
 *    (the environment variables RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); rank 0 alone writes
 *    `checkpoint_path`, and only rank 0's callback can stop the run;
 *  - "timeout_s" (number, 60): a peer that does not answer in time fails the run on every rank
 *    that waits for it (IO, naming the rank).
 *  The result is the same model in every mode (the in-process pipeline and "pipeline": identical
 *  to the sequential run at 1 thread; "data": equal to float tolerance). Errors: INVALID_ARGUMENT
 *  naming the key (unknown key, wrong type, bad value). */
CFF_API CFF_NODISCARD cff_status* cff_model_set_parallel(cff_model* model, const char* json);

/** Trains stage 1 then stage 2 on `train` as the C++ `Trainer::fit` does: seeded shuffles, the
 *  options' epochs and batch size, validation split and best-epoch selection, resuming where a
 *  loaded checkpoint stopped. `progress` (may be NULL) is called after every batch and epoch with
 *  `user_data`. `checkpoint_path` (may be NULL) is written atomically after every epoch.
 *  `out_stopped` (may be NULL) gets 1 when the callback stopped the run, else 0; a stopped run is
 *  not an error and keeps the last completed epoch's state. Errors: INVALID_ARGUMENT (data shape
 *  or classes do not fit the model), IO (checkpoint), NUMERICS. */
CFF_API CFF_NODISCARD cff_status* cff_model_fit(cff_model* model, const cff_dataset* train, cff_progress_fn progress,
                                  void* user_data, const char* checkpoint_path, int32_t* out_stopped);

/* ---- Inference -------------------------------------------------------------------------------- */

/** Predicts a batch (labels not needed): one forward pass and a softmax (FF goodness: one pass per
 *  class). Every output is optional (NULL with length 0) and, when given, must be exactly as long
 *  as stated: `out_labels` count (top-1 class), `out_scores` count * classes (row-major
 *  probabilities; FF goodness: summed goodness), `out_topk` count * k (classes by decreasing
 *  score). k in 1..classes. An untrained model predicts from its initial weights (no error).
 *  Errors: INVALID_ARGUMENT (shape, k, an output length), NUMERICS (NaN/Inf image, or the model's
 *  scores are not finite: its weights are; nothing is written then). */
CFF_API CFF_NODISCARD cff_status* cff_model_predict(cff_model* model, const cff_batch* batch, int64_t k, int64_t* out_labels,
                                int64_t labels_length, float* out_scores, int64_t scores_length, int64_t* out_topk,
                                int64_t topk_length);

/** The pooled representation z_l of layer `layer` (0-based) for every image: `out_embeddings` gets
 *  count * E floats, row-major; `embeddings_length` must equal that. */
CFF_API CFF_NODISCARD cff_status* cff_model_embed(cff_model* model, const cff_batch* batch, int64_t layer, float* out_embeddings,
                              int64_t embeddings_length);

/** Top-k accuracy on a labelled batch for each of `ks[0 .. num_ks-1]` (each in 1..classes):
 *  `out_accuracies[i]` in [0, 1]. */
CFF_API CFF_NODISCARD cff_status* cff_model_evaluate(cff_model* model, const cff_batch* batch, const int64_t* ks, int64_t num_ks,
                                 double* out_accuracies);

/** cff_model_evaluate() over a whole dataset, in batches of the options' batch size. */
CFF_API CFF_NODISCARD cff_status* cff_model_evaluate_dataset(cff_model* model, const cff_dataset* data, const int64_t* ks,
                                         int64_t num_ks, double* out_accuracies);

/* ---- Datasets --------------------------------------------------------------------------------- */

/** Reads an IDX folder in MNIST layout ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), such as
 *  /usr/share/datasets/fashion-mnist. `part` is "train" or "test". Images are kept as uint8
 *  N x 1 x H x W. Caller-owned: cff_dataset_free(). Errors: INVALID_ARGUMENT (part), IO (missing
 *  file, naming it), FORMAT (bad magic, truncated, counts disagree). */
CFF_API CFF_NODISCARD cff_status* cff_dataset_load_idx(const char* folder, const char* part, cff_dataset** out_dataset);

/** Copies a labelled batch (labels required, each in 0..num_classes-1) into a new dataset, stored as
 *  NCHW in the batch's dtype. Errors: INVALID_ARGUMENT (sizes, labels), NUMERICS (NaN/Inf image). */
CFF_API CFF_NODISCARD cff_status* cff_dataset_create(const cff_batch* batch, int64_t num_classes, cff_dataset** out_dataset);

/** Releases a dataset. NULL is fine. Models never keep a reference to a dataset. */
CFF_API void cff_dataset_free(cff_dataset* dataset);

/** A new dataset holding rows start .. start+count-1 (copied). */
CFF_API CFF_NODISCARD cff_status* cff_dataset_slice(const cff_dataset* dataset, int64_t start, int64_t count,
                                      cff_dataset** out_dataset);

/** Number of images, their shape, the stored element type, and the number of classes. Each output
 *  may be NULL when not wanted. */
CFF_API CFF_NODISCARD cff_status* cff_dataset_info(const cff_dataset* dataset, int64_t* out_count, int64_t* out_channels,
                                     int64_t* out_height, int64_t* out_width, cff_dtype* out_dtype,
                                     int64_t* out_num_classes);

/** Copies images start .. start+count-1 into `out_images` as NCHW in `dtype` (uint8 images
 *  converted to float32 are divided by 255; float32 to uint8 is rounded and clamped).
 *  `images_length` is the length of `out_images` in elements and must equal
 *  count * channels * height * width. */
CFF_API CFF_NODISCARD cff_status* cff_dataset_images(const cff_dataset* dataset, int64_t start, int64_t count, cff_dtype dtype,
                                       void* out_images, int64_t images_length);

/** Copies labels start .. start+count-1 into `out_labels` (`labels_length` must equal count). */
CFF_API CFF_NODISCARD cff_status* cff_dataset_labels(const cff_dataset* dataset, int64_t start, int64_t count,
                                       int64_t* out_labels, int64_t labels_length);

/** The name of class `index` (e.g. "T-shirt/top" for Fashion-MNIST; the number as text when the
 *  data has no names). Owned by the dataset; lives until cff_dataset_free(). */
CFF_API CFF_NODISCARD cff_status* cff_dataset_class_name(const cff_dataset* dataset, int64_t index, const char** out_name);

/** Per-channel mean and standard deviation of the dataset's images scaled to [0, 1] (each std at
 *  least 1e-6): the normalisation cff_model_fit() computes, for cff_options_set_normalization()
 *  when training step by step. `channels` must equal the dataset's channel count. */
CFF_API CFF_NODISCARD cff_status* cff_dataset_normalization(const cff_dataset* dataset, double* out_mean,
                                                            double* out_std, int64_t channels);

/** Batches of a dataset for a host that trains step by step, filled into the host's buffers, so
 *  that it need not copy the whole set into its own memory. Holds its own reference to the data:
 *  the dataset may be freed first. Not synchronised: one thread at a time per iterator. */
typedef struct cff_batch_iterator cff_batch_iterator;

/** Creates an iterator over `dataset` in batches of `batch_size` (>= 1). With `shuffle` non-zero,
 *  epoch e visits the images in a permutation seeded by (`seed`, e), the same rule the C++ Loader
 *  uses; otherwise in order. The caller frees it with cff_batch_iterator_free(). */
CFF_API CFF_NODISCARD cff_status* cff_batch_iterator_create(const cff_dataset* dataset, int64_t batch_size,
                                                            uint64_t seed, int32_t shuffle,
                                                            cff_batch_iterator** out_iterator);

/** Releases an iterator. NULL is fine. */
CFF_API void cff_batch_iterator_free(cff_batch_iterator* iterator);

/** Copies the next batch: `out_images` gets count x C x H x W elements of ::cff_dtype `dtype`
 *  (NCHW; uint8 0..255 or float32 0..1) and `out_labels` count labels; each buffer must hold a
 *  full batch (batch_size images, labels). `*out_count` gets count: batch_size, less for the last
 *  batch of an epoch, 0 once the epoch is over; the call after that starts the next epoch.
 *  `out_epoch` (may be NULL) gets the 0-based epoch the batch belongs to. */
CFF_API CFF_NODISCARD cff_status* cff_batch_iterator_next(cff_batch_iterator* iterator, int32_t dtype,
                                                          void* out_images, int64_t images_length,
                                                          int64_t* out_labels, int64_t labels_length,
                                                          int64_t* out_count, int64_t* out_epoch);

/* ---- Losses and augmentations ----------------------------------------------------------------- */

/** A snapshot of one registry: the providers usable in loss / augmentation specs. Immutable. */
typedef struct cff_provider_list cff_provider_list;

/** Lists the registered providers of `kind` (built-ins and plugins), sorted by name. Caller-owned:
 *  cff_provider_list_free(). */
CFF_API CFF_NODISCARD cff_status* cff_provider_list_create(cff_provider_kind kind, cff_provider_list** out_list);

/** Releases a provider list. NULL is fine. */
CFF_API void cff_provider_list_free(cff_provider_list* list);

/** Number of providers in the list. */
CFF_API CFF_NODISCARD cff_status* cff_provider_list_count(const cff_provider_list* list, int64_t* out_count);

/** Provider `index` (0 .. count-1): its name, description, parameters with defaults
 *  ("tau=0.15,m0=0.4,..."; "" when none) and origin ("built-in" or a plugin's path). Each output
 *  may be NULL; the strings are owned by the list and live until cff_provider_list_free(). */
CFF_API CFF_NODISCARD cff_status* cff_provider_list_get(const cff_provider_list* list, int64_t index, const char** out_name,
                                          const char** out_description, const char** out_params,
                                          const char** out_origin);

/* ---- Input limits ----------------------------------------------------------------------------- */

/** Sets one of the process-wide limits every reader checks before it allocates (a file's
 *  length, an image's declared pixels, a data set's decoded bytes, a config's weights); input
 *  above a limit is refused with FORMAT (a file) or INVALID_ARGUMENT (a config), naming the input
 *  and the limit. `name`: "max_image_pixels" (default 67108864, 64 Mpx), "max_file_bytes"
 *  (default 2147483648, 2 GiB), "max_data_bytes" (default 4294967296, 4 GiB) or "max_parameters"
 *  (default 1073741824). Thread-safe; calls already reading keep the limits they started with.
 *  Errors: INVALID_ARGUMENT (unknown name, value < 1). */
CFF_API CFF_NODISCARD cff_status* cff_limit_set(const char* name, int64_t value);

/* ---- Plugins --------------------------------------------------------------------------------- */

/** The plugin ABI version (CFF_PLUGIN_ABI_VERSION of the SDK header cff_plugin.h) this library
 *  loads; a plugin declaring another version is refused. Thread-safe. */
CFF_API uint32_t cff_plugin_abi_version(void);

/** Loads the plugin at `path` (a shared library exporting `cff_plugin_describe`, written against
 *  cff_plugin.h or cff/plugin_sdk.hpp) and registers its losses and augmentations
 *  under their names, usable in loss/augment specs of every model created afterwards. All of a
 *  plugin's providers register, or none. Loading a file already loaded succeeds and does nothing.
 *  Plugins in CFF_PLUGIN_PATH and the installed plugin folder load by themselves on first use.
 *  `out_name` (may be NULL) receives the plugin's own name: caller-owned, free with
 *  cff_string_free(). Errors (the message names the file and the problem): INVALID_ARGUMENT for a
 *  NULL path or a default parameter that does not parse; PLUGIN for a missing or unloadable file, a
 *  missing entry symbol, a wrong ABI version, a C++ plugin built against another libcff / LibTorch,
 *  a malformed descriptor or a provider name already registered. The plugin runs in-process:
 *  see the README for what is checked. Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_plugin_load(const char* path, char** out_name);

/** Removes the providers of the plugin loaded from `path` from the registries; models already
 *  built keep using them (the library stays loaded until they are freed). `out_unloaded` (may be
 *  NULL) is set to 1 if the file was loaded, else 0. Errors: INVALID_ARGUMENT for a NULL path.
 *  Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_plugin_unload(const char* path, int32_t* out_unloaded);

/** Loads every plugin file named `libcff-plugin-*.so` in the folders of CFF_PLUGIN_PATH
 *  (colon-separated), then in `<folder of libcff>/cff/plugins`, once per process (later calls
 *  report the first pass); a file that fails is skipped. Without this call the first spec naming
 *  an unknown loss or augmentation, and every provider listing, run it. `out_loaded` and
 *  `out_failed` (each may be NULL) get the counts of files loaded and failed. Thread-safe. */
CFF_API CFF_NODISCARD cff_status* cff_plugins_discover(int64_t* out_loaded, int64_t* out_failed);

#ifdef __cplusplus
}
#endif

#endif /* CFF_H */
