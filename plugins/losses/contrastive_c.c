/* The paper's supervised and marginal contrastive losses as a C-ABI plugin: "supcon-c" and
 * "mcl-c" (linear margin schedule). Same mathematics as the built-ins "supcon" and "mcl", with an
 * analytic gradient; the reference C plugin for authors, for the numerics test against the
 * built-ins and for the plugin-overhead benchmark. Its two products and the row softmax run on
 * libcff's host table (cff_plugin_host: LibTorch's BLAS and kernels); the O(M^2) masks and sums
 * are plain C loops.
 *
 * Z = normalize([z1; z2]) (M = sets * N rows), S = Z Z^T, positives P(i) = other rows with the
 * same label; positive cosines s -> min(s + m_l, 1) (CFF+M), logits S / tau, and
 *   L = (1/M) sum_i -(1/max(|P(i)|,1)) sum_{p in P(i)} [ l_ip - log sum_{a != i} exp(l_ia) ].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cff_plugin.h"

typedef struct contrastive {
  const cff_plugin_host* host;
  double tau;
  double margin;
} contrastive;

static int32_t make(const cff_plugin_host* host, double tau, double margin, void** instance, char* message,
                    size_t size) {
  contrastive* c;
  if (!host || host->struct_size < sizeof(cff_plugin_host) || !host->sgemm || !host->softmax_rows) {
    snprintf(message, size, "this libcff's host table lacks sgemm or softmax_rows");
    return 3;
  }
  if (!(tau > 0)) {
    snprintf(message, size, "tau must be > 0, got %g", tau);
    return 1;
  }
  if (!(margin >= 0 && margin <= 2)) {
    snprintf(message, size, "margin must be in [0, 2], got %g", margin);
    return 1;
  }
  c = (contrastive*)malloc(sizeof *c);
  if (!c) {
    snprintf(message, size, "out of memory");
    return 2;
  }
  c->host = host;
  c->tau = tau;
  c->margin = margin;
  *instance = c;
  return 0;
}

static int32_t supcon_create(const cff_plugin_host* host, const cff_plugin_value* v,
                             const cff_plugin_loss_context* ctx, void** instance, char* message, size_t size) {
  (void)ctx;
  return make(host, v[0].number, 0.0, instance, message, size);
}

/* Linear margin schedule m_l = m0 + (mL - m0) l / (L - 1), as the built-in "mcl" default. */
static int32_t mcl_create(const cff_plugin_host* host, const cff_plugin_value* v, const cff_plugin_loss_context* ctx,
                          void** instance, char* message, size_t size) {
  const double m0 = v[1].number, mL = v[2].number;
  const double m = ctx->num_layers > 1 ? m0 + (mL - m0) * (double)ctx->layer / (double)(ctx->num_layers - 1) : m0;
  return make(host, v[0].number, m, instance, message, size);
}

static void destroy(void* instance) { free(instance); }

static int32_t forward(void* instance, const cff_plugin_loss_batch* b, cff_plugin_loss_output* out, char* message,
                       size_t size) {
  const contrastive* c = (const contrastive*)instance;
  const cff_plugin_host* host = c->host;
  const int64_t m = b->num_sets * b->n, d = b->d;
  const float inv_tau = (float)(1.0 / c->tau), shift = (float)(c->margin / c->tau);
  int64_t i, j, k;
  int32_t status = 0;
  double total = 0.0;
  float* u = (float*)calloc((size_t)(m * d), sizeof(float));
  float* norm = (float*)malloc(sizeof(float) * (size_t)m);
  float* lse = (float*)malloc(sizeof(float) * (size_t)m);
  float* s = (float*)malloc(sizeof(float) * (size_t)(m * m)); /* logits, then softmax, then dL/dl */
  float* g = (float*)malloc(sizeof(float) * (size_t)(m * d));
  unsigned char* clamped = (unsigned char*)calloc((size_t)(m * m), 1);
  if (!u || !norm || !lse || !s || !g || !clamped) {
    snprintf(message, size, "out of memory for %lld rows", (long long)m);
    status = 2;
    goto done;
  }
  for (i = 0; i < m; ++i) { /* u_i = z_i / max(|z_i|, 1e-12), like torch's normalize */
    double n2 = 0.0;
    for (k = 0; k < d; ++k) n2 += (double)b->features[i * d + k] * b->features[i * d + k];
    norm[i] = sqrt(n2) > 1e-12 ? (float)sqrt(n2) : 1e-12f;
    for (k = 0; k < d; ++k) u[i * d + k] = b->features[i * d + k] / norm[i];
  }
  /* logits S / tau = U U^T / tau, one product on the host */
  if ((status = host->sgemm(0, 1, m, m, d, inv_tau, u, d, u, d, 0.0f, s, m, message, size)) != 0) goto done;
  for (i = 0; i < m; ++i) { /* margin on positives, self-pairs out of every sum */
    const int64_t yi = b->labels[i % b->n];
    float* row = s + i * m;
    for (j = 0; j < m; ++j)
      if (j != i && b->labels[j % b->n] == yi && c->margin > 0) {
        const float v = row[j] + shift;
        clamped[i * m + j] = v >= inv_tau; /* clamp_max passes no gradient there */
        row[j] = v < inv_tau ? v : inv_tau;
      }
    row[i] = -INFINITY;
  }
  for (i = 0; i < m; ++i) { /* -(1/|P(i)|) sum of positive logits, before the softmax replaces them */
    const int64_t yi = b->labels[i % b->n];
    double pos = 0.0;
    int64_t npos = 0;
    for (j = 0; j < m; ++j)
      if (j != i && b->labels[j % b->n] == yi) pos += s[i * m + j], ++npos;
    total -= npos > 0 ? pos / (double)npos : 0.0;
  }
  if ((status = host->softmax_rows(m, m, s, m, lse, message, size)) != 0) goto done;
  for (i = 0; i < m; ++i) { /* + log-sum-exp for anchors with positives; then dL/dl in place */
    const int64_t yi = b->labels[i % b->n];
    int64_t npos = 0;
    for (j = 0; j < m; ++j) npos += j != i && b->labels[j % b->n] == yi;
    if (npos > 0) total += lse[i];
    for (j = 0; j < m; ++j) {
      const int pos = j != i && b->labels[j % b->n] == yi;
      /* dL/dl_ij = (w_i P_ij - [j in P(i)] / |P(i)|) / M, w_i = [|P(i)| > 0] */
      float grad = npos > 0 ? s[i * m + j] - (pos ? 1.0f / (float)npos : 0.0f) : 0.0f;
      if (j == i || clamped[i * m + j]) grad = 0.0f;
      s[i * m + j] = grad / (float)m;
    }
  }
  out->value = total / (double)m;
  if (b->need_gradient) {
    /* dL/du = (G + G^T) U / tau: two products on the host, then through the normalisation */
    if ((status = host->sgemm(0, 0, m, d, m, inv_tau, s, m, u, d, 0.0f, g, d, message, size)) != 0) goto done;
    if ((status = host->sgemm(1, 0, m, d, m, inv_tau, s, m, u, d, 1.0f, g, d, message, size)) != 0) goto done;
    for (i = 0; i < m; ++i) {
      double dot = 0.0;
      for (k = 0; k < d; ++k) dot += (double)u[i * d + k] * g[i * d + k];
      for (k = 0; k < d; ++k) out->gradient[i * d + k] = (float)((g[i * d + k] - u[i * d + k] * dot) / norm[i]);
    }
    out->gradient_size = m * d;
  }
done:
  free(u), free(norm), free(lse), free(s), free(g), free(clamped);
  return status;
}

static const cff_plugin_param supcon_params[] = {
    {"tau", CFF_PLUGIN_PARAM_NUMBER, "0.15", "temperature"},
};
static const cff_plugin_param mcl_params[] = {
    {"tau", CFF_PLUGIN_PARAM_NUMBER, "0.15", "temperature"},
    {"m0", CFF_PLUGIN_PARAM_NUMBER, "0.4", "margin of the first layer"},
    {"mL", CFF_PLUGIN_PARAM_NUMBER, "0.1", "margin of the last layer (linear schedule)"},
};
static const cff_plugin_loss losses[] = {
    {"supcon-c", "supervised contrastive loss (CFF), C-ABI plugin on libcff's host table",
     CFF_PLUGIN_INPUTS_VIEWS, supcon_params, 1, supcon_create, forward, destroy, NULL},
    {"mcl-c", "marginal contrastive loss (CFF+M, linear margin schedule), C-ABI plugin", CFF_PLUGIN_INPUTS_VIEWS,
     mcl_params, 3, mcl_create, forward, destroy, NULL},
};
static const cff_plugin_descriptor descriptor = {
    CFF_PLUGIN_ABI_VERSION, CFF_PLUGIN_KIND_C, "contrastive-c", NULL, NULL, NULL, losses, 2, NULL, 0};

CFF_PLUGIN_DEFINE(descriptor)
