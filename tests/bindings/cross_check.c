/* Loads models saved by the bindings and checks that C predicts what each binding recorded.
 *
 *   test_bindings_cross_c PREFIX...   (reads PREFIX.cff and PREFIX.expect)
 *
 * The probe images are the bindings' own: 8 images of 1x8x8, pixel (i, p) = (37i + 11p + ip) % 256. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cff.h>

enum { kCount = 8, kPixels = 64, kClasses = 2 };

static int fail_status(cff_status* s, const char* what, const char* prefix) {
  fprintf(stderr, "%s: %s: %s (%s)\n", prefix, what, cff_status_message(s), cff_code_name(cff_status_code(s)));
  cff_status_free(s);
  return 1;
}

static int check_one(const char* prefix) {
  char path[4096];
  uint8_t images[kCount * kPixels];
  int64_t labels[kCount], want_labels[kCount];
  float scores[kCount * kClasses];
  double want_scores[kCount * kClasses];
  cff_model* model = NULL;
  cff_status* s;
  cff_batch b = CFF_BATCH_INIT;
  FILE* f;
  int i, bad = 0;

  for (i = 0; i < kCount * kPixels; ++i) {
    const int n = i / kPixels, p = i % kPixels;
    images[i] = (uint8_t)((n * 37 + p * 11 + n * p) % 256);
  }
  snprintf(path, sizeof path, "%s.cff", prefix);
  if ((s = cff_model_load(path, "cpu", &model))) return fail_status(s, "loading", prefix);
  b.images = images;
  b.images_length = kCount * kPixels;
  b.count = kCount;
  b.channels = 1;
  b.height = 8;
  b.width = 8;
  s = cff_model_predict(model, &b, 1, labels, kCount, scores, kCount * kClasses, NULL, 0);
  cff_model_free(model);
  if (s) return fail_status(s, "predicting", prefix);

  snprintf(path, sizeof path, "%s.expect", prefix);
  if (!(f = fopen(path, "r"))) {
    perror(path);
    return 1;
  }
  if (fscanf(f, " labels") != 0) bad = 1;
  for (i = 0; i < kCount && !bad; ++i) bad = fscanf(f, "%ld", (long*)&want_labels[i]) != 1;
  if (!bad && fscanf(f, " scores") != 0) bad = 1;
  for (i = 0; i < kCount * kClasses && !bad; ++i) bad = fscanf(f, "%lf", &want_scores[i]) != 1;
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: malformed\n", path);
    return 1;
  }
  for (i = 0; i < kCount; ++i)
    if (labels[i] != want_labels[i]) {
      fprintf(stderr, "%s: image %d: C predicts %ld, the binding %ld\n", prefix, i, (long)labels[i],
              (long)want_labels[i]);
      return 1;
    }
  for (i = 0; i < kCount * kClasses; ++i)
    if (fabs(scores[i] - want_scores[i]) > 1e-6) {
      fprintf(stderr, "%s: score %d: C %.9g, the binding %.9g\n", prefix, i, scores[i], want_scores[i]);
      return 1;
    }
  printf("C: the model %s.cff predicts the same\n", prefix);
  return 0;
}

int main(int argc, char** argv) {
  int i, failures = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s PREFIX...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; ++i) failures += check_one(argv[i]);
  return failures ? 1 : 0;
}
