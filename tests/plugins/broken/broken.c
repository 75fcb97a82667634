/* Deliberately broken plugins for the loader's validation tests. One source, one shared library
 * per BROKEN_* macro (tests/plugins/CMakeLists.txt). Each misbehaves in exactly one way. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cff_plugin.h"

#ifndef BROKEN_NAME
#define BROKEN_NAME "broken"
#endif

static int32_t create(const cff_plugin_host* host, const cff_plugin_value* v, const cff_plugin_loss_context* ctx,
                      void** instance, char* message, size_t size) {
  (void)host, (void)v, (void)ctx, (void)message, (void)size;
  *instance = NULL;
  return 0;
}

static void destroy(void* instance) { (void)instance; }

static int32_t forward(void* instance, const cff_plugin_loss_batch* b, cff_plugin_loss_output* out, char* message,
                       size_t size) {
  const int64_t total = b->num_sets * b->n * b->d;
  int64_t i;
  (void)instance, (void)message, (void)size;
  for (i = 0; i < total; ++i) out->gradient[i] = 0.01f * b->features[i];
  out->gradient_size = total;
  out->value = 1.0;
#if defined(BROKEN_NAN)
  out->value = NAN;
#elif defined(BROKEN_NAN_GRAD)
  out->gradient[0] = INFINITY;
#elif defined(BROKEN_GRAD_SIZE)
  out->gradient_size = total - b->d; /* one row short */
#elif defined(BROKEN_OVERFLOW)
  out->gradient[total] = 1.0f; /* one float past the end */
#elif defined(BROKEN_FAIL)
  snprintf(message, size, "deliberate failure on %lld rows", (long long)b->n);
  return 3;
#endif
  return 0;
}

static int32_t aug_create(const cff_plugin_host* host, const cff_plugin_value* v, void** instance, char* message,
                          size_t size) {
  (void)host, (void)v;
#if defined(BROKEN_CREATE_FAIL)
  snprintf(message, size, "cannot create");
  return 4;
#else
  (void)message, (void)size;
  *instance = NULL;
  return 0;
#endif
}

static int32_t aug_apply(void* instance, const cff_plugin_images* images, uint64_t seed, float* output,
                         char* message, size_t size) {
  const int64_t total = images->n * images->c * images->h * images->w;
  (void)instance, (void)seed;
  memcpy(output, images->data, sizeof(float) * (size_t)total);
#if defined(BROKEN_FAIL)
  snprintf(message, size, "deliberate augmentation failure");
  return 5;
#elif defined(BROKEN_NAN)
  output[0] = NAN;
#elif defined(BROKEN_OVERFLOW)
  output[total] = 0.5f;
#else
  (void)message, (void)size;
#endif
  return 0;
}

static const cff_plugin_param params[] = {
#if defined(BROKEN_BAD_DEFAULT)
    {"scale", CFF_PLUGIN_PARAM_NUMBER, "abc", "a default that is not a number"},
#else
    {"scale", CFF_PLUGIN_PARAM_NUMBER, "1", "unused"},
#endif
};

static const cff_plugin_loss losses[] = {
#if defined(BROKEN_DUPLICATE)
    {"supcon", "claims a built-in's name", CFF_PLUGIN_INPUTS_VIEWS, params, 1, create, forward, destroy, NULL},
#else
    {BROKEN_NAME "-loss", "a broken loss", CFF_PLUGIN_INPUTS_VIEWS, params, 1, create, forward, destroy, NULL},
#endif
};
static const cff_plugin_augmentation augmentations[] = {
    {BROKEN_NAME "-aug", "a broken augmentation", params, 1, aug_create, aug_apply, destroy, NULL},
};

static const cff_plugin_descriptor descriptor = {
#if defined(BROKEN_ABI)
    999,
#elif defined(BROKEN_NO_ABI)
    0,
#else
    CFF_PLUGIN_ABI_VERSION,
#endif
#if defined(BROKEN_CXX_VERSION)
    CFF_PLUGIN_KIND_CXX, BROKEN_NAME, "0.0.0", "0.0.0", "none",
#else
    CFF_PLUGIN_KIND_C, BROKEN_NAME, NULL, NULL, NULL,
#endif
    losses, 1, augmentations, 1};

#if defined(BROKEN_NO_SYMBOL)
CFF_PLUGIN_EXPORT const cff_plugin_descriptor* cff_plugin_describe_misspelled(void);
CFF_PLUGIN_EXPORT const cff_plugin_descriptor* cff_plugin_describe_misspelled(void) { return &descriptor; }
#else
CFF_PLUGIN_DEFINE(descriptor)
#endif
