/* Trains CFF+M on Fashion-MNIST through libcff's C API, step by step, then reports the test
 * accuracy and predicts one image. Plain C99.
 *
 *   cff_sample_fashion_mnist [DATA_DIR] [--epochs N] [--head-epochs N] [--limit N] [--bf16]
 *   cff_sample_fashion_mnist --tiny        (synthetic 8x8 data and a tiny model, for tests)
 *
 * DATA_DIR defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
 * Build alone against an installed libcff:
 *   cc -std=c99 train_fashion_mnist.c $(pkg-config --cflags --libs cff) -o train_fashion_mnist
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cff.h>

/* Prints the failure and exits; the status is freed first. */
static void check(cff_status* status, const char* what) {
  if (!status) return;
  fprintf(stderr, "error: %s: %s (%s)\n", what, cff_status_message(status), cff_code_name(cff_status_code(status)));
  cff_status_free(status);
  exit(1);
}

static uint32_t rng_state = 12345u;
static uint32_t next_random(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

/* Synthetic stand-in for --tiny: 4 classes of 8x8 images, each bright in one band of two rows
 * (unchanged by the horizontal flips that make an MLP's two views). */
static cff_dataset* tiny_dataset(int64_t count) {
  uint8_t* images = malloc((size_t)count * 64);
  int64_t* labels = malloc((size_t)count * sizeof(int64_t));
  cff_batch batch = CFF_BATCH_INIT;
  cff_dataset* out = NULL;
  int64_t i;
  int p;
  for (i = 0; i < count; ++i) {
    labels[i] = i % 4;
    for (p = 0; p < 64; ++p) {
      const int band = (p / 8) / 2;
      images[i * 64 + p] = (uint8_t)((band == labels[i] ? 170 : 30) + next_random() % 60);
    }
  }
  batch.images = images;
  batch.images_length = count * 64;
  batch.labels = labels;
  batch.labels_length = count;
  batch.count = count;
  batch.channels = 1;
  batch.height = 8;
  batch.width = 8;
  check(cff_dataset_create(&batch, 4, &out), "creating the synthetic dataset");
  free(images);
  free(labels);
  return out;
}

int main(int argc, char** argv) {
  const char* folder = "/usr/share/datasets/fashion-mnist";
  int64_t epochs = 2, head_epochs = 2, limit = 0, batch_size = 512, embed_dim = 500, layers = 3;
  int tiny = 0, bf16 = 0, i;
  cff_dataset *train = NULL, *test = NULL;
  int64_t count, channels, height, width, classes, pixels, e, b, start, k, index;
  uint8_t *images, *batch_images;
  int64_t *labels, *batch_labels, *order;
  cff_options* options = NULL;
  cff_model* model = NULL;
  double *losses, *sums, mean = 0, var = 0;
  double accuracy[2];
  int64_t ks[2] = {1, 5};

  for (i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--tiny")) tiny = 1;
    else if (!strcmp(argv[i], "--bf16")) bf16 = 1;
    else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--head-epochs") && i + 1 < argc) head_epochs = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atoll(argv[++i]);
    else if (argv[i][0] != '-') folder = argv[i];
    else {
      fprintf(stderr, "usage: %s [DATA_DIR] [--epochs N] [--head-epochs N] [--limit N] [--bf16] [--tiny]\n", argv[0]);
      return 2;
    }
  }
  /* A host built against another ABI must not go on. */
  if (cff_abi_version() != CFF_ABI_VERSION) {
    fprintf(stderr, "error: libcff ABI %u, this program was built for %d\n", cff_abi_version(), CFF_ABI_VERSION);
    return 1;
  }
  printf("libcff %s (LibTorch %s)\n", cff_version(), cff_torch_version());

  if (tiny) {
    train = tiny_dataset(256);
    test = tiny_dataset(64);
    batch_size = 32;
    embed_dim = 16;
    layers = 2;
    epochs = 4;
    head_epochs = 8;
  } else {
    check(cff_dataset_load_idx(folder, "train", &train), "loading the training set");
    check(cff_dataset_load_idx(folder, "test", &test), "loading the test set");
  }
  if (limit > 0) {
    cff_dataset* part = NULL;
    check(cff_dataset_slice(train, 0, limit, &part), "taking the first images");
    cff_dataset_free(train);
    train = part;
  }
  check(cff_dataset_info(train, &count, &channels, &height, &width, NULL, &classes), "reading the dataset");
  printf("training set: %lld images of %lldx%lldx%lld, %lld classes\n", (long long)count, (long long)channels,
         (long long)height, (long long)width, (long long)classes);

  /* The whole training set in host memory, as a host application would hold it. */
  pixels = channels * height * width;
  images = malloc((size_t)(count * pixels));
  labels = malloc((size_t)count * sizeof(int64_t));
  order = malloc((size_t)count * sizeof(int64_t));
  batch_images = malloc((size_t)(batch_size * pixels));
  batch_labels = malloc((size_t)batch_size * sizeof(int64_t));
  if (!images || !labels || !order || !batch_images || !batch_labels) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  check(cff_dataset_images(train, 0, count, CFF_DTYPE_UINT8, images, count * pixels), "copying images");
  check(cff_dataset_labels(train, 0, count, labels, count), "copying labels");
  for (k = 0; k < count * pixels; ++k) mean += images[k] / 255.0;
  mean /= (double)(count * pixels);
  for (k = 0; k < count * pixels; ++k) var += (images[k] / 255.0 - mean) * (images[k] / 255.0 - mean);
  var /= (double)(count * pixels);

  /* CFF+M (the default algorithm and loss) on MLP[E L]. */
  check(cff_options_create(&options), "options");
  check(cff_options_set_input_shape(options, channels, height, width), "input shape");
  check(cff_options_set_num_classes(options, classes), "classes");
  check(cff_options_set_embed_dim(options, embed_dim), "embed_dim");
  check(cff_options_set_num_layers(options, layers), "layers");
  check(cff_options_set_loss(options, "mcl:m0=0.4,mL=0.1"), "loss");
  check(cff_options_set_seed(options, 0), "seed");
  check(cff_options_set_device(options, "auto"), "device");
  check(cff_options_set_batch_size(options, batch_size), "batch size");
  if (tiny) check(cff_options_set_head_lr(options, 0.01, 0.01), "head learning rate"); /* few steps */
  if (bf16) check(cff_options_set_precision(options, CFF_PRECISION_BFLOAT16), "precision");
  {
    double sd = sqrt(var);
    int64_t c;
    double* means = malloc((size_t)channels * sizeof(double));
    double* stds = malloc((size_t)channels * sizeof(double));
    for (c = 0; c < channels; ++c) {
      means[c] = mean;
      stds[c] = sd > 0 ? sd : 1.0;
    }
    check(cff_options_set_normalization(options, means, stds, channels), "normalization");
    free(means);
    free(stds);
  }
  check(cff_model_create(options, &model), "creating the model");
  cff_options_free(options);

  losses = malloc((size_t)layers * sizeof(double));
  sums = malloc((size_t)layers * sizeof(double));
  for (k = 0; k < count; ++k) order[k] = k;
  for (e = 0; e < epochs + head_epochs; ++e) {
    const int stage = e < epochs ? 1 : 2;
    int64_t batches = 0;
    for (k = 0; k < layers; ++k) sums[k] = 0;
    for (k = count - 1; k > 0; --k) { /* Fisher-Yates shuffle */
      int64_t j = (int64_t)(next_random() % (uint32_t)(k + 1)), t = order[k];
      order[k] = order[j];
      order[j] = t;
    }
    for (start = 0; start + 1 < count; start += batch_size) {
      const int64_t n = count - start < batch_size ? count - start : batch_size;
      cff_batch batch = CFF_BATCH_INIT;
      for (b = 0; b < n; ++b) {
        memcpy(batch_images + b * pixels, images + order[start + b] * pixels, (size_t)pixels);
        batch_labels[b] = labels[order[start + b]];
      }
      batch.images = batch_images;
      batch.images_length = n * pixels;
      batch.labels = batch_labels;
      batch.labels_length = n;
      batch.count = n;
      batch.channels = channels;
      batch.height = height;
      batch.width = width;
      if (n < 2) break; /* a contrastive batch of one has no pairs */
      if (stage == 1) {
        check(cff_model_step(model, &batch, losses, layers, NULL), "cff_model_step");
        for (k = 0; k < layers; ++k) sums[k] += losses[k];
      } else {
        check(cff_model_head_step(model, &batch, losses), "cff_model_head_step");
        sums[0] += losses[0];
      }
      ++batches;
    }
    printf("stage %d epoch %lld: loss", stage, (long long)(stage == 1 ? e + 1 : e + 1 - epochs));
    for (k = 0; k < (stage == 1 ? layers : 1); ++k) printf(" %.4f", sums[k] / (double)batches);
    printf("\n");
  }

  check(cff_model_evaluate_dataset(model, test, ks, classes >= 5 ? 2 : 1, accuracy), "evaluating");
  printf("test accuracy: top-1 %.2f%%", 100.0 * accuracy[0]);
  if (classes >= 5) printf(", top-5 %.2f%%", 100.0 * accuracy[1]);
  printf("\n");

  /* Predict one test image with its three best classes. */
  {
    cff_batch one = CFF_BATCH_INIT;
    int64_t label = 0, top[3], truth = 0;
    float* scores = malloc((size_t)classes * sizeof(float));
    const char *name = NULL, *truth_name = NULL;
    index = 0;
    check(cff_dataset_images(test, index, 1, CFF_DTYPE_UINT8, batch_images, pixels), "reading a test image");
    check(cff_dataset_labels(test, index, 1, &truth, 1), "reading its label");
    one.images = batch_images;
    one.images_length = pixels;
    one.count = 1;
    one.channels = channels;
    one.height = height;
    one.width = width;
    k = classes < 3 ? classes : 3;
    check(cff_model_predict(model, &one, k, &label, 1, scores, classes, top, k), "cff_model_predict");
    check(cff_dataset_class_name(test, label, &name), "class name");
    check(cff_dataset_class_name(test, truth, &truth_name), "class name");
    printf("test image %lld: predicted \"%s\" (%.1f%%), true class \"%s\"; top %lld:", (long long)index, name,
           100.0 * scores[label], truth_name, (long long)k);
    for (b = 0; b < k; ++b) {
      check(cff_dataset_class_name(test, top[b], &name), "class name");
      printf(" %s (%.1f%%)", name, 100.0 * scores[top[b]]);
    }
    printf("\n");
    free(scores);
  }

  free(losses);
  free(sums);
  free(images);
  free(labels);
  free(order);
  free(batch_images);
  free(batch_labels);
  cff_model_free(model);
  cff_dataset_free(train);
  cff_dataset_free(test);
  /* The tiny run must learn its four bands; a failure here fails the test that runs it. */
  return tiny && accuracy[0] < 0.9 ? 1 : 0;
}
