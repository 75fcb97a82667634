/* Thread safety, compiled as C with pthreads:
 *  1. separate models on separate threads train concurrently and each ends exactly where the
 *     same work done alone ends (no shared state between models);
 *  2. one model shared by two threads: every call is serialised by the library. All steps use the
 *     same batch, so any serial order of whole calls gives the same weights as 2N steps in a row;
 *     an unserialised interleaving would not (or would crash). Predictions run concurrently too;
 *  3. a model freed while another thread is inside calls on it: those calls finish, later ones
 *     are INVALID_ARGUMENT, nothing crashes or waits; and a model freed from inside its own
 *     progress callback lets cff_model_fit finish before it goes. */
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
    cff_status* s = cff_model_step(j->model, &b, losses, 2, NULL);
    if (s) ++j->failures;
    cff_status_free(s);
    if (j->predict) {
      s = cff_model_predict(j->model, &b, 1, out, n, NULL, 0, NULL, 0);
      if (s) ++j->failures;
      cff_status_free(s);
    }
  }
  return NULL;
}

static void scores_of(cff_model* m, float* scores) {
  cff_batch b = make_batch(images, labels, n);
  CHECK_OK(cff_model_predict(m, &b, 1, NULL, 0, scores, n * kClasses, NULL, 0));
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

/* Steps until a call fails; the failure must be "not a live handle" (the model was freed). */
struct until_freed {
  cff_model* model;
  pthread_mutex_t mutex;
  int steps, wrong, done;
};

static void* step_until_freed(void* arg) {
  struct until_freed* u = (struct until_freed*)arg;
  cff_batch b = make_batch(images, labels, n);
  double losses[2];
  for (;;) {
    cff_status* s = cff_model_step(u->model, &b, losses, 2, NULL);
    if (s) {
      if (cff_status_code(s) != CFF_CODE_INVALID_ARGUMENT || !strstr(cff_status_message(s), "not a live handle")) {
        fprintf(stderr, "step after free: %s\n", cff_status_message(s));
        ++u->wrong;
      }
      cff_status_free(s);
      pthread_mutex_lock(&u->mutex);
      u->done = 1;
      pthread_mutex_unlock(&u->mutex);
      return NULL;
    }
    pthread_mutex_lock(&u->mutex);
    ++u->steps;
    pthread_mutex_unlock(&u->mutex);
  }
}

static int32_t free_own_model(const cff_progress* p, void* user) {
  (void)p;
  cff_model** m = (cff_model**)user;
  if (*m) cff_model_free(*m); /* the fit holding it goes on; the model goes when fit returns */
  *m = NULL;
  return 0;
}

static void free_during_calls(void) {
  int round;
  for (round = 0; round < 5; ++round) {
    struct until_freed u;
    pthread_t t;
    int steps = 0;
    u.model = tiny_model();
    u.steps = u.wrong = u.done = 0;
    pthread_mutex_init(&u.mutex, NULL);
    CHECK(pthread_create(&t, NULL, step_until_freed, &u) == 0);
    for (;;) { /* free after a few steps: at a different point of a call each round */
      int done;
      pthread_mutex_lock(&u.mutex);
      steps = u.steps;
      done = u.done;
      pthread_mutex_unlock(&u.mutex);
      if (done || steps >= 2 + round) break;
    }
    CHECK(steps >= 2 + round); /* the worker did not fail before the free */
    cff_model_free(u.model);
    pthread_join(t, NULL);
    CHECK(u.wrong == 0);
    pthread_mutex_destroy(&u.mutex);
  }
  {
    cff_batch b = make_batch(images, labels, n);
    cff_dataset* ds = NULL;
    cff_model* m = tiny_model();
    cff_model* handle = m;
    int32_t stopped = 0;
    int64_t layers = 0;
    CHECK_OK(cff_dataset_create(&b, kClasses, &ds));
    CHECK_OK(cff_model_fit(m, ds, free_own_model, &handle, NULL, &stopped));
    CHECK(handle == NULL);
    CHECK_CODE(cff_model_num_layers(m, &layers), CFF_CODE_INVALID_ARGUMENT, "not a live handle");
    cff_dataset_free(ds);
  }
}

int main(void) {
  make_images(images, labels, n, 11);
  separate_models();
  shared_model();
  free_during_calls();
  TEST_EXIT();
}
