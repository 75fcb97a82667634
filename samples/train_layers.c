/* Drives layer-local training one layer at a time with cff_model_train_layer, the way a host that
 * schedules its own pipeline would: at tick t, layer l trains on batch t - l, so every layer has
 * work at every tick once the pipeline is full (the paper's Sec. 5.1 schedule, run here in one
 * thread; a host may hand each layer's calls to its own worker). Plain C99, synthetic data.
 *
 *   cff_sample_train_layers [--tiny] [--ticks N]
 *
 * Build alone against an installed libcff:
 *   cc -std=c99 train_layers.c $(pkg-config --cflags --libs cff) -o train_layers
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cff.h>

enum { kSide = 8, kPixels = kSide * kSide, kClasses = 2, kBatch = 32, kLayers = 3 };

static void check(cff_status* status, const char* what) {
  if (!status) return;
  fprintf(stderr, "error: %s: %s (%s)\n", what, cff_status_message(status), cff_code_name(cff_status_code(status)));
  cff_status_free(status);
  exit(1);
}

/* Batch number `t`: class 0 bright in the top half, class 1 in the bottom half. */
static void make_batch(uint8_t* images, int64_t* labels, uint32_t t) {
  uint32_t state = t * 2654435761u + 7u;
  int i, p;
  for (i = 0; i < kBatch; ++i) {
    labels[i] = (i + (int)t) % kClasses;
    for (p = 0; p < kPixels; ++p) {
      const int top = (p / kSide) < kSide / 2;
      state = state * 1664525u + 1013904223u;
      images[i * kPixels + p] = (uint8_t)(((labels[i] == 0) == top ? 160 : 30) + (state >> 26));
    }
  }
}

static cff_batch describe(const uint8_t* images, const int64_t* labels) {
  cff_batch b = CFF_BATCH_INIT;
  b.images = images;
  b.images_length = kBatch * kSide * kSide;
  b.labels = labels;
  b.labels_length = kBatch;
  b.count = kBatch;
  b.channels = 1;
  b.height = kSide;
  b.width = kSide;
  return b;
}

int main(int argc, char** argv) {
  int ticks = 40, i, l;
  cff_model* model = NULL;
  cff_layer_batch* in_flight[kLayers] = {NULL}; /* in_flight[l]: the batch layer l trains next */
  uint8_t images[kBatch * kPixels];
  int64_t labels[kBatch];
  double loss_sum[kLayers] = {0}, accuracy = 0;
  int loss_count[kLayers] = {0};
  const int64_t k1 = 1;

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--tiny")) ticks = 24;
    else if (!strcmp(argv[i], "--ticks") && i + 1 < argc) ticks = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--tiny] [--ticks N]\n", argv[0]);
      return 2;
    }
  }
  check(cff_model_create_json("{\"model\": {\"embed_dim\": 32, \"num_layers\": 3, \"height\": 8, \"width\": 8,"
                              " \"num_classes\": 2}, \"train\": {\"device\": \"cpu\", \"seed\": 1}}",
                              &model),
        "creating the model");

  for (i = 0; i < ticks + kLayers - 1; ++i) {
    /* Deepest layer first, so that each batch moves one layer down per tick. */
    for (l = kLayers - 1; l >= 0; --l) {
      double loss = 0;
      if (l == 0) {
        if (i >= ticks) continue; /* draining: no new batches */
        make_batch(images, labels, (uint32_t)i);
        {
          const cff_batch b = describe(images, labels);
          check(cff_layer_batch_create(model, &b, 1, &in_flight[0]), "preparing a batch");
        }
      }
      if (!in_flight[l]) continue;
      check(cff_model_train_layer(model, in_flight[l], l, &loss), "cff_model_train_layer");
      loss_sum[l] += loss;
      ++loss_count[l];
      if (l + 1 < kLayers) in_flight[l + 1] = in_flight[l];
      else cff_layer_batch_free(in_flight[l]);
      in_flight[l] = NULL;
    }
    if ((i + 1) % 8 == 0) {
      printf("tick %3d: mean layer losses", i + 1);
      for (l = 0; l < kLayers; ++l) {
        printf(" %.4f", loss_count[l] ? loss_sum[l] / loss_count[l] : 0.0);
        loss_sum[l] = 0;
        loss_count[l] = 0;
      }
      printf("\n");
    }
  }

  for (i = 0; i < ticks; ++i) {
    make_batch(images, labels, (uint32_t)i);
    {
      const cff_batch b = describe(images, labels);
      check(cff_model_head_step(model, &b, NULL), "cff_model_head_step");
    }
  }
  make_batch(images, labels, 100000u); /* a batch never trained on */
  {
    const cff_batch b = describe(images, labels);
    check(cff_model_evaluate(model, &b, &k1, 1, &accuracy), "cff_model_evaluate");
  }
  printf("accuracy on a new batch: %.1f%%\n", 100.0 * accuracy);
  cff_model_free(model);
  return accuracy < 0.9 ? 1 : 0;
}
