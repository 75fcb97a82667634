/* The paper's supervised and marginal contrastive losses as a C-ABI plugin: "supcon-c" and
 * "mcl-c" (linear margin schedule). Same mathematics as the built-ins "supcon" and "mcl", computed
 * in double on the host with an analytic gradient; shipped as the reference C plugin, for the
 * numerics test against the built-ins and for the plugin-overhead benchmark.
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
  double tau;
  double margin;
} contrastive;

static int32_t make(double tau, double margin, void** instance, char* message, size_t size) {
  contrastive* c;
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
  c->tau = tau;
  c->margin = margin;
  *instance = c;
  return 0;
}

static int32_t supcon_create(const cff_plugin_value* v, const cff_plugin_loss_context* ctx, void** instance,
                             char* message, size_t size) {
  (void)ctx;
  return make(v[0].number, 0.0, instance, message, size);
}

/* Linear margin schedule m_l = m0 + (mL - m0) l / (L - 1), as the built-in "mcl" default. */
static int32_t mcl_create(const cff_plugin_value* v, const cff_plugin_loss_context* ctx, void** instance,
                          char* message, size_t size) {
  const double m0 = v[1].number, mL = v[2].number;
  const double m = ctx->num_layers > 1 ? m0 + (mL - m0) * (double)ctx->layer / (double)(ctx->num_layers - 1) : m0;
  return make(v[0].number, m, instance, message, size);
}

static void destroy(void* instance) { free(instance); }

static int32_t forward(void* instance, const cff_plugin_loss_batch* b, cff_plugin_loss_output* out, char* message,
                       size_t size) {
  const contrastive* c = (const contrastive*)instance;
  const int64_t m = b->num_sets * b->n, d = b->d;
  int64_t i, j, k;
  double total = 0.0;
  double* u = (double*)malloc(sizeof(double) * (size_t)(m * d));
  double* norm = (double*)malloc(sizeof(double) * (size_t)m);
  double* s = (double*)malloc(sizeof(double) * (size_t)(m * m)); /* cosines, then dL/ds */
  double* g = (double*)calloc((size_t)(m * d), sizeof(double));
  if (!u || !norm || !s || !g) {
    free(u), free(norm), free(s), free(g);
    snprintf(message, size, "out of memory for %lld rows", (long long)m);
    return 2;
  }
  for (i = 0; i < m; ++i) { /* u_i = z_i / max(|z_i|, 1e-12), like torch's normalize */
    double n2 = 0.0;
    for (k = 0; k < d; ++k) n2 += (double)b->features[i * d + k] * b->features[i * d + k];
    norm[i] = sqrt(n2) > 1e-12 ? sqrt(n2) : 1e-12;
    for (k = 0; k < d; ++k) u[i * d + k] = b->features[i * d + k] / norm[i];
  }
  for (i = 0; i < m; ++i)
    for (j = i; j < m; ++j) {
      double dot = 0.0;
      for (k = 0; k < d; ++k) dot += u[i * d + k] * u[j * d + k];
      s[i * m + j] = s[j * m + i] = dot;
    }
  for (i = 0; i < m; ++i) {
    const int64_t yi = b->labels[i % b->n];
    double* row = s + i * m;
    double mx = -INFINITY, sum = 0.0, lse, pos_logits = 0.0;
    int64_t npos = 0;
    for (j = 0; j < m; ++j) {
      const int pos = j != i && b->labels[j % b->n] == yi;
      double v = row[j];
      /* margin on positive cosines (the paper's marginal contrastive loss); clamp_max passes no
         gradient where s + m > 1, which is marked by a NaN logit until the gradient pass */
      if (pos && c->margin > 0) v = v + c->margin > 1.0 ? NAN : v + c->margin;
      row[j] = v / c->tau;
    }
    for (j = 0; j < m; ++j) {
      const double l = isnan(row[j]) ? 1.0 / c->tau : row[j];
      if (j != i && l > mx) mx = l;
    }
    for (j = 0; j < m; ++j)
      if (j != i) sum += exp((isnan(row[j]) ? 1.0 / c->tau : row[j]) - mx);
    lse = mx + log(sum);
    for (j = 0; j < m; ++j)
      if (j != i && b->labels[j % b->n] == yi) {
        pos_logits += (isnan(row[j]) ? 1.0 / c->tau : row[j]) - lse;
        ++npos;
      }
    total += -pos_logits / (double)(npos > 0 ? npos : 1);
    /* dL/ds_ij = -(1/M) (P_ij - |P(i)| softmax_ij) / (max(|P(i)|, 1) tau) */
    for (j = 0; j < m; ++j) {
      const int pos = j != i && b->labels[j % b->n] == yi;
      const int clipped = isnan(row[j]);
      const double l = clipped ? 1.0 / c->tau : row[j];
      double grad = 0.0;
      if (j != i && !clipped)
        grad = -((pos ? 1.0 : 0.0) - (double)npos * exp(l - lse)) / (double)(npos > 0 ? npos : 1) / (double)m / c->tau;
      row[j] = grad;
    }
  }
  out->value = total / (double)m;
  if (b->need_gradient) {
    /* dL/du_i = sum_j (D_ij + D_ji) u_j, then through the normalisation */
    for (i = 0; i < m; ++i)
      for (j = 0; j < m; ++j) {
        const double w = s[i * m + j] + s[j * m + i];
        if (w != 0.0)
          for (k = 0; k < d; ++k) g[i * d + k] += w * u[j * d + k];
      }
    for (i = 0; i < m; ++i) {
      double dot = 0.0;
      for (k = 0; k < d; ++k) dot += u[i * d + k] * g[i * d + k];
      for (k = 0; k < d; ++k) out->gradient[i * d + k] = (float)((g[i * d + k] - u[i * d + k] * dot) / norm[i]);
    }
    out->gradient_size = m * d;
  }
  free(u), free(norm), free(s), free(g);
  return 0;
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
    {"supcon-c", "supervised contrastive loss (CFF), C-ABI plugin computed on the host in double",
     CFF_PLUGIN_INPUTS_VIEWS, supcon_params, 1, supcon_create, forward, destroy, NULL},
    {"mcl-c", "marginal contrastive loss (CFF+M, linear margin schedule), C-ABI plugin", CFF_PLUGIN_INPUTS_VIEWS,
     mcl_params, 3, mcl_create, forward, destroy, NULL},
};
static const cff_plugin_descriptor descriptor = {
    CFF_PLUGIN_ABI_VERSION, CFF_PLUGIN_KIND_C, "contrastive-c", NULL, NULL, NULL, losses, 2, NULL, 0};

CFF_PLUGIN_DEFINE(descriptor)
