/* A custom augmentation as a C-ABI libcff plugin: additive Gaussian noise, clipped to [0, 1].
 * Deterministic for a given seed (splitmix64 + Box-Muller), independent of threads.
 *
 * Build:  cc -std=c99 -O2 -shared -fPIC -I<prefix>/include gaussian_noise.c -o libcff-plugin-gaussian_noise.so -lm
 * Use:    cff train DATA --out m.cff --plugin ./libcff-plugin-gaussian_noise.so --augment hflip+gaussian-noise:sigma=0.05
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cff_plugin.h>

typedef struct {
  double sigma;
} gaussian_noise;

static uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double uniform(uint64_t* state) { return ((double)(splitmix64(state) >> 11) + 0.5) / 9007199254740992.0; }

static int32_t create(const cff_plugin_host* host, const cff_plugin_value* values, void** instance, char* message,
                      size_t message_size) {
  gaussian_noise* g;
  (void)host; /* pure C: no host routine needed */
  if (!(values[0].number >= 0.0)) {
    snprintf(message, message_size, "sigma must be >= 0, got %g", values[0].number);
    return 1;
  }
  g = (gaussian_noise*)malloc(sizeof *g);
  if (!g) {
    snprintf(message, message_size, "out of memory");
    return 2;
  }
  g->sigma = values[0].number;
  *instance = g;
  return 0;
}

static void destroy(void* instance) { free(instance); }

static int32_t apply(void* instance, const cff_plugin_images* images, uint64_t seed, float* output, char* message,
                     size_t message_size) {
  const double sigma = ((const gaussian_noise*)instance)->sigma;
  const int64_t total = images->n * images->c * images->h * images->w;
  const double two_pi = 6.283185307179586;
  uint64_t state = seed;
  int64_t i;
  (void)message, (void)message_size;
  for (i = 0; i < total; ++i) {
    const double noise = sqrt(-2.0 * log(uniform(&state))) * cos(two_pi * uniform(&state));
    const double v = images->data[i] + sigma * noise;
    output[i] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
  }
  return 0;
}

static const cff_plugin_param params[] = {
    {"sigma", CFF_PLUGIN_PARAM_NUMBER, "0.05", "standard deviation of the noise"},
};
static const cff_plugin_augmentation augmentations[] = {
    {"gaussian-noise", "additive Gaussian noise, clipped to [0, 1]", params, 1, create, apply, destroy, NULL},
};
static const cff_plugin_descriptor descriptor = {
    CFF_PLUGIN_ABI_VERSION, CFF_PLUGIN_KIND_C, "gaussian-noise-sample", NULL, NULL, NULL, NULL, 0, augmentations, 1};

CFF_PLUGIN_DEFINE(descriptor)
