/* cff_plugin.h — the libcff plugin SDK (C99). A plugin is a shared library that exports one
 * function, `cff_plugin_describe`, returning a pointer to a static descriptor. The descriptor
 * names the plugin ABI version it was written for and lists the local losses and augmentations
 * it provides, each with a one-line description and its parameters with defaults.
 *
 * Two kinds of plugin share this descriptor:
 *  - C kind (CFF_PLUGIN_KIND_C): every provider has create / call / destroy function pointers
 *    over plain buffers. Writable in C, Rust, Go, ... No LibTorch, no C++ needed. `create`
 *    receives libcff's host table (cff_plugin_host): a matrix product and a row softmax at
 *    library speed, so a C loss need not hand-write its heavy loops.
 *  - C++ kind (CFF_PLUGIN_KIND_CXX): every provider has a C++ factory working on LibTorch
 *    tensors; see cff/plugin_sdk.hpp, which fills this descriptor for you.
 *
 * Ownership: the descriptor and every string and array it points to are static: they must live
 * as long as the library is loaded. An instance a plugin's `create` returns is destroyed by the
 * same plugin's `destroy`; libcff never frees plugin memory and a plugin never frees libcff's.
 * Buffers libcff passes in are borrowed for the duration of the call only.
 *
 * Errors: every fallible call returns 0 on success or any non-zero status on failure, and may
 * write a NUL-terminated one-line reason into `message` (capacity `message_size` bytes, at least
 * 256). A plugin must not let a C++ exception, a Rust panic or a longjmp escape a call.
 *
 * Threads: libcff never calls into one instance from two threads at once; different instances
 * may be used concurrently. `create` and `destroy` may run on any thread.
 */
#ifndef CFF_PLUGIN_H
#define CFF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The plugin ABI this header describes. libcff loads a plugin only if its descriptor's
 *  abi_version equals the ABI version libcff was built with (no ranges, no guessing). */
#define CFF_PLUGIN_ABI_VERSION 2

/** The one symbol a plugin exports. */
#define CFF_PLUGIN_ENTRY_NAME "cff_plugin_describe"

#ifdef __cplusplus
#define CFF_PLUGIN_EXTERN_C extern "C"
#else
#define CFF_PLUGIN_EXTERN_C
#endif
#if defined(_WIN32)
#define CFF_PLUGIN_EXPORT __declspec(dllexport)
#else
#define CFF_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/** Which calls the providers of a descriptor implement. */
typedef enum cff_plugin_kind {
  CFF_PLUGIN_KIND_C = 1,   /**< create / forward|apply / destroy over plain buffers */
  CFF_PLUGIN_KIND_CXX = 2  /**< C++ factories over LibTorch tensors (cff/plugin_sdk.hpp) */
} cff_plugin_kind;

/** What a loss needs from the trainer (the same values as cff::LossInputs). */
typedef enum cff_plugin_loss_inputs {
  CFF_PLUGIN_INPUTS_VIEWS = 0,             /**< 1 or 2 augmented views of one batch (CFF) */
  CFF_PLUGIN_INPUTS_POSITIVE_NEGATIVE = 1  /**< a positive and a negative pass (FF, SymBa) */
} cff_plugin_loss_inputs;

/** How libcff parses a parameter's text before handing it to `create`. A value that does not
 *  parse is refused by libcff (the plugin never sees it); so is a default that does not. */
typedef enum cff_plugin_param_type {
  CFF_PLUGIN_PARAM_NUMBER = 1,   /**< a finite double */
  CFF_PLUGIN_PARAM_INTEGER = 2,  /**< a base-10 int64 */
  CFF_PLUGIN_PARAM_STRING = 3    /**< any text */
} cff_plugin_param_type;

/** One declared parameter; `default_value` is text, e.g. "0.15". */
typedef struct cff_plugin_param {
  const char* name;
  int32_t type; /**< a cff_plugin_param_type */
  const char* default_value;
  const char* description;
} cff_plugin_param;

/** A parameter's value as given in a spec (or its default), already parsed by libcff. `text` is
 *  always set; `number` for NUMBER and INTEGER, `integer` for INTEGER. Borrowed for the call. */
typedef struct cff_plugin_value {
  const char* text;
  double number;
  int64_t integer;
} cff_plugin_value;

/** Where a loss instance sits: each layer gets its own instance. */
typedef struct cff_plugin_loss_context {
  int64_t layer;       /**< 0-based layer index l */
  int64_t num_layers;  /**< L */
  int64_t num_classes;
} cff_plugin_loss_context;

/** The input of one loss evaluation. `features` holds `num_sets` row-major N x D float matrices
 *  one after the other: views 1 and 2 (CFF) or the positive then the negative pass (FF). Row i of
 *  set s starts at features + (s * n + i) * d. Features are the layer's pooled outputs, not
 *  normalised. `labels` has n entries in 0 .. num_classes-1. Borrowed for the call. */
typedef struct cff_plugin_loss_batch {
  const float* features;
  int64_t num_sets;
  int64_t n;
  int64_t d;
  const int64_t* labels;
  int32_t need_gradient; /**< 0: the gradient is not needed (validation); the plugin may skip it */
} cff_plugin_loss_batch;

/** What a loss evaluation returns. libcff sets `gradient` to a buffer of `gradient_capacity`
 *  floats (num_sets * n * d, laid out like the features) and `gradient_size` to -1. The plugin
 *  writes the loss into `value`, d loss / d features into `gradient`, and sets `gradient_size` to
 *  the number of floats it wrote (which must equal the capacity when need_gradient is set).
 *  libcff refuses a non-finite value or gradient and a gradient of any other size. */
typedef struct cff_plugin_loss_output {
  double value;
  float* gradient;
  int64_t gradient_capacity;
  int64_t gradient_size;
} cff_plugin_loss_output;

/** Numerical routines libcff lends to C-kind plugins (SQLite's loadable-extension pattern): the
 *  heavy work of a loss runs on LibTorch's BLAS and vectorised kernels and its threads. Every
 *  `create` receives the table; it is static in libcff and valid while the plugin is loaded, so
 *  an instance may keep the pointer. Versioned with the plugin ABI: new routines are only ever
 *  appended, and `struct_size` (sizeof the table libcff was built with) says which exist.
 *  Matrices are row-major float32 with a row stride (ld >= the row length). Every routine
 *  returns 0, or non-zero with a one-line reason in `message` (bad sizes, out of memory); none
 *  lets an exception escape. Thread-safe; may be called from `create`, `forward` and `apply`. */
typedef struct cff_plugin_host {
  uint32_t abi_version; /**< CFF_PLUGIN_ABI_VERSION of the libcff that filled the table */
  uint32_t struct_size; /**< sizeof(cff_plugin_host) in that libcff */
  /** C = alpha op(A) op(B) + beta C, with op(X) = X, or X^T when trans_x is non-zero; op(A) is
   *  m x k, op(B) k x n, C m x n. With beta = 0, C is only written (NaN in it is not read). */
  int32_t (*sgemm)(int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, char* message,
                   size_t message_size);
  /** Row softmax in place over a rows x cols matrix: x_ij -> exp(x_ij - lse_i) with
   *  lse_i = log sum_j exp(x_ij); -INFINITY entries (masked) become 0. When `lse` is not NULL it
   *  receives the rows' lse_i (rows floats). A row that is all -INFINITY gets lse -INFINITY and
   *  NaN entries. */
  int32_t (*softmax_rows)(int64_t rows, int64_t cols, float* x, int64_t ld, float* lse, char* message,
                          size_t message_size);
} cff_plugin_host;

/** Creates the loss of one layer. `host` is libcff's host table (see cff_plugin_host). `values`
 *  has one entry per declared parameter, in declared order. On success stores an instance (any
 *  pointer, may be NULL) in *instance and returns 0. */
typedef int32_t (*cff_plugin_loss_create_fn)(const cff_plugin_host* host, const cff_plugin_value* values,
                                             const cff_plugin_loss_context* context, void** instance, char* message,
                                             size_t message_size);
/** Evaluates the loss and its gradient on one batch. */
typedef int32_t (*cff_plugin_loss_forward_fn)(void* instance, const cff_plugin_loss_batch* batch,
                                              cff_plugin_loss_output* output, char* message, size_t message_size);
/** Destroys an instance `create` returned; called exactly once per instance. */
typedef void (*cff_plugin_destroy_fn)(void* instance);

/** The images an augmentation transforms: n x c x h x w floats in [0, 1], row-major. */
typedef struct cff_plugin_images {
  const float* data;
  int64_t n, c, h, w;
} cff_plugin_images;

/** Creates an augmentation from its parameter values (see cff_plugin_loss_create_fn). */
typedef int32_t (*cff_plugin_augment_create_fn)(const cff_plugin_host* host, const cff_plugin_value* values,
                                                void** instance, char* message, size_t message_size);
/** Writes the transformed batch (same shape) into `output` (n*c*h*w floats). The same seed must
 *  give the same result. `output` never aliases `images->data`. */
typedef int32_t (*cff_plugin_augment_apply_fn)(void* instance, const cff_plugin_images* images, uint64_t seed,
                                               float* output, char* message, size_t message_size);

/** A C++ kind factory, type-erased; cff/plugin_sdk.hpp sets and libcff casts it back. */
typedef void (*cff_plugin_cxx_factory_fn)(void);

/** One local loss. C kind: create, forward and destroy set, cxx_factory NULL. C++ kind: the
 *  reverse. */
typedef struct cff_plugin_loss {
  const char* name;        /**< registry name, e.g. "triplet"; [A-Za-z0-9_.-]+ */
  const char* description; /**< one line */
  int32_t inputs;          /**< a cff_plugin_loss_inputs */
  const cff_plugin_param* params;
  uint32_t num_params;
  cff_plugin_loss_create_fn create;
  cff_plugin_loss_forward_fn forward;
  cff_plugin_destroy_fn destroy;
  cff_plugin_cxx_factory_fn cxx_factory;
} cff_plugin_loss;

/** One augmentation (same rules as cff_plugin_loss). */
typedef struct cff_plugin_augmentation {
  const char* name;
  const char* description;
  const cff_plugin_param* params;
  uint32_t num_params;
  cff_plugin_augment_create_fn create;
  cff_plugin_augment_apply_fn apply;
  cff_plugin_destroy_fn destroy;
  cff_plugin_cxx_factory_fn cxx_factory;
} cff_plugin_augmentation;

/** What `cff_plugin_describe` returns. abi_version comes first and stays first in every future
 *  ABI, so libcff can always read it and refuse a mismatch. */
typedef struct cff_plugin_descriptor {
  uint32_t abi_version; /**< CFF_PLUGIN_ABI_VERSION of the header the plugin was built with */
  int32_t kind;         /**< a cff_plugin_kind */
  const char* name;     /**< the plugin's own name, for listings */
  /* C++ kind only (NULL for C): what the plugin was built against; libcff refuses any mismatch. */
  const char* cff_version;   /**< CFF_VERSION_STRING */
  const char* torch_version; /**< TORCH_VERSION */
  const char* cxx_abi;       /**< CFF_PLUGIN_CXX_ABI (compiler and standard library ABI) */
  const cff_plugin_loss* losses;
  uint32_t num_losses;
  const cff_plugin_augmentation* augmentations;
  uint32_t num_augmentations;
} cff_plugin_descriptor;

/** The entry point's type: returns a pointer to a static descriptor; must not fail. */
typedef const cff_plugin_descriptor* (*cff_plugin_describe_fn)(void);

/** Defines the entry point of a plugin returning `descriptor` (a static cff_plugin_descriptor). */
#define CFF_PLUGIN_DEFINE(descriptor)                                                                   \
  CFF_PLUGIN_EXTERN_C CFF_PLUGIN_EXPORT const cff_plugin_descriptor* cff_plugin_describe(void);          \
  CFF_PLUGIN_EXTERN_C CFF_PLUGIN_EXPORT const cff_plugin_descriptor* cff_plugin_describe(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif

#endif /* CFF_PLUGIN_H */
