/* Helpers shared by the C API tests (plain C99): checks that report file and line, a tiny model's
 * options, and a synthetic 2-class 8x8 dataset that an MLP[16 2] learns in a few steps. */
#ifndef CFF_CAPI_TEST_H
#define CFF_CAPI_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cff.h"

static int g_failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                   \
    }                                                                 \
  } while (0)

/* Expects success; prints the status's message otherwise. */
#define CHECK_OK(expr)                                                                        \
  do {                                                                                        \
    cff_status* st_ = (expr);                                                                 \
    if (st_) {                                                                                \
      fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,                \
              cff_code_name(cff_status_code(st_)), cff_status_message(st_));                  \
      ++g_failures;                                                                           \
      cff_status_free(st_);                                                                   \
    }                                                                                         \
  } while (0)

/* Expects a failure with `code` and a message containing `needle` ("" matches any). */
#define CHECK_CODE(expr, code, needle)                                                          \
  do {                                                                                          \
    cff_status* st_ = (expr);                                                                   \
    if (cff_status_code(st_) != (code)) {                                                       \
      fprintf(stderr, "%s:%d: %s: expected %s, got %s (%s)\n", __FILE__, __LINE__, #expr,       \
              cff_code_name(code), cff_code_name(cff_status_code(st_)), cff_status_message(st_)); \
      ++g_failures;                                                                             \
    } else if (strstr(cff_status_message(st_), (needle)) == NULL) {                             \
      fprintf(stderr, "%s:%d: %s: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, #expr,   \
              cff_status_message(st_), (needle));                                               \
      ++g_failures;                                                                             \
    } else if (getenv("CFF_TEST_VERBOSE")) {                                                    \
      printf("  ok %s -> %s: %s\n", #expr, cff_code_name(code), cff_status_message(st_));       \
    }                                                                                           \
    cff_status_free(st_);                                                                       \
  } while (0)

#define TEST_EXIT()                                                   \
  do {                                                                \
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures); \
    else printf("all checks passed\n");                               \
    return g_failures ? 1 : 0;                                        \
  } while (0)

enum { kSide = 8, kPixels = kSide * kSide, kClasses = 2 };

/* Class 0 is bright in the top half, class 1 in the bottom half (invariant to the MLP's default
 * horizontal-flip augmentation), with deterministic noise. */
static void make_images(uint8_t* images, int64_t* labels, int64_t count, uint32_t seed) {
  uint32_t state = seed * 2654435761u + 1u;
  int64_t i;
  int p;
  for (i = 0; i < count; ++i) {
    labels[i] = i % 2;
    for (p = 0; p < kPixels; ++p) {
      int top = (p / kSide) < kSide / 2;
      int bright = (labels[i] == 0) == top;
      state = state * 1664525u + 1013904223u;
      images[i * kPixels + p] = (uint8_t)((bright ? 160 : 20) + (state >> 27));
    }
  }
}

static cff_batch make_batch(const uint8_t* images, const int64_t* labels, int64_t count) {
  cff_batch b = CFF_BATCH_INIT;
  b.images = images;
  b.images_length = count * kSide * kSide;
  b.labels = labels;
  b.labels_length = labels ? count : 0;
  b.count = count;
  b.channels = 1;
  b.height = kSide;
  b.width = kSide;
  return b;
}

/* MLP[16 2] on 1x8x8 with 2 classes, CPU, one thread, seed 7. */
static cff_options* tiny_options(void) {
  cff_options* o = NULL;
  CHECK_OK(cff_options_create(&o));
  CHECK_OK(cff_options_set_input_shape(o, 1, kSide, kSide));
  CHECK_OK(cff_options_set_num_classes(o, kClasses));
  CHECK_OK(cff_options_set_embed_dim(o, 16));
  CHECK_OK(cff_options_set_num_layers(o, 2));
  CHECK_OK(cff_options_set_device(o, "cpu"));
  CHECK_OK(cff_options_set_threads(o, 1));
  CHECK_OK(cff_options_set_seed(o, 7));
  CHECK_OK(cff_options_set_batch_size(o, 16));
  CHECK_OK(cff_options_set_epochs(o, 1, 1));
  CHECK_OK(cff_options_set_lr(o, 0.01, 0.01));
  CHECK_OK(cff_options_set_head_lr(o, 0.02, 0.01));
  return o;
}

static cff_model* tiny_model(void) {
  cff_options* o = tiny_options();
  cff_model* m = NULL;
  CHECK_OK(cff_model_create(o, &m));
  cff_options_free(o);
  return m;
}

#endif /* CFF_CAPI_TEST_H */
