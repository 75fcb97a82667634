/* A custom local loss as a C-ABI libcff plugin: the supervised cosine-margin loss.
 *
 * Rows u_i = z_i / |z_i| of both views (M = sets * N rows), cosines s_ij = u_i . u_j, i != j:
 *   L = mean over positive pairs (same label) of (1 - s_ij)
 *     + mean over negative pairs of max(0, s_ij - margin)
 * pulls a layer's features of one class together and pushes other classes below the margin.
 * The gradient is analytic: dL/ds_ij = -1/|pos| or +1/|neg| (where active), then
 * dL/du_i = 2 sum_j dL/ds_ij u_j, then through the normalisation:
 * dL/dz_i = (g_i - u_i (u_i . g_i)) / |z_i|.
 *
 * Build:  cc -std=c99 -O2 -shared -fPIC -I<prefix>/include cosine_margin.c -o libcff-plugin-cosine_margin.so -lm
 * Use:    cff train DATA --out m.cff --algo cff --plugin ./libcff-plugin-cosine_margin.so --loss cosine-margin:margin=0.2
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cff_plugin.h>

typedef struct {
  double margin;
} cosine_margin;

static int32_t create(const cff_plugin_host* host, const cff_plugin_value* values,
                      const cff_plugin_loss_context* context, void** instance, char* message, size_t message_size) {
  cosine_margin* loss;
  (void)host;    /* its loops are O(N D): no host routine needed */
  (void)context; /* the same loss at every layer */
  if (!(values[0].number > -1.0 && values[0].number < 1.0)) {
    snprintf(message, message_size, "margin must be in (-1, 1), got %g", values[0].number);
    return 1;
  }
  loss = (cosine_margin*)malloc(sizeof *loss);
  if (!loss) {
    snprintf(message, message_size, "out of memory");
    return 2;
  }
  loss->margin = values[0].number;
  *instance = loss;
  return 0;
}

static void destroy(void* instance) { free(instance); }

static int32_t forward(void* instance, const cff_plugin_loss_batch* b, cff_plugin_loss_output* out, char* message,
                       size_t message_size) {
  const double margin = ((const cosine_margin*)instance)->margin;
  const int64_t m = b->num_sets * b->n, d = b->d;
  double *u = (double*)malloc(sizeof(double) * (size_t)(m * d)), *norm = (double*)malloc(sizeof(double) * (size_t)m);
  double *g = (double*)calloc((size_t)(m * d), sizeof(double)), pos_sum = 0.0, neg_sum = 0.0;
  int64_t i, j, k, npos = 0, nneg = 0;
  if (!u || !norm || !g) {
    free(u), free(norm), free(g);
    snprintf(message, message_size, "out of memory");
    return 2;
  }
  for (i = 0; i < m; ++i) {
    double n2 = 0.0;
    for (k = 0; k < d; ++k) n2 += (double)b->features[i * d + k] * b->features[i * d + k];
    norm[i] = sqrt(n2) > 1e-12 ? sqrt(n2) : 1e-12;
    for (k = 0; k < d; ++k) u[i * d + k] = b->features[i * d + k] / norm[i];
  }
  for (i = 0; i < m; ++i) /* count pairs first: the gradient's weights depend on the counts */
    for (j = 0; j < m; ++j)
      if (i != j) (b->labels[i % b->n] == b->labels[j % b->n]) ? ++npos : ++nneg;
  for (i = 0; i < m; ++i)
    for (j = 0; j < m; ++j) {
      double s = 0.0, w = 0.0;
      if (i == j) continue;
      for (k = 0; k < d; ++k) s += u[i * d + k] * u[j * d + k];
      if (b->labels[i % b->n] == b->labels[j % b->n]) {
        pos_sum += 1.0 - s;
        w = -1.0 / (double)npos;
      } else if (s > margin) {
        neg_sum += s - margin;
        w = 1.0 / (double)nneg;
      }
      if (w != 0.0) /* s_ij = s_ji: each ordered pair reaches both u_i and u_j */
        for (k = 0; k < d; ++k) {
          g[i * d + k] += w * u[j * d + k];
          g[j * d + k] += w * u[i * d + k];
        }
    }
  out->value = (npos ? pos_sum / (double)npos : 0.0) + (nneg ? neg_sum / (double)nneg : 0.0);
  if (b->need_gradient) {
    for (i = 0; i < m; ++i) {
      double dot = 0.0;
      for (k = 0; k < d; ++k) dot += u[i * d + k] * g[i * d + k];
      for (k = 0; k < d; ++k) out->gradient[i * d + k] = (float)((g[i * d + k] - u[i * d + k] * dot) / norm[i]);
    }
    out->gradient_size = m * d;
  }
  free(u), free(norm), free(g);
  return 0;
}

static const cff_plugin_param params[] = {
    {"margin", CFF_PLUGIN_PARAM_NUMBER, "0.2", "negative pairs are pushed below this cosine"},
};
static const cff_plugin_loss losses[] = {
    {"cosine-margin", "supervised cosine-margin loss: 1 - s on positives, max(0, s - margin) on negatives",
     CFF_PLUGIN_INPUTS_VIEWS, params, 1, create, forward, destroy, NULL},
};
static const cff_plugin_descriptor descriptor = {
    CFF_PLUGIN_ABI_VERSION, CFF_PLUGIN_KIND_C, "cosine-margin-sample", NULL, NULL, NULL, losses, 1, NULL, 0};

CFF_PLUGIN_DEFINE(descriptor)
