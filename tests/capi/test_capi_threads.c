/* Thread safety, compiled as C with pthreads:
 *  1. separate models on separate threads train concurrently and each ends exactly where the
 *     same work done alone ends (no shared state between models);
 *  2. one model shared by two threads: every call is serialised by the library. All steps use the
 *     same batch, so any serial order of whole calls gives the same weights as 2N steps in a row;
 *     an unserialised interleaving would not (or would crash). Predictions run concurrently too. */
#include <pthread.h>

#include "capi_test.h"

enum { n = 16, kSteps = 12 };
static uint8_t images[n * kPixels];
static int64_t labels[n];

struct job {
  cff_model* model;
  int steps;
  int predict;
  int failures;
};

static void* run_job(void* arg) {
  struct job* j = (struct job*)arg;
  cff_batch b = make_batch(images, labels, n);
  double losses[2];
  int64_t out[n];
  int i;
  for (i = 0; i < j->steps; ++i) {
    cff_status* s = cff_step(j->model, &b, losses, 2, NULL);
    if (s) ++j->failures;
    cff_status_free(s);
    if (j->predict) {
      s = cff_predict(j->model, &b, 1, out, n, NULL, 0, NULL, 0);
      if (s) ++j->failures;
      cff_status_free(s);
    }
  }
  return NULL;
}

static void scores_of(cff_model* m, float* scores) {
  cff_batch b = make_batch(images, labels, n);
  CHECK_OK(cff_predict(m, &b, 1, NULL, 0, scores, n * kClasses, NULL, 0));
}

static void separate_models(void) {
  struct job jobs[3];
  pthread_t threads[3];
  float expected[n * kClasses], got[n * kClasses];
  cff_model* alone = tiny_model();
  int i;
  struct job solo = {NULL, kSteps, 0, 0};
  solo.model = alone;
  run_job(&solo);
  CHECK(solo.failures == 0);
  scores_of(alone, expected);
  for (i = 0; i < 3; ++i) {
    jobs[i].model = tiny_model();
    jobs[i].steps = kSteps;
    jobs[i].predict = 1;
    jobs[i].failures = 0;
    CHECK(pthread_create(&threads[i], NULL, run_job, &jobs[i]) == 0);
  }
  for (i = 0; i < 3; ++i) {
    pthread_join(threads[i], NULL);
    CHECK(jobs[i].failures == 0);
    scores_of(jobs[i].model, got);
    CHECK(memcmp(got, expected, sizeof got) == 0);
    cff_model_free(jobs[i].model);
  }
  cff_model_free(alone);
}

static void shared_model(void) {
  struct job a = {NULL, kSteps, 1, 0}, b2 = {NULL, kSteps, 0, 0}, solo = {NULL, 2 * kSteps, 0, 0};
  pthread_t ta, tb;
  float expected[n * kClasses], got[n * kClasses];
  cff_model *shared = tiny_model(), *alone = tiny_model();
  solo.model = alone;
  run_job(&solo);
  scores_of(alone, expected);
  a.model = b2.model = shared;
  CHECK(pthread_create(&ta, NULL, run_job, &a) == 0);
  CHECK(pthread_create(&tb, NULL, run_job, &b2) == 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.failures == 0 && b2.failures == 0);
  scores_of(shared, got);
  CHECK(memcmp(got, expected, sizeof got) == 0);
  cff_model_free(shared);
  cff_model_free(alone);
}

int main(void) {
  make_images(images, labels, n, 11);
  separate_models();
  shared_model();
  TEST_EXIT();
}
