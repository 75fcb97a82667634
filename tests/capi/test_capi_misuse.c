/* The misuse battery, compiled as C: NULL everywhere, freed handles, wrong sizes and shapes, NaN
 * inputs, out-of-range values, predict before training, missing and corrupt files. Every call must
 * return the documented code with a message naming the problem, and never crash.
 * Usage: test_capi_misuse SCRATCH_DIR */
#include "capi_test.h"

enum { n = 8 };
static uint8_t images[n * kPixels];
static int64_t labels[n];

static void null_arguments(void) {
  cff_options* o = tiny_options();
  cff_model* m = tiny_model();
  cff_layer_batch* lb = NULL;
  cff_dataset* ds = NULL;
  cff_provider_list* list = NULL;
  cff_batch b = make_batch(images, labels, n);
  int64_t v = 0, out[n];
  double d[4];
  float f[n * 16];
  char* text = NULL;
  const char* name = NULL;
  const int64_t ks[1] = {1};
  const cff_code bad = CFF_CODE_INVALID_ARGUMENT;

  CHECK_OK(cff_layer_batch_create(m, &b, 0, &lb));
  CHECK_OK(cff_dataset_create(&b, kClasses, &ds));
  CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_LOSS, &list));

  CHECK_CODE(cff_device_check(NULL), bad, "device is NULL");
  CHECK_CODE(cff_options_create(NULL), bad, "out_options is NULL");
  CHECK_CODE(cff_options_set_json(NULL, "{}"), bad, "options is NULL");
  CHECK_CODE(cff_options_set_json(o, NULL), bad, "json is NULL");
  CHECK_CODE(cff_options_get_json(NULL, &text), bad, "options is NULL");
  CHECK_CODE(cff_options_get_json(o, NULL), bad, "out_json is NULL");
  CHECK_CODE(cff_options_validate(NULL), bad, "options is NULL");
  CHECK_CODE(cff_options_set_arch(NULL, CFF_ARCH_MLP), bad, "options is NULL");
  CHECK_CODE(cff_options_set_algorithm(NULL, CFF_ALGORITHM_CONTRASTIVE), bad, "options is NULL");
  CHECK_CODE(cff_options_set_embed_dim(NULL, 4), bad, "options is NULL");
  CHECK_CODE(cff_options_set_num_layers(NULL, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_num_heads(NULL, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_patch_size(NULL, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_pooling(NULL, CFF_POOLING_MEAN), bad, "options is NULL");
  CHECK_CODE(cff_options_set_input_shape(NULL, 1, 1, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_num_classes(NULL, 2), bad, "options is NULL");
  CHECK_CODE(cff_options_set_loss(NULL, "mcl"), bad, "options is NULL");
  CHECK_CODE(cff_options_set_loss(o, NULL), bad, "spec is NULL");
  CHECK_CODE(cff_options_set_augment(o, NULL), bad, "spec is NULL");
  CHECK_CODE(cff_options_set_views(NULL, 2), bad, "options is NULL");
  CHECK_CODE(cff_options_set_lr(NULL, 0.1, 0), bad, "options is NULL");
  CHECK_CODE(cff_options_set_head_lr(NULL, 0.1, 0), bad, "options is NULL");
  CHECK_CODE(cff_options_set_batch_size(NULL, 2), bad, "options is NULL");
  CHECK_CODE(cff_options_set_epochs(NULL, 1, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_val_fraction(NULL, 0), bad, "options is NULL");
  CHECK_CODE(cff_options_set_seed(NULL, 1), bad, "options is NULL");
  CHECK_CODE(cff_options_set_device(o, NULL), bad, "device is NULL");
  CHECK_CODE(cff_options_set_precision(NULL, CFF_PRECISION_FLOAT32), bad, "options is NULL");
  CHECK_CODE(cff_options_set_threads(NULL, 0), bad, "options is NULL");
  CHECK_CODE(cff_options_set_normalization(NULL, NULL, NULL, 0), bad, "options is NULL");
  CHECK_CODE(cff_options_set_normalization(o, NULL, NULL, 1), bad, "mean is NULL");
  CHECK_CODE(cff_options_set_ff_prediction(NULL, CFF_FF_PREDICTION_HEAD), bad, "options is NULL");

  CHECK_CODE(cff_model_create(o, NULL), bad, "out_model is NULL");
  CHECK_CODE(cff_model_create_json(NULL, &m), bad, "json is NULL");
  CHECK_CODE(cff_model_create_json("{}", NULL), bad, "out_model is NULL");
  CHECK_CODE(cff_model_load(NULL, NULL, &m), bad, "path is NULL");
  CHECK_CODE(cff_model_load("x.cff", NULL, NULL), bad, "out_model is NULL");
  CHECK_CODE(cff_model_save(NULL, "x.cff"), bad, "model is NULL");
  CHECK_CODE(cff_model_save(m, NULL), bad, "path is NULL");
  CHECK_CODE(cff_model_load_state(NULL, "x.cff"), bad, "model is NULL");
  CHECK_CODE(cff_model_load_state(m, NULL), bad, "path is NULL");
  CHECK_CODE(cff_model_num_layers(NULL, &v), bad, "model is NULL");
  CHECK_CODE(cff_model_num_layers(m, NULL), bad, "out_num_layers is NULL");
  CHECK_CODE(cff_model_num_classes(m, NULL), bad, "out_num_classes is NULL");
  CHECK_CODE(cff_model_embed_dim(NULL, &v), bad, "model is NULL");
  CHECK_CODE(cff_model_num_parameters(NULL, &v), bad, "model is NULL");
  CHECK_CODE(cff_model_input_shape(m, &v, NULL, &v), bad, "out_height is NULL");
  CHECK_CODE(cff_model_progress(m, NULL, &v), bad, "out_stage is NULL");
  CHECK_CODE(cff_model_device(m, NULL), bad, "out_device is NULL");
  CHECK_CODE(cff_model_config_json(NULL, &text), bad, "model is NULL");
  CHECK_CODE(cff_model_set_ff_prediction(NULL, CFF_FF_PREDICTION_HEAD), bad, "model is NULL");

  CHECK_CODE(cff_layer_batch_create(NULL, &b, 1, &lb), bad, "model is NULL");
  CHECK_CODE(cff_layer_batch_create(m, NULL, 1, &lb), bad, "batch is NULL");
  CHECK_CODE(cff_layer_batch_create(m, &b, 1, NULL), bad, "out_layer_batch is NULL");
  CHECK_CODE(cff_layer_batch_next_layer(NULL, &v), bad, "layer_batch is NULL");
  CHECK_CODE(cff_layer_batch_next_layer(lb, NULL), bad, "out_layer is NULL");
  CHECK_CODE(cff_model_train_layer(NULL, lb, 0, NULL), bad, "model is NULL");
  CHECK_CODE(cff_model_train_layer(m, NULL, 0, NULL), bad, "layer_batch is NULL");
  CHECK_CODE(cff_model_step(NULL, &b, d, 4, NULL), bad, "model is NULL");
  CHECK_CODE(cff_model_step(m, NULL, d, 4, NULL), bad, "batch is NULL");
  CHECK_CODE(cff_model_step(m, &b, NULL, 4, NULL), bad, "out_losses is NULL");
  CHECK_CODE(cff_model_layer_losses(m, NULL, 0, d, 4, NULL), bad, "batch is NULL");
  CHECK_CODE(cff_model_head_step(NULL, &b, NULL), bad, "model is NULL");
  CHECK_CODE(cff_model_head_step(m, NULL, NULL), bad, "batch is NULL");
  CHECK_CODE(cff_model_head_loss(m, &b, NULL), bad, "out_loss is NULL");
  CHECK_CODE(cff_model_fit(NULL, ds, NULL, NULL, NULL, NULL), bad, "model is NULL");
  CHECK_CODE(cff_model_fit(m, NULL, NULL, NULL, NULL, NULL), bad, "dataset is NULL");

  CHECK_CODE(cff_model_predict(NULL, &b, 1, out, n, NULL, 0, NULL, 0), bad, "model is NULL");
  CHECK_CODE(cff_model_predict(m, NULL, 1, out, n, NULL, 0, NULL, 0), bad, "batch is NULL");
  CHECK_CODE(cff_model_predict(m, &b, 1, NULL, n, NULL, 0, NULL, 0), bad, "out_labels is NULL");
  CHECK_CODE(cff_model_embed(m, &b, 0, NULL, n * 16), bad, "out_embeddings is NULL");
  CHECK_CODE(cff_model_embed(NULL, &b, 0, f, n * 16), bad, "model is NULL");
  CHECK_CODE(cff_model_evaluate(m, &b, NULL, 1, d), bad, "ks is NULL");
  CHECK_CODE(cff_model_evaluate(m, &b, ks, 1, NULL), bad, "out_accuracies is NULL");
  CHECK_CODE(cff_model_evaluate_dataset(m, NULL, ks, 1, d), bad, "dataset is NULL");
  CHECK_CODE(cff_model_evaluate_dataset(NULL, ds, ks, 1, d), bad, "model is NULL");

  CHECK_CODE(cff_dataset_load_idx(NULL, "test", &ds), bad, "folder is NULL");
  CHECK_CODE(cff_dataset_load_idx(".", NULL, &ds), bad, "part is NULL");
  CHECK_CODE(cff_dataset_load_idx(".", "test", NULL), bad, "out_dataset is NULL");
  CHECK_CODE(cff_dataset_create(NULL, 2, &ds), bad, "batch is NULL");
  CHECK_CODE(cff_dataset_create(&b, 2, NULL), bad, "out_dataset is NULL");
  CHECK_CODE(cff_dataset_slice(NULL, 0, 1, &ds), bad, "dataset is NULL");
  CHECK_CODE(cff_dataset_slice(ds, 0, 1, NULL), bad, "out_dataset is NULL");
  CHECK_CODE(cff_dataset_info(NULL, &v, NULL, NULL, NULL, NULL, NULL), bad, "dataset is NULL");
  CHECK_CODE(cff_dataset_images(ds, 0, 1, CFF_DTYPE_UINT8, NULL, kPixels), bad, "out_images is NULL");
  CHECK_CODE(cff_dataset_labels(ds, 0, 1, NULL, 1), bad, "out_labels is NULL");
  CHECK_CODE(cff_dataset_class_name(ds, 0, NULL), bad, "out_name is NULL");
  CHECK_CODE(cff_dataset_class_name(NULL, 0, &name), bad, "dataset is NULL");

  CHECK_CODE(cff_provider_list_create(CFF_PROVIDER_KIND_LOSS, NULL), bad, "out_list is NULL");
  CHECK_CODE(cff_provider_list_count(NULL, &v), bad, "list is NULL");
  CHECK_CODE(cff_provider_list_count(list, NULL), bad, "out_count is NULL");
  CHECK_CODE(cff_provider_list_get(NULL, 0, &name, NULL, NULL, NULL), bad, "list is NULL");

  cff_provider_list_free(list);
  cff_dataset_free(ds);
  cff_layer_batch_free(lb);
  cff_model_free(m);
  cff_options_free(o);
}

static void freed_handles(void) {
  cff_options* o = tiny_options();
  cff_model* m = tiny_model();
  cff_model* m2 = tiny_model();
  cff_layer_batch* lb = NULL;
  cff_dataset* ds = NULL;
  cff_provider_list* list = NULL;
  cff_batch b = make_batch(images, labels, n);
  int64_t v = 0, out[n];
  const cff_code bad = CFF_CODE_INVALID_ARGUMENT;
  CHECK_OK(cff_layer_batch_create(m, &b, 0, &lb));
  CHECK_OK(cff_dataset_create(&b, kClasses, &ds));
  CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_AUGMENTATION, &list));

  /* A layer batch belongs to its model. */
  CHECK_CODE(cff_model_train_layer(m2, lb, 0, NULL), bad, "another model");

  cff_options_free(o);
  cff_layer_batch_free(lb);
  cff_dataset_free(ds);
  cff_provider_list_free(list);
  cff_model_free(m);
  CHECK_CODE(cff_options_set_seed(o, 1), bad, "not a live handle");
  CHECK_CODE(cff_model_create(o, &m2), bad, "not a live handle");
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "not a live handle");
  CHECK_CODE(cff_model_num_layers(m, &v), bad, "not a live handle");
  CHECK_CODE(cff_layer_batch_next_layer(lb, &v), bad, "not a live handle");
  CHECK_CODE(cff_model_train_layer(m2, lb, 0, NULL), bad, "not a live handle");
  CHECK_CODE(cff_dataset_info(ds, &v, NULL, NULL, NULL, NULL, NULL), bad, "not a live handle");
  CHECK_CODE(cff_provider_list_count(list, &v), bad, "not a live handle");
  /* A second free of a freed handle is ignored, not a double free. */
  cff_model_free(m);
  cff_options_free(o);
  cff_layer_batch_free(lb);
  cff_dataset_free(ds);
  cff_provider_list_free(list);
  /* Statuses are handles too: one freed twice is ignored, and reads of it say so. */
  {
    cff_status* s = cff_options_set_seed(o, 1);
    CHECK(cff_status_code(s) == bad);
    cff_status_free(s);
    CHECK(cff_status_code(s) == bad);
    CHECK(strstr(cff_status_message(s), "not a live handle") != NULL);
    cff_status_free(s);
  }
  /* Pointers the library never made. */
  CHECK_CODE(cff_model_num_layers((cff_model*)&v, &v), bad, "not a live handle");
  cff_model_free(m2);
}

static void bad_values(void) {
  cff_options* o = tiny_options();
  cff_model* m = NULL;
  cff_batch b;
  int64_t out[n], topk[n * 3], bad_labels[n], v = 0;
  float scores[n * kClasses], fimages[n * kPixels];
  double d[4], mean[2] = {0.5, 0.5}, std_[2] = {0.2, 0.0};
  int64_t ks[2] = {1, 3};
  cff_layer_batch* lb = NULL;
  cff_dataset* ds = NULL;
  const cff_code bad = CFF_CODE_INVALID_ARGUMENT;
  int i;

  /* Options: each setter checks its value; create checks combinations. */
  CHECK_CODE(cff_options_set_embed_dim(o, 0), bad, "embed_dim must be >= 1");
  CHECK_CODE(cff_options_set_num_layers(o, -1), bad, "num_layers");
  CHECK_CODE(cff_options_set_num_heads(o, 0), bad, "num_heads");
  CHECK_CODE(cff_options_set_patch_size(o, 0), bad, "patch_size");
  CHECK_CODE(cff_options_set_input_shape(o, 1, 0, 8), bad, "height");
  CHECK_CODE(cff_options_set_num_classes(o, 1), bad, "num_classes must be >= 2");
  CHECK_CODE(cff_options_set_views(o, 3), bad, "views must be 1 or 2");
  CHECK_CODE(cff_options_set_lr(o, 0.0, 0.0), bad, "lr must be > 0");
  CHECK_CODE(cff_options_set_lr(o, NAN, 0.0), bad, "lr must be > 0");
  CHECK_CODE(cff_options_set_lr(o, 0.1, -1.0), bad, "weight_decay");
  CHECK_CODE(cff_options_set_head_lr(o, INFINITY, 0.0), bad, "head lr");
  CHECK_CODE(cff_options_set_batch_size(o, 1), bad, "batch_size must be >= 2");
  CHECK_CODE(cff_options_set_epochs(o, -1, 0), bad, "epochs");
  CHECK_CODE(cff_options_set_val_fraction(o, 1.0), bad, "val_fraction");
  CHECK_CODE(cff_options_set_val_fraction(o, NAN), bad, "val_fraction");
  CHECK_CODE(cff_options_set_threads(o, -2), bad, "threads");
  CHECK_CODE(cff_options_set_arch(o, (cff_arch)7), bad, "arch 7 is unknown");
  CHECK_CODE(cff_options_set_algorithm(o, (cff_algorithm)-1), bad, "algorithm");
  CHECK_CODE(cff_options_set_precision(o, (cff_precision)3), bad, "precision");
  CHECK_CODE(cff_options_set_pooling(o, (cff_pooling)2), bad, "pooling");
  CHECK_CODE(cff_options_set_ff_prediction(o, (cff_ff_prediction)2), bad, "ff_prediction");
  CHECK_CODE(cff_options_set_normalization(o, mean, std_, 2), bad, "one value per channel");
  CHECK_CODE(cff_options_set_normalization(o, mean, std_ + 1, 1), bad, "std must be > 0");
  CHECK_CODE(cff_options_set_json(o, "{not json"), bad, "not valid JSON");
  CHECK_CODE(cff_options_set_json(o, "{\"model\": {\"depth\": 3}}"), bad, "unknown key model.depth");
  CHECK_CODE(cff_options_set_json(o, "{\"train\": {\"lr\": \"fast\"}}"), bad, "train.lr has the wrong type");
  CHECK_CODE(cff_options_set_json(o, "[1, 2]"), bad, "must be an object");
  CHECK_CODE(cff_model_create_json("{\"model\": {\"num_layers\": 0}}", &m), bad, "num_layers must be >= 1");
  CHECK_CODE(cff_threads_set(-1), bad, "threads must be >= 0");
  CHECK_CODE(cff_device_check("tpu"), bad, "unknown device 'tpu'");
  CHECK_CODE(cff_provider_list_create((cff_provider_kind)5, &((cff_provider_list*){0})), bad, "provider kind");
  {
    cff_options* v2 = tiny_options();
    CHECK_OK(cff_options_set_arch(v2, CFF_ARCH_VIT));
    CHECK_OK(cff_options_set_num_heads(v2, 3));
    CHECK_CODE(cff_options_validate(v2), bad, "not divisible by num_heads");
    CHECK_CODE(cff_model_create(v2, &m), bad, "not divisible by num_heads");
    CHECK_OK(cff_options_set_arch(v2, CFF_ARCH_MLP));
    CHECK_OK(cff_options_set_loss(v2, "nosuchloss"));
    CHECK_CODE(cff_model_create(v2, &m), bad, "unknown loss 'nosuchloss'");
    CHECK_OK(cff_options_set_loss(v2, "mcl:nokey=1"));
    CHECK_CODE(cff_model_create(v2, &m), bad, "has no parameter 'nokey'");
    CHECK_OK(cff_options_set_loss(v2, ""));
    CHECK_OK(cff_options_set_augment(v2, "warp"));
    CHECK_CODE(cff_model_create(v2, &m), bad, "warp");
    CHECK_OK(cff_options_set_augment(v2, ""));
    CHECK_OK(cff_options_set_device(v2, "cuda:7"));
    {
      cff_status* s = cff_model_create(v2, &m);
      CHECK(cff_status_code(s) == CFF_CODE_UNSUPPORTED || cff_status_code(s) == CFF_CODE_OK);
      if (!s) cff_model_free(m);
      cff_status_free(s);
    }
    cff_options_free(v2);
  }
  m = NULL;
  CHECK_OK(cff_model_create(o, &m));

  /* Batches: struct size, enums, shape, count, labels. */
  b = make_batch(images, labels, n);
  b.struct_size = 0;
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "CFF_BATCH_INIT");
  b = make_batch(images, labels, n);
  b.dtype = (cff_dtype)9;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "batch.dtype 9 is unknown");
  b = make_batch(images, labels, n);
  b.layout = (cff_layout)9;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "batch.layout 9 is unknown");
  b = make_batch(NULL, labels, n);
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "batch.images is NULL");
  b = make_batch(images, labels, 0);
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "batch.count must be >= 1");
  b = make_batch(images, labels, 1);
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "a contrastive batch needs at least 2 images");
  b = make_batch(images, labels, n);
  b.struct_size = (uint32_t)sizeof(cff_batch) + 8; /* a newer host's struct: refused */
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "CFF_BATCH_INIT");
  b = make_batch(images, labels, n);
  b.reserved = 1;
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "batch.reserved must be 0");
  b = make_batch(images, labels, n);
  b.images_length -= 1; /* one element short: refused before any read */
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "needs 512 elements");
  b = make_batch(images, labels, n);
  b.labels_length = n - 1;
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "batch.labels_length is 7 for a batch of 8 images");
  b = make_batch(images, NULL, n);
  b.labels_length = n;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "batch.labels is NULL but");
  b = make_batch(images, labels, n);
  b.height = 7;
  b.images_length = n * 7 * kSide;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "the model expects 1x8x8");
  b.height = -1;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "must be positive");
  b = make_batch(images, labels, n);
  b.count = INT64_MAX / 2;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), bad, "overflows");
  b = make_batch(images, NULL, n);
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "batch.labels is NULL");
  CHECK_CODE(cff_model_head_step(m, &b, NULL), bad, "batch.labels is NULL");
  CHECK_CODE(cff_model_evaluate(m, &b, ks, 1, d), bad, "batch.labels is NULL");
  CHECK_CODE(cff_dataset_create(&b, 2, &ds), bad, "batch.labels is NULL");
  for (i = 0; i < n; ++i) bad_labels[i] = i == 5 ? 2 : 0;
  b = make_batch(images, bad_labels, n);
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), bad, "batch.labels[5] is 2");
  bad_labels[5] = -1;
  CHECK_CODE(cff_layer_batch_create(m, &b, 0, &lb), bad, "batch.labels[5] is -1");
  CHECK_CODE(cff_dataset_create(&b, 2, &ds), bad, "batch.labels[5]");

  /* Output sizes: too small, mismatched, NULL with a length. */
  b = make_batch(images, labels, n);
  CHECK_CODE(cff_model_step(m, &b, d, 1, NULL), bad, "room for 1 values, 2 are needed");
  CHECK_CODE(cff_model_layer_losses(m, &b, 0, d, 0, NULL), bad, "room for 0");
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n - 1, NULL, 0, NULL, 0), bad, "out_labels has length 7, expected 8");
  CHECK_CODE(cff_model_predict(m, &b, 1, NULL, 0, scores, n, NULL, 0), bad, "out_scores has length 8, expected 16");
  CHECK_CODE(cff_model_predict(m, &b, 2, NULL, 0, NULL, 0, topk, n), bad, "out_topk has length 8, expected 16");
  CHECK_CODE(cff_model_predict(m, &b, 1, NULL, 0, NULL, 4, NULL, 0), bad, "out_scores is NULL but its length is 4");
  CHECK_CODE(cff_model_predict(m, &b, 3, out, n, NULL, 0, NULL, 0), bad, "k must be in 1..2, got 3");
  CHECK_CODE(cff_model_predict(m, &b, 0, out, n, NULL, 0, NULL, 0), bad, "k must be in 1..2, got 0");
  CHECK_CODE(cff_model_embed(m, &b, 0, (float*)scores, 3), bad, "out_embeddings has length 3, expected 128");
  CHECK_CODE(cff_model_embed(m, &b, 2, (float*)scores, 128), bad, "layer 2 out of 0..1");
  CHECK_CODE(cff_model_evaluate(m, &b, ks, 2, d), bad, "k must be in 1..2, got 3");
  CHECK_CODE(cff_model_evaluate(m, &b, ks, 0, d), bad, "num_ks must be >= 1");

  /* Layer batches: order and range. */
  CHECK_OK(cff_layer_batch_create(m, &b, 0, &lb));
  CHECK_CODE(cff_model_train_layer(m, lb, 1, NULL), CFF_CODE_STATE, "enters layer 0 next, not layer 1");
  CHECK_CODE(cff_model_train_layer(m, lb, 2, NULL), bad, "layer 2 out of 0..1");
  CHECK_CODE(cff_model_train_layer(m, lb, -1, NULL), bad, "layer -1 out of 0..1");
  CHECK_OK(cff_model_train_layer(m, lb, 0, NULL));
  CHECK_CODE(cff_model_train_layer(m, lb, 0, NULL), CFF_CODE_STATE, "enters layer 1 next");
  CHECK_OK(cff_model_train_layer(m, lb, 1, NULL));
  CHECK_CODE(cff_model_train_layer(m, lb, 1, NULL), CFF_CODE_STATE, "enters layer 2 next");
  CHECK_OK(cff_layer_batch_next_layer(lb, &v));
  CHECK(v == 2);
  cff_layer_batch_free(lb);

  /* NaN and Inf images are NUMERICS, and leave the model untouched. */
  for (i = 0; i < n * kPixels; ++i) fimages[i] = 0.5f;
  fimages[77] = NAN;
  b = make_batch(NULL, labels, n);
  b.images = fimages;
  b.dtype = CFF_DTYPE_FLOAT32;
  CHECK_CODE(cff_model_step(m, &b, d, 4, NULL), CFF_CODE_NUMERICS, "NaN or Inf");
  CHECK_CODE(cff_model_head_step(m, &b, NULL), CFF_CODE_NUMERICS, "NaN or Inf");
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), CFF_CODE_NUMERICS, "NaN or Inf");
  CHECK_CODE(cff_layer_batch_create(m, &b, 1, &lb), CFF_CODE_NUMERICS, "NaN or Inf");
  CHECK_CODE(cff_dataset_create(&b, 2, &ds), CFF_CODE_NUMERICS, "NaN or Inf");
  fimages[77] = INFINITY;
  CHECK_CODE(cff_model_embed(m, &b, 0, (float*)fimages, n * 16), CFF_CODE_NUMERICS, "NaN or Inf");

  /* Datasets: ranges and lengths. */
  b = make_batch(images, labels, n);
  CHECK_CODE(cff_dataset_create(&b, 1, &ds), bad, "num_classes must be >= 2");
  ds = NULL;
  CHECK_OK(cff_dataset_create(&b, 2, &ds));
  CHECK_CODE(cff_dataset_slice(ds, 5, 4, &((cff_dataset*){0})), bad, "outside the dataset's 8 images");
  CHECK_CODE(cff_dataset_slice(ds, -1, 1, &((cff_dataset*){0})), bad, "outside");
  CHECK_CODE(cff_dataset_slice(ds, 0, 0, &((cff_dataset*){0})), bad, "outside");
  CHECK_CODE(cff_dataset_images(ds, 0, 2, CFF_DTYPE_UINT8, fimages, kPixels), bad, "expected 128");
  CHECK_CODE(cff_dataset_images(ds, 0, 1, (cff_dtype)4, fimages, kPixels), bad, "dtype 4 is unknown");
  CHECK_CODE(cff_dataset_labels(ds, 7, 2, out, 2), bad, "outside");
  CHECK_CODE(cff_dataset_labels(ds, 0, 2, out, 3), bad, "out_labels has length 3, expected 2");
  CHECK_CODE(cff_dataset_class_name(ds, 2, &((const char*){0})), bad, "class 2 out of 0..1");
  CHECK_CODE(cff_model_evaluate_dataset(m, ds, ks + 1, 1, d), bad, "k must be in 1..2, got 3");
  {
    cff_provider_list* list = NULL;
    CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_LOSS, &list));
    CHECK_CODE(cff_provider_list_get(list, 99, NULL, NULL, NULL, NULL), bad, "provider 99 out of");
    CHECK_CODE(cff_provider_list_get(list, -1, NULL, NULL, NULL, NULL), bad, "provider -1 out of");
    cff_provider_list_free(list);
  }
  /* A model with other classes or shape than the data. */
  {
    cff_model* wide = NULL;
    CHECK_OK(cff_model_create_json("{\"model\": {\"embed_dim\": 4, \"num_layers\": 1, \"height\": 4, \"width\": 4,"
                                   " \"num_classes\": 2}, \"train\": {\"device\": \"cpu\"}}",
                                   &wide));
    CHECK_CODE(cff_model_fit(wide, ds, NULL, NULL, NULL, NULL), bad, "");
    cff_model_free(wide);
  }
  cff_dataset_free(ds);

  /* Backprop: no layer batches, no separate head. */
  {
    cff_model* bp = NULL;
    CHECK_OK(cff_options_set_algorithm(o, CFF_ALGORITHM_BACKPROP));
    CHECK_OK(cff_model_create(o, &bp));
    CHECK_CODE(cff_layer_batch_create(bp, &b, 0, &lb), CFF_CODE_STATE, "no layer batches");
    CHECK_CODE(cff_model_head_step(bp, &b, NULL), CFF_CODE_STATE, "BP has no separate head stage");
    CHECK_CODE(cff_model_head_loss(bp, &b, d), CFF_CODE_STATE, "BP has no separate head stage");
    cff_model_free(bp);
  }
  cff_model_free(m);
  cff_options_free(o);
}

static void predict_before_training(void) {
  /* Defined behaviour: an untrained model predicts from its initial weights, without error. */
  cff_model* m = tiny_model();
  cff_batch b = make_batch(images, labels, n);
  int64_t out[n];
  float scores[n * kClasses];
  int i;
  CHECK_OK(cff_model_predict(m, &b, 1, out, n, scores, n * kClasses, NULL, 0));
  for (i = 0; i < n; ++i) {
    CHECK(out[i] == 0 || out[i] == 1);
    CHECK(fabsf(scores[2 * i] + scores[2 * i + 1] - 1.0f) < 1e-5f);
  }
  cff_model_free(m);
}

static void files(const char* scratch) {
  char path[1024], other_path[1024];
  cff_model *m = tiny_model(), *loaded = NULL, *big = NULL;
  cff_dataset* ds = NULL;
  FILE* f;
  static unsigned char buf[1 << 20];
  size_t len;
  int64_t out[n];
  cff_batch b = make_batch(images, labels, n);

  CHECK_CODE(cff_model_load("/nonexistent/model.cff", NULL, &loaded), CFF_CODE_IO, "/nonexistent/model.cff");
  CHECK_CODE(cff_model_load_state(m, "/nonexistent/model.cff"), CFF_CODE_IO, "/nonexistent/model.cff");
  CHECK_CODE(cff_model_save(m, "/nonexistent/dir/model.cff"), CFF_CODE_IO, "/nonexistent/dir");
  CHECK_CODE(cff_dataset_load_idx("/nonexistent", "train", &ds), CFF_CODE_IO, "/nonexistent");
  CHECK_CODE(cff_dataset_load_idx(scratch, "validation", &ds), CFF_CODE_INVALID_ARGUMENT, "\"train\" or \"test\"");

  /* A file that is not a checkpoint, and a truncated checkpoint. */
  snprintf(path, sizeof path, "%s/misuse_garbage.cff", scratch);
  f = fopen(path, "wb");
  CHECK(f != NULL);
  if (f) {
    fputs("this is not a checkpoint, just text long enough to hold an envelope", f);
    fclose(f);
  }
  CHECK_CODE(cff_model_load(path, NULL, &loaded), CFF_CODE_FORMAT, path);
  snprintf(path, sizeof path, "%s/misuse_good.cff", scratch);
  CHECK_OK(cff_model_save(m, path));
  f = fopen(path, "rb");
  len = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  CHECK(len > 100);
  snprintf(other_path, sizeof other_path, "%s/misuse_truncated.cff", scratch);
  f = fopen(other_path, "wb");
  if (f) {
    fwrite(buf, 1, len / 2, f);
    fclose(f);
  }
  CHECK_CODE(cff_model_load(other_path, NULL, &loaded), CFF_CODE_FORMAT, other_path);
  /* One flipped byte in the payload: the checksum catches it. */
  buf[len - 10] ^= 0xff;
  f = fopen(other_path, "wb");
  if (f) {
    fwrite(buf, 1, len, f);
    fclose(f);
  }
  if (len < sizeof buf) CHECK_CODE(cff_model_load(other_path, NULL, &loaded), CFF_CODE_FORMAT, "");
  CHECK_CODE(cff_model_load(path, "tpu", &loaded), CFF_CODE_INVALID_ARGUMENT, "unknown device");

  /* load_state of another model's checkpoint: FORMAT, and the target still works. */
  CHECK_OK(cff_model_create_json("{\"model\": {\"embed_dim\": 32, \"num_layers\": 2, \"height\": 8, \"width\": 8,"
                                 " \"num_classes\": 2}, \"train\": {\"device\": \"cpu\"}}",
                                 &big));
  CHECK_CODE(cff_model_load_state(big, path), CFF_CODE_FORMAT, "different model");
  CHECK_OK(cff_model_predict(big, &b, 1, out, n, NULL, 0, NULL, 0));
  cff_model_free(big);
  cff_model_free(m);
}

/* Hostile inputs: a folder or a device as a model is IO (not FORMAT, not a hang); a float pixel
 * far outside 0..1 is INVALID_ARGUMENT; std at 1e-320 is refused; limits are settable by name
 * and are checked before allocation. */
static void hostile(const char* scratch) {
  cff_model *m = tiny_model(), *loaded = NULL;
  cff_options* o = tiny_options();
  float pixels[n * 64];
  int64_t i, out[n];
  const double mean[1] = {0.5}, tiny_std[1] = {1e-320};
  cff_batch b = make_batch(images, labels, n);

  CHECK_CODE(cff_model_load(scratch, NULL, &loaded), CFF_CODE_IO, "is a folder");
  CHECK_CODE(cff_model_load("/dev/zero", NULL, &loaded), CFF_CODE_IO, "not a regular file (a device)");
  for (i = 0; i < n * 64; ++i) pixels[i] = (float)images[i];  /* 0..255 given as float */
  b.dtype = CFF_DTYPE_FLOAT32;
  b.images = pixels;
  CHECK_CODE(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0), CFF_CODE_INVALID_ARGUMENT, "must lie in 0..1");
  for (i = 0; i < n * 64; ++i) pixels[i] = (float)images[i] / 255.0f;
  CHECK_OK(cff_model_predict(m, &b, 1, out, n, NULL, 0, NULL, 0));
  CHECK_CODE(cff_options_set_normalization(o, mean, tiny_std, 1), CFF_CODE_INVALID_ARGUMENT, "std[0] must be >= ");
  CHECK_CODE(cff_limit_set("max_bananas", 1), CFF_CODE_INVALID_ARGUMENT, "unknown limit");
  CHECK_CODE(cff_limit_set("max_parameters", 0), CFF_CODE_INVALID_ARGUMENT, "must be >= 1");
  CHECK_CODE(cff_limit_set(NULL, 1), CFF_CODE_INVALID_ARGUMENT, "");
  CHECK_OK(cff_limit_set("max_parameters", 100));
  CHECK_CODE(cff_model_create(o, &loaded), CFF_CODE_INVALID_ARGUMENT, "above the limit of 100");
  CHECK_OK(cff_limit_set("max_parameters", (int64_t)1 << 30));
  cff_options_free(o);
  cff_model_free(m);
}

int main(int argc, char** argv) {
  const char* scratch = argc > 1 ? argv[1] : ".";
  make_images(images, labels, n, 5);
  null_arguments();
  freed_handles();
  bad_values();
  predict_before_training();
  files(scratch);
  hostile(scratch);
  TEST_EXIT();
}
