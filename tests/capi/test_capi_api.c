/* Every function of cff.h on its success path, compiled as C. Argument errors are in
 * test_capi_misuse.c, threads in test_capi_threads.c. Usage: test_capi_api SCRATCH_DIR */
#include "capi_test.h"

static void test_versions(void) {
  char expected[32];
  CHECK(cff_abi_version() == CFF_ABI_VERSION);
  CHECK_OK(cff_abi_check(CFF_ABI_VERSION));
  {
    cff_status* s = cff_abi_check(CFF_ABI_VERSION - 1);
    CHECK(cff_status_code(s) == CFF_CODE_UNSUPPORTED && strstr(cff_status_message(s), "ABI version 1"));
    cff_status_free(s);
  }
  snprintf(expected, sizeof expected, "%d.%d.%d", CFF_VERSION_MAJOR, CFF_VERSION_MINOR, CFF_VERSION_PATCH);
  CHECK(strcmp(cff_version(), expected) == 0);
  CHECK(strcmp(cff_version(), CFF_VERSION_STRING) == 0);
  CHECK(strlen(cff_torch_version()) > 0);
}

static void test_status(void) {
  cff_code c;
  CHECK(cff_status_code(NULL) == CFF_CODE_OK);
  CHECK(strcmp(cff_status_message(NULL), "") == 0);
  cff_status_free(NULL);
  cff_string_free(NULL);
  /* Pinned values: a renumbering breaks every binding. */
  CHECK(CFF_CODE_OK == 0 && CFF_CODE_INVALID_ARGUMENT == 1 && CFF_CODE_IO == 2 && CFF_CODE_FORMAT == 3);
  CHECK(CFF_CODE_STATE == 4 && CFF_CODE_PLUGIN == 5 && CFF_CODE_UNSUPPORTED == 6 && CFF_CODE_NUMERICS == 7);
  CHECK(CFF_CODE_OUT_OF_MEMORY == 8 && CFF_CODE_INTERNAL == 9);
  for (c = CFF_CODE_OK; c <= CFF_CODE_INTERNAL; c = (cff_code)(c + 1))
    CHECK(strncmp(cff_code_name(c), "CFF_CODE_", 9) == 0 && strcmp(cff_code_name(c), "CFF_CODE_UNKNOWN") != 0);
  CHECK(strcmp(cff_code_name(CFF_CODE_NUMERICS), "CFF_CODE_NUMERICS") == 0);
  CHECK(strcmp(cff_code_name((cff_code)1234), "CFF_CODE_UNKNOWN") == 0);
}

static void test_runtime(void) {
  CHECK_OK(cff_threads_set(1));
  CHECK_OK(cff_device_check("cpu"));
  CHECK_OK(cff_device_check("auto"));
}

static void test_options(void) {
  cff_options* o = NULL;
  char* json = NULL;
  double mean[1] = {0.5}, std_[1] = {0.25};
  CHECK_OK(cff_options_create(&o));
  CHECK_OK(cff_options_set_arch(o, CFF_ARCH_VIT));
  CHECK_OK(cff_options_set_algorithm(o, CFF_ALGORITHM_FORWARD_FORWARD));
  CHECK_OK(cff_options_set_embed_dim(o, 32));
  CHECK_OK(cff_options_set_num_layers(o, 4));
  CHECK_OK(cff_options_set_num_heads(o, 2));
  CHECK_OK(cff_options_set_patch_size(o, 2));
  CHECK_OK(cff_options_set_pooling(o, CFF_POOLING_CLASS_TOKEN));
  CHECK_OK(cff_options_set_input_shape(o, 3, 16, 12));
  CHECK_OK(cff_options_set_num_classes(o, 5));
  CHECK_OK(cff_options_set_loss(o, "symba:alpha=2"));
  CHECK_OK(cff_options_set_augment(o, "crop:padding=2"));
  CHECK_OK(cff_options_set_views(o, 1));
  CHECK_OK(cff_options_set_lr(o, 0.01, 0.02));
  CHECK_OK(cff_options_set_head_lr(o, 0.003, 0.0));
  CHECK_OK(cff_options_set_batch_size(o, 64));
  CHECK_OK(cff_options_set_epochs(o, 3, 4));
  CHECK_OK(cff_options_set_val_fraction(o, 0.2));
  CHECK_OK(cff_options_set_seed(o, 123456789012345ull));
  CHECK_OK(cff_options_set_device(o, "cpu"));
  CHECK_OK(cff_options_set_precision(o, CFF_PRECISION_BFLOAT16));
  CHECK_OK(cff_options_set_threads(o, 2));
  CHECK_OK(cff_options_set_ff_prediction(o, CFF_FF_PREDICTION_HEAD));
  CHECK_OK(cff_options_set_input_shape(o, 1, 16, 12));
  CHECK_OK(cff_options_set_normalization(o, mean, std_, 1));
  CHECK_OK(cff_options_validate(o));
  CHECK_OK(cff_options_get_json(o, &json));
  if (json) {
    CHECK(strstr(json, "\"arch\": \"vit\"") != NULL);
    CHECK(strstr(json, "\"algorithm\": \"ff\"") != NULL);
    CHECK(strstr(json, "\"embed_dim\": 32") != NULL);
    CHECK(strstr(json, "\"num_layers\": 4") != NULL);
    CHECK(strstr(json, "\"pooling\": \"cls\"") != NULL);
    CHECK(strstr(json, "\"width\": 12") != NULL);
    CHECK(strstr(json, "\"loss\": \"symba:alpha=2\"") != NULL);
    CHECK(strstr(json, "\"augment\": \"crop:padding=2\"") != NULL);
    CHECK(strstr(json, "\"views\": 1") != NULL);
    CHECK(strstr(json, "\"head_lr\": 0.003") != NULL);
    CHECK(strstr(json, "\"weight_decay\": 0.02") != NULL);
    CHECK(strstr(json, "\"head_epochs\": 4") != NULL);
    CHECK(strstr(json, "\"val_fraction\": 0.2") != NULL);
    CHECK(strstr(json, "\"seed\": 123456789012345") != NULL);
    CHECK(strstr(json, "\"precision\": \"bf16\"") != NULL);
    CHECK(strstr(json, "\"threads\": 2") != NULL);
    CHECK(strstr(json, "\"ff_prediction\": \"head\"") != NULL);
    CHECK(strstr(json, "\"std\": [\n      0.25") != NULL);
  }
  cff_string_free(json);
  json = NULL;
  /* JSON merges over what the setters set: untouched keys keep their values. */
  CHECK_OK(cff_options_set_json(o, "{\"model\": {\"embed_dim\": 8}, \"train\": {\"epochs\": 9}}"));
  CHECK_OK(cff_options_get_json(o, &json));
  if (json) {
    CHECK(strstr(json, "\"embed_dim\": 8") != NULL);
    CHECK(strstr(json, "\"epochs\": 9") != NULL);
    CHECK(strstr(json, "\"num_layers\": 4") != NULL);
    CHECK(strstr(json, "\"arch\": \"vit\"") != NULL);
  }
  cff_string_free(json);
  CHECK_OK(cff_options_set_normalization(o, NULL, NULL, 0));
  cff_options_free(o);
  cff_options_free(NULL);
}

static void test_providers(void) {
  cff_provider_list* list = NULL;
  int64_t n = 0, i;
  int saw_mcl = 0, saw_hflip = 0;
  const char *name, *description, *params, *origin;
  CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_LOSS, &list));
  CHECK_OK(cff_provider_list_count(list, &n));
  CHECK(n >= 4);
  for (i = 0; i < n; ++i) {
    CHECK_OK(cff_provider_list_get(list, i, &name, &description, &params, &origin));
    if (strcmp(name, "mcl") == 0) {
      saw_mcl = 1;
      CHECK(strstr(params, "m0=0.4") != NULL && strstr(params, "tau=") != NULL);
      CHECK(strcmp(origin, "built-in") == 0);
      CHECK(strlen(description) > 0);
    }
  }
  CHECK_OK(cff_provider_list_get(list, 0, NULL, NULL, NULL, NULL));
  cff_provider_list_free(list);
  CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_AUGMENTATION, &list));
  CHECK_OK(cff_provider_list_count(list, &n));
  for (i = 0; i < n; ++i) {
    CHECK_OK(cff_provider_list_get(list, i, &name, NULL, &params, NULL));
    if (strcmp(name, "hflip") == 0) saw_hflip = 1;
  }
  cff_provider_list_free(list);
  cff_provider_list_free(NULL);
  CHECK(saw_mcl && saw_hflip);
}

static int stop_after_three(const cff_progress* p, void* user_data) {
  int* calls = (int*)user_data;
  CHECK(p->struct_size >= sizeof(cff_progress));
  CHECK(p->message != NULL && strstr(p->message, "stage 1") != NULL);
  CHECK(p->num_losses == 2 && p->losses != NULL);
  return ++*calls >= 3;
}

struct fit_log {
  int batches, epochs, stage2;
  cff_model* model;
};

static int log_progress(const cff_progress* p, void* user_data) {
  struct fit_log* log = (struct fit_log*)user_data;
  int64_t layers = 0;
  if (p->end_of_epoch) {
    ++log->epochs;
    CHECK(p->val_losses != NULL && p->num_val_losses == p->num_losses);
    CHECK(strstr(p->message, "done") != NULL);
  } else {
    ++log->batches;
    CHECK(p->batch >= 1 && p->batch <= p->batches && p->val_losses == NULL);
  }
  if (p->stage == 2) {
    ++log->stage2;
    CHECK(p->num_losses == 1);
  }
  /* Calls on the same model from its own callback are refused instead of deadlocking. */
  CHECK_CODE(cff_model_num_layers(log->model, &layers), CFF_CODE_STATE, "progress callback");
  return 0;
}

static void test_model(const char* scratch) {
  enum { n = 64 };
  static uint8_t images[n * kPixels];
  static float fimages[n * kPixels], embeddings[n * 16];
  static float scores[n * kClasses], scores_f[n * kClasses];
  int64_t labels[n], predicted[n], predicted_f[n], topk[n * 2], ks[2] = {1, 2};
  double losses[4], loss = -1, accuracy[2], first_loss = 0, last_loss = 0;
  int64_t count = 0, value = 0, c = 0, h = 0, w = 0, stage = 0, epoch = 0, i;
  int32_t stopped = -1;
  int calls = 0;
  char *text = NULL, path[1024];
  cff_model *m = tiny_model(), *loaded = NULL, *other = NULL;
  cff_layer_batch *lb = NULL, *lb2 = NULL;
  cff_dataset *ds = NULL, *part = NULL;
  cff_batch batch;
  struct fit_log log = {0, 0, 0, NULL};

  make_images(images, labels, n, 1);
  batch = make_batch(images, labels, n);

  CHECK_OK(cff_model_num_layers(m, &value));
  CHECK(value == 2);
  CHECK_OK(cff_model_num_classes(m, &value));
  CHECK(value == 2);
  CHECK_OK(cff_model_num_parameters(m, &value));
  CHECK(value > 0);
  CHECK_OK(cff_model_embed_dim(m, &value));
  CHECK(value == 16);
  CHECK_OK(cff_model_input_shape(m, &c, &h, &w));
  CHECK(c == 1 && h == kSide && w == kSide);
  CHECK_OK(cff_model_progress(m, &stage, &epoch));
  CHECK(stage == 1 && epoch == 0);
  CHECK_OK(cff_model_device(m, &text));
  CHECK(text && strcmp(text, "cpu") == 0);
  cff_string_free(text);
  CHECK_OK(cff_model_config_json(m, &text));
  CHECK(text && strstr(text, "\"embed_dim\": 16") != NULL && strstr(text, "\"seed\": 7") != NULL);
  cff_string_free(text);
  CHECK_OK(cff_model_set_ff_prediction(m, CFF_FF_PREDICTION_GOODNESS));

  /* Stage 1 with cff_model_step: the contrastive loss of the last layer goes down. */
  for (i = 0; i < 30; ++i) {
    count = 0;
    CHECK_OK(cff_model_step(m, &batch, losses, 4, &count));
    CHECK(count == 2 && isfinite(losses[0]) && isfinite(losses[1]));
    if (i == 0) first_loss = losses[1];
    last_loss = losses[1];
  }
  CHECK(last_loss < first_loss);
  CHECK_OK(cff_model_layer_losses(m, &batch, 0, losses, 2, &count));
  CHECK(count == 2);
  CHECK_OK(cff_model_layer_losses(m, &batch, 1, losses, 2, NULL));

  /* Stage 1 one layer at a time, two batches interleaved as a pipeline would. */
  CHECK_OK(cff_layer_batch_create(m, &batch, 1, &lb));
  CHECK_OK(cff_layer_batch_next_layer(lb, &value));
  CHECK(value == 0);
  CHECK_OK(cff_model_train_layer(m, lb, 0, &loss));
  CHECK(isfinite(loss) && loss > 0);
  CHECK_OK(cff_layer_batch_create(m, &batch, 0, &lb2));
  CHECK_OK(cff_model_train_layer(m, lb2, 0, NULL));
  CHECK_OK(cff_model_train_layer(m, lb, 1, &loss));
  CHECK_OK(cff_layer_batch_next_layer(lb, &value));
  CHECK(value == 2);
  CHECK_OK(cff_model_train_layer(m, lb2, 1, NULL));
  cff_layer_batch_free(lb);
  cff_layer_batch_free(lb2);
  cff_layer_batch_free(NULL);

  /* Stage 2. */
  for (i = 0; i < 60; ++i) CHECK_OK(cff_model_head_step(m, &batch, i ? NULL : &first_loss));
  CHECK_OK(cff_model_head_loss(m, &batch, &last_loss));
  if (getenv("CFF_TEST_VERBOSE")) printf("head loss %g -> %g\n", first_loss, last_loss);
  CHECK(last_loss < first_loss);

  /* Predictions: uint8 NCHW, the same images as float32 and as NHWC (1 channel: same bytes). */
  CHECK_OK(cff_model_predict(m, &batch, 2, predicted, n, scores, n * kClasses, topk, n * 2));
  for (i = 0; i < n; ++i) {
    CHECK(topk[i * 2] == predicted[i] && topk[i * 2 + 1] == 1 - predicted[i]);
    CHECK(fabsf(scores[i * 2] + scores[i * 2 + 1] - 1.0f) < 1e-5f);
    CHECK(scores[i * 2 + predicted[i]] >= scores[i * 2 + 1 - predicted[i]]);
  }
  for (i = 0; i < n * kPixels; ++i) fimages[i] = (float)images[i] / 255.0f;
  batch.dtype = CFF_DTYPE_FLOAT32;
  batch.images = fimages;
  CHECK_OK(cff_model_predict(m, &batch, 1, predicted_f, n, scores_f, n * kClasses, NULL, 0));
  for (i = 0; i < n; ++i) CHECK(predicted_f[i] == predicted[i] && fabsf(scores_f[i * 2] - scores[i * 2]) < 1e-5f);
  batch.dtype = CFF_DTYPE_UINT8;
  batch.images = images;
  batch.layout = CFF_LAYOUT_NHWC;
  CHECK_OK(cff_model_predict(m, &batch, 1, predicted_f, n, NULL, 0, NULL, 0));
  for (i = 0; i < n; ++i) CHECK(predicted_f[i] == predicted[i]);
  batch.layout = CFF_LAYOUT_NCHW;

  CHECK_OK(cff_model_evaluate(m, &batch, ks, 2, accuracy));
  if (getenv("CFF_TEST_VERBOSE")) printf("accuracy %g %g\n", accuracy[0], accuracy[1]);
  CHECK(accuracy[0] > 0.9 && accuracy[1] == 1.0);

  CHECK_OK(cff_model_embed(m, &batch, 1, embeddings, n * 16));
  for (i = 0; i < n * 16; ++i) CHECK(embeddings[i] >= 0); /* MLP layers end in ReLU */
  CHECK_OK(cff_model_embed(m, &batch, 0, embeddings, n * 16));

  /* Datasets. */
  CHECK_OK(cff_dataset_create(&batch, kClasses, &ds));
  CHECK_OK(cff_dataset_info(ds, &count, &c, &h, &w, NULL, &value));
  CHECK(count == n && c == 1 && h == kSide && w == kSide && value == kClasses);
  CHECK_OK(cff_dataset_info(ds, NULL, NULL, NULL, NULL, NULL, NULL));
  CHECK_OK(cff_model_evaluate_dataset(m, ds, ks, 1, accuracy));
  CHECK(accuracy[0] > 0.9);
  CHECK_OK(cff_dataset_slice(ds, 10, 5, &part));
  CHECK_OK(cff_dataset_info(part, &count, NULL, NULL, NULL, NULL, NULL));
  CHECK(count == 5);
  {
    uint8_t row[5 * kPixels];
    float frow[kPixels];
    int64_t lab[5];
    const char* name = NULL;
    cff_dtype dtype = CFF_DTYPE_FLOAT32;
    CHECK_OK(cff_dataset_images(part, 0, 5, CFF_DTYPE_UINT8, row, 5 * kPixels));
    CHECK(memcmp(row, images + 10 * kPixels, sizeof row) == 0);
    CHECK_OK(cff_dataset_images(part, 1, 1, CFF_DTYPE_FLOAT32, frow, kPixels));
    CHECK(fabsf(frow[3] - images[11 * kPixels + 3] / 255.0f) < 1e-6f);
    CHECK_OK(cff_dataset_labels(part, 0, 5, lab, 5));
    CHECK(lab[0] == labels[10] && lab[4] == labels[14]);
    CHECK_OK(cff_dataset_class_name(part, 1, &name));
    CHECK(name && strcmp(name, "1") == 0);
    CHECK_OK(cff_dataset_info(part, NULL, NULL, NULL, NULL, &dtype, NULL));
    CHECK(dtype == CFF_DTYPE_UINT8);
  }
  cff_dataset_free(part);

  /* Save, load, load_state: identical predictions. */
  snprintf(path, sizeof path, "%s/capi_api.cff", scratch);
  CHECK_OK(cff_model_save(m, path));
  CHECK_OK(cff_model_load(path, "cpu", &loaded));
  CHECK_OK(cff_model_predict(loaded, &batch, 1, predicted_f, n, scores_f, n * kClasses, NULL, 0));
  for (i = 0; i < n; ++i) CHECK(predicted_f[i] == predicted[i] && scores_f[i * 2] == scores[i * 2]);
  cff_model_free(loaded);
  loaded = NULL;
  CHECK_OK(cff_model_load(path, NULL, &loaded));
  cff_model_free(loaded);
  other = tiny_model();
  CHECK_OK(cff_model_load_state(other, path));
  CHECK_OK(cff_model_predict(other, &batch, 1, NULL, 0, scores_f, n * kClasses, NULL, 0));
  for (i = 0; i < n * kClasses; ++i) CHECK(scores_f[i] == scores[i]);

  /* fit: a callback that stops after three batches, then a full run with the log. */
  CHECK_OK(cff_model_fit(other, ds, stop_after_three, &calls, NULL, &stopped));
  CHECK(stopped == 1 && calls == 3);
  cff_model_free(other);
  other = tiny_model();
  log.model = other;
  snprintf(path, sizeof path, "%s/capi_fit.cff", scratch);
  CHECK_OK(cff_model_fit(other, ds, log_progress, &log, path, &stopped));
  CHECK(stopped == 0 && log.epochs == 2 && log.batches >= 6 && log.stage2 > 0);
  CHECK_OK(cff_model_progress(other, &stage, &epoch));
  CHECK(stage == 3);
  CHECK_OK(cff_model_load(path, "", &loaded));
  CHECK_OK(cff_model_progress(loaded, &stage, &epoch));
  CHECK(stage == 3);
  CHECK_OK(cff_model_fit(loaded, ds, NULL, NULL, NULL, NULL)); /* finished: nothing left to do */
  cff_model_free(loaded);
  cff_model_free(other);

  cff_dataset_free(ds);
  cff_dataset_free(NULL);
  cff_model_free(m);
  cff_model_free(NULL);
}

static void test_json_and_backprop(void) {
  enum { n = 16 };
  uint8_t images[n * kPixels];
  int64_t labels[n], count = 0;
  double losses[3];
  cff_model* m = NULL;
  cff_batch batch;
  make_images(images, labels, n, 3);
  batch = make_batch(images, labels, n);
  CHECK_OK(cff_model_create_json("{\"model\": {\"embed_dim\": 8, \"num_layers\": 3, \"height\": 8, \"width\": 8,"
                                 " \"num_classes\": 2}, \"train\": {\"algorithm\": \"bp\", \"device\": \"cpu\","
                                 " \"threads\": 1}}",
                                 &m));
  CHECK_OK(cff_model_step(m, &batch, losses, 1, &count));
  CHECK(count == 1 && losses[0] > 0);
  cff_model_free(m);
  /* FF: goodness and one-pass head predictions. */
  m = NULL;
  CHECK_OK(cff_model_create_json("{\"model\": {\"embed_dim\": 8, \"num_layers\": 2, \"height\": 8, \"width\": 8,"
                                 " \"num_classes\": 2}, \"train\": {\"algorithm\": \"ff\", \"device\": \"cpu\"}}",
                                 &m));
  CHECK_OK(cff_model_step(m, &batch, losses, 3, &count));
  CHECK(count == 2);
  {
    int64_t predicted[n];
    CHECK_OK(cff_model_predict(m, &batch, 1, predicted, n, NULL, 0, NULL, 0));
    CHECK_OK(cff_model_set_ff_prediction(m, CFF_FF_PREDICTION_HEAD));
    CHECK_OK(cff_model_predict(m, &batch, 1, predicted, n, NULL, 0, NULL, 0));
  }
  cff_model_free(m);
  m = NULL;
  CHECK_OK(cff_model_create(NULL, &m)); /* all defaults: MLP[500 3] on 28x28 */
  CHECK_OK(cff_model_num_layers(m, &count));
  CHECK(count == 3);
  cff_model_free(m);
}

/* cff_model_set_parallel: bad JSON is named; the in-process pipeline trains what fit() trains
 * sequentially (1 thread: the very same scores). */
static void test_parallel(void) {
  enum { n = 64 };
  uint8_t images[n * kPixels];
  int64_t labels[n];
  float seq[n * 2], piped[n * 2];
  cff_model *a = NULL, *b = NULL;
  cff_dataset* ds = NULL;
  cff_batch batch;
  const char* config = "{\"model\": {\"embed_dim\": 8, \"num_layers\": 3, \"height\": 8, \"width\": 8,"
                       " \"num_classes\": 2}, \"train\": {\"device\": \"cpu\", \"threads\": 1, \"blas_threads\": 1,"
                       " \"precision\": \"fp32\", \"batch_size\": 16, \"epochs\": 2, \"head_epochs\": 1}}";
  int i;
  make_images(images, labels, n, 5);
  batch = make_batch(images, labels, n);
  CHECK_OK(cff_dataset_create(&batch, 2, &ds));
  CHECK_OK(cff_model_create_json(config, &a));
  CHECK_OK(cff_model_create_json(config, &b));
  CHECK_CODE(cff_model_set_parallel(b, "{\"pipeline\": true, \"stage\": 2}"), CFF_CODE_INVALID_ARGUMENT,
             "unknown key parallel.stage");
  CHECK_CODE(cff_model_set_parallel(b, "{\"queue_depth\": 0}"), CFF_CODE_INVALID_ARGUMENT, "queue depth");
  CHECK_CODE(cff_model_set_parallel(b, "{\"mode\": \"both\"}"), CFF_CODE_INVALID_ARGUMENT,
             "must be one of none, pipeline, data, pipeline,data");
  CHECK_CODE(cff_model_set_parallel(NULL, "{}"), CFF_CODE_INVALID_ARGUMENT, "model is NULL");
  CHECK_OK(cff_model_set_parallel(b, "{\"pipeline\": true, \"stages\": 2, \"queue_depth\": 1}"));
  CHECK_OK(cff_model_fit(a, ds, NULL, NULL, NULL, NULL));
  CHECK_OK(cff_model_fit(b, ds, NULL, NULL, NULL, NULL));
  CHECK_OK(cff_model_predict(a, &batch, 1, NULL, 0, seq, n * 2, NULL, 0));
  CHECK_OK(cff_model_predict(b, &batch, 1, NULL, 0, piped, n * 2, NULL, 0));
  for (i = 0; i < n * 2; ++i) CHECK(seq[i] == piped[i]);
  CHECK_OK(cff_model_set_parallel(b, NULL)); /* back to the defaults */
  cff_model_free(a);
  cff_model_free(b);
  cff_dataset_free(ds);
}

static void test_idx(const char* folder) {
  cff_dataset* ds = NULL;
  int64_t count = 0, c = 0, h = 0, w = 0, classes = 0;
  const char* name = NULL;
  CHECK_OK(cff_dataset_load_idx(folder, "test", &ds));
  CHECK_OK(cff_dataset_info(ds, &count, &c, &h, &w, NULL, &classes));
  CHECK(count > 0 && c == 1 && h > 0 && w > 0 && classes >= 2);
  CHECK_OK(cff_dataset_class_name(ds, 0, &name));
  CHECK(name != NULL);
  cff_dataset_free(ds);
}

/* What a step-by-step host needs (cff.h: lr scale, schedule, batch iterator, normalisation). */
static int log_calls;
static void count_log(int32_t level, const char* message, void* user_data) {
  (void)level;
  (void)message;
  (void)user_data;
  ++log_calls;
}

static void test_step_host(void) {
  enum { n = 10, batch = 4 };
  uint8_t images[n * kPixels], seen_images[batch * kPixels], before[kPixels];
  int64_t labels[n], out_labels[batch], count = -1, epoch = -1, seen[n], loaded = -1, failed = -1;
  double mean[1], std[1], scale = -1, want_mean = 0, want_sq = 0, losses[2];
  float scores_a[n * kClasses], scores_b[n * kClasses];
  cff_dataset* ds = NULL;
  cff_batch_iterator* it = NULL;
  cff_model* m;
  cff_batch b;
  int i, e, total, same = 1;
  make_images(images, labels, n, 11);
  b = make_batch(images, labels, n);
  CHECK_OK(cff_dataset_create(&b, kClasses, &ds));

  /* normalisation: the plain mean and (sample) standard deviation of the pixels / 255 */
  for (i = 0; i < n * kPixels; ++i) want_mean += images[i] / 255.0 / (n * kPixels);
  for (i = 0; i < n * kPixels; ++i) want_sq += pow(images[i] / 255.0 - want_mean, 2) / (n * kPixels - 1);
  CHECK_OK(cff_dataset_normalization(ds, mean, std, 1));
  CHECK(fabs(mean[0] - want_mean) < 1e-9 && fabs(std[0] - sqrt(want_sq)) < 1e-9);
  CHECK_CODE(cff_dataset_normalization(ds, mean, std, 3), CFF_CODE_INVALID_ARGUMENT, "the dataset has 1");

  /* batches: every image once per epoch (4 + 4 + 2, then 0), epochs shuffled differently */
  CHECK_OK(cff_batch_iterator_create(ds, batch, 5, 1, &it));
  cff_dataset_free(ds); /* the iterator keeps its own reference */
  for (e = 0; e < 2; ++e) {
    for (i = 0; i < n; ++i) seen[i] = 0;
    total = 0;
    for (;;) {
      CHECK_OK(cff_batch_iterator_next(it, CFF_DTYPE_UINT8, seen_images, batch * kPixels, out_labels, batch, &count,
                                       &epoch));
      CHECK(epoch == e);
      if (count == 0) break;
      for (i = 0; i < count; ++i) {
        int j, k = -1;
        for (j = 0; j < n && k < 0; ++j)
          if (memcmp(seen_images + i * kPixels, images + j * kPixels, kPixels) == 0 && !seen[j]) k = j;
        CHECK(k >= 0 && out_labels[i] == labels[k]);
        if (k >= 0) seen[k] = 1;
        if (e == 0 && total + i == 0) memcpy(before, seen_images, kPixels);
        if (e == 1 && total + i == 0) same = memcmp(before, seen_images, kPixels) == 0;
      }
      total += (int)count;
    }
    CHECK(total == n);
  }
  CHECK(!same); /* epoch 1's first image differs from epoch 0's (seeded shuffles) */
  CHECK_CODE(cff_batch_iterator_next(it, CFF_DTYPE_UINT8, seen_images, batch * kPixels - 1, out_labels, batch, &count,
                                     NULL),
             CFF_CODE_INVALID_ARGUMENT, "a batch needs 256");
  cff_batch_iterator_free(it);
  cff_batch_iterator_free(it); /* freed twice: ignored */
  cff_batch_iterator_free(NULL);

  /* lr scale 0: a step computes losses but changes no weight; 1 trains again */
  m = tiny_model();
  CHECK_OK(cff_model_predict(m, &b, 1, NULL, 0, scores_a, n * kClasses, NULL, 0));
  CHECK_OK(cff_model_set_lr_scale(m, 0.0));
  CHECK_OK(cff_model_step(m, &b, losses, 2, NULL));
  CHECK_OK(cff_model_predict(m, &b, 1, NULL, 0, scores_b, n * kClasses, NULL, 0));
  CHECK(memcmp(scores_a, scores_b, sizeof scores_a) == 0);
  CHECK_OK(cff_model_set_lr_scale(m, 1.0));
  CHECK_OK(cff_model_step(m, &b, losses, 2, NULL));
  CHECK_OK(cff_model_predict(m, &b, 1, NULL, 0, scores_b, n * kClasses, NULL, 0));
  CHECK(memcmp(scores_a, scores_b, sizeof scores_a) != 0);
  CHECK_CODE(cff_model_set_lr_scale(m, -1.0), CFF_CODE_INVALID_ARGUMENT, "lr scale");
  cff_model_free(m);

  /* the schedule helper: cosine from 1 to 0, constant 1; AUTO is refused */
  CHECK_OK(cff_lr_schedule_scale(CFF_LR_SCHEDULE_COSINE, 0, 10, &scale));
  CHECK(scale == 1.0);
  CHECK_OK(cff_lr_schedule_scale(CFF_LR_SCHEDULE_COSINE, 5, 10, &scale));
  CHECK(fabs(scale - 0.5) < 1e-12);
  CHECK_OK(cff_lr_schedule_scale(CFF_LR_SCHEDULE_COSINE, 10, 10, &scale));
  CHECK(fabs(scale) < 1e-12);
  CHECK_OK(cff_lr_schedule_scale(CFF_LR_SCHEDULE_CONSTANT, 7, 10, &scale));
  CHECK(scale == 1.0);
  CHECK_CODE(cff_lr_schedule_scale(CFF_LR_SCHEDULE_AUTO, 0, 10, &scale), CFF_CODE_INVALID_ARGUMENT, "AUTO");
  CHECK_CODE(cff_lr_schedule_scale(CFF_LR_SCHEDULE_COSINE, 11, 10, &scale), CFF_CODE_INVALID_ARGUMENT, "step 11");

  /* discovery is explicit and idempotent; the log callback can be installed and removed */
  CHECK_OK(cff_plugins_discover(&loaded, &failed));
  CHECK(loaded >= 0 && failed >= 0);
  CHECK_OK(cff_plugins_discover(NULL, NULL));
  cff_log_set(count_log, NULL);
  cff_log_set(NULL, NULL);
  CHECK(log_calls == 0);
}

int main(int argc, char** argv) {
  const char* scratch = argc > 1 ? argv[1] : ".";
  test_versions();
  test_status();
  test_runtime();
  test_options();
  test_providers();
  test_model(scratch);
  test_json_and_backprop();
  test_step_host();
  test_parallel();
  if (argc > 2) test_idx(argv[2]);
  TEST_EXIT();
}
