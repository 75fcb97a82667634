// cff.h: cff_model and cff_layer_batch: create, load, save, queries, stage 1 and 2, fit, inference.
#include "boundary.hpp"

using namespace cff_c;

extern "C" {

// ==== Models ============================================================================================

cff_status* cff_model_create(const cff_options* options, cff_model** out_model) {
  CFF_C_TRY
  check_out(out_model, "out_model");
  const cff::Config config = options ? check_options(options)->config : cff::Config{};
  *out_model = publish(new cff_model(cff::Trainer(config)), Kind::kModel);
  CFF_C_CATCH
}

cff_status* cff_model_create_json(const char* json, cff_model** out_model) {
  CFF_C_TRY
  check_string(json, "json");
  check_out(out_model, "out_model");
  *out_model = publish(new cff_model(cff::Trainer(cff::Config::from_json(json))), Kind::kModel);
  CFF_C_CATCH
}

void cff_model_free(cff_model* model) { release(model, Kind::kModel); }

cff_status* cff_model_load(const char* path, const char* device, cff_model** out_model) {
  CFF_C_TRY
  check_string(path, "path");
  check_out(out_model, "out_model");
  const std::string dev = device ? device : "";
  if (!dev.empty()) cff::resolve_device(dev);  // a bad device is the caller's error, not the file's
  *out_model = publish(new cff_model(cff::Trainer::load(path, dev)), Kind::kModel);
  CFF_C_CATCH
}

cff_status* cff_model_save(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  model->trainer.save(check_string(path, "path"));
  CFF_C_CATCH
}

cff_status* cff_model_export_torchscript(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  check_string(path, "path");
  cff::export_torchscript(model->trainer, path);
  CFF_C_CATCH
}

cff_status* cff_model_load_state(cff_model* model, const char* path) {
  CFF_C_TRY
  check_model(model);
  model->trainer.load_state(check_string(path, "path"));
  CFF_C_CATCH
}

// The int64_t queries of a model: one shape, one definition each.
#define CFF_MODEL_QUERY(name, expr)                                  \
  cff_status* cff_model_##name(cff_model* model, int64_t* out_##name) { \
    CFF_C_TRY                                                        \
    check_model(model);                                              \
    *check_out(out_##name, "out_" #name) = (expr);                   \
    CFF_C_CATCH                                                      \
  }

CFF_MODEL_QUERY(num_layers, model->trainer.num_layers())
CFF_MODEL_QUERY(num_classes, num_classes(model))
CFF_MODEL_QUERY(embed_dim, model->trainer.config().model.embed_dim)
CFF_MODEL_QUERY(num_parameters, model->trainer.config().parameter_count())

cff_status* cff_model_input_shape(cff_model* model, int64_t* out_channels, int64_t* out_height, int64_t* out_width) {
  CFF_C_TRY
  check_model(model);
  check_out(out_channels, "out_channels");
  check_out(out_height, "out_height");
  check_out(out_width, "out_width");
  const auto m = model->trainer.config().model;
  *out_channels = m.channels;
  *out_height = m.height;
  *out_width = m.width;
  CFF_C_CATCH
}

cff_status* cff_model_progress(cff_model* model, int64_t* out_stage, int64_t* out_epoch) {
  CFF_C_TRY
  check_model(model);
  check_out(out_stage, "out_stage");
  check_out(out_epoch, "out_epoch");
  *out_stage = model->trainer.stage();
  *out_epoch = model->trainer.epoch();
  CFF_C_CATCH
}

cff_status* cff_model_device(cff_model* model, char** out_device) {
  CFF_C_TRY
  check_model(model);
  check_out(out_device, "out_device");  // before the copy: the right side of `=` runs first
  *out_device = copy_string(model->trainer.device().str());
  CFF_C_CATCH
}

cff_status* cff_model_config_json(cff_model* model, char** out_json) {
  CFF_C_TRY
  check_model(model);
  check_out(out_json, "out_json");
  *out_json = copy_string(model->trainer.config().to_json());
  CFF_C_CATCH
}

cff_status* cff_model_set_lr_scale(cff_model* model, double scale) {
  CFF_C_TRY
  check_model(model)->trainer.set_lr_scale(scale);
  CFF_C_CATCH
}

cff_status* cff_lr_schedule_scale(int32_t schedule, int64_t step, int64_t total_steps, double* out_scale) {
  CFF_C_TRY
  check_out(out_scale, "out_scale");
  const int s = check_enum(schedule, CFF_LR_SCHEDULE_COSINE, "schedule");
  if (s == CFF_LR_SCHEDULE_AUTO) fail("schedule AUTO depends on the algorithm: pass CONSTANT or COSINE");
  *out_scale = cff::lr_scale_at(s == CFF_LR_SCHEDULE_COSINE ? cff::LrSchedule::kCosine : cff::LrSchedule::kConstant,
                                step, total_steps);
  CFF_C_CATCH
}

cff_status* cff_model_set_ff_prediction(cff_model* model, cff_ff_prediction mode) {
  CFF_C_TRY
  check_model(model);
  model->trainer.set_ff_prediction(cff::FFPrediction((check_enum(mode, CFF_FF_PREDICTION_HEAD, "ff_prediction"))));
  CFF_C_CATCH
}

// ==== Stage 1 ===========================================================================================

cff_status* cff_layer_batch_create(cff_model* model, const cff_batch* batch, int32_t augment,
                                   cff_layer_batch** out_layer_batch) {
  CFF_C_TRY
  check_model(model);
  check_out(out_layer_batch, "out_layer_batch");
  CFF_CHECK_CODE(model->trainer.config().train.algorithm != cff::Algorithm::kBackprop, ErrorCode::kState,
                 "a backprop model trains end to end and has no layer batches; use cff_model_step");
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  auto lb = std::make_unique<cff_layer_batch>();
  lb->owner = model;
  lb->batch = model->trainer.prepare(images, labels, augment != 0);
  *out_layer_batch = publish(lb.release(), Kind::kLayerBatch);
  CFF_C_CATCH
}

void cff_layer_batch_free(cff_layer_batch* layer_batch) { release(layer_batch, Kind::kLayerBatch); }

cff_status* cff_layer_batch_next_layer(const cff_layer_batch* layer_batch, int64_t* out_layer) {
  CFF_C_TRY
  auto* lb = const_cast<cff_layer_batch*>(check_handle(layer_batch, Kind::kLayerBatch, "layer_batch"));
  check_out(out_layer, "out_layer");
  std::lock_guard<std::mutex> lock(lb->mutex);
  *out_layer = lb->next_layer;
  CFF_C_CATCH
}

cff_status* cff_model_train_layer(cff_model* model, cff_layer_batch* layer_batch, int64_t layer, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  check_handle(layer_batch, Kind::kLayerBatch, "layer_batch");
  if (layer_batch->owner != model) fail("layer_batch was made by another model");
  const int64_t L = model->trainer.num_layers();
  if (layer < 0 || layer >= L) fail("layer ", layer, " out of 0..", L - 1);
  std::lock_guard<std::mutex> lock(layer_batch->mutex);
  CFF_CHECK_CODE(layer == layer_batch->next_layer, ErrorCode::kState, "layer batch enters layer ",
                 layer_batch->next_layer, " next, not layer ", layer, " (layers of a batch train in order)");
  const double loss = model->trainer.train_layer(layer, layer_batch->batch);
  ++layer_batch->next_layer;
  if (out_loss) *out_loss = loss;
  CFF_C_CATCH
}

cff_status* cff_model_step(cff_model* model, const cff_batch* batch, double* out_losses, int64_t losses_capacity,
                     int64_t* out_count) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  check_capacity(out_losses, losses_capacity, model->trainer.num_losses(), "out_losses");
  copy_losses(model->trainer.step(images, labels), out_losses, out_count);
  CFF_C_CATCH
}

cff_status* cff_model_layer_losses(cff_model* model, const cff_batch* batch, int32_t augment, double* out_losses,
                             int64_t losses_capacity, int64_t* out_count) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  check_capacity(out_losses, losses_capacity, model->trainer.num_losses(), "out_losses");
  copy_losses(model->trainer.layer_losses(images, labels, augment != 0), out_losses, out_count);
  CFF_C_CATCH
}

// ==== Stage 2 ===========================================================================================

cff_status* cff_model_head_step(cff_model* model, const cff_batch* batch, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  const double loss = model->trainer.head_step(images, labels);
  if (out_loss) *out_loss = loss;
  CFF_C_CATCH
}

cff_status* cff_model_head_loss(cff_model* model, const cff_batch* batch, double* out_loss) {
  CFF_C_TRY
  check_model(model);
  check_out(out_loss, "out_loss");
  const auto images = model_images(model, batch);
  const auto labels = batch_labels(batch, num_classes(model));
  *out_loss = model->trainer.head_loss(images, labels);  // BP: STATE, it has no separate head stage
  CFF_C_CATCH
}

// ==== Whole runs ========================================================================================

cff_status* cff_model_set_parallel(cff_model* model, const char* json) {
  CFF_C_TRY
  check_model(model);
  auto options = cff::ParallelOptions::from_json(json && *json ? json : "{}");
  std::lock_guard<std::mutex> lock(model->parallel_mutex);
  model->parallel = options;
  CFF_C_CATCH
}

cff_status* cff_model_fit(cff_model* model, const cff_dataset* train, cff_progress_fn progress, void* user_data,
                          const char* checkpoint_path, int32_t* out_stopped) {
  CFF_C_TRY
  check_model(model);
  check_dataset(train);
  std::atomic<bool> stop{false};
  cff::FitHooks hooks;
  {
    std::lock_guard<std::mutex> lock(model->parallel_mutex);
    hooks.parallel = model->parallel;
  }
  hooks.stop = &stop;
  if (checkpoint_path) hooks.checkpoint_path = checkpoint_path;
  auto report = [&](cff_progress& p, const std::string& message) {
    p.struct_size = sizeof(cff_progress);
    p.message = message.c_str();
    if (progress(&p, user_data) != 0) stop = true;
  };
  // Read before fit(): the hooks run inside it, with the trainer locked.
  const auto train_options = model->trainer.config().train;
  if (progress) {
    hooks.on_progress = [&](const cff::Progress& p) {
      cff_progress c{};
      c.stage = p.stage;
      c.epoch = p.epoch;
      c.epochs = p.epochs;
      c.batch = p.batch;
      c.batches = p.batches;
      c.losses = p.losses.data();
      c.num_losses = int64_t(p.losses.size());
      c.seconds = p.seconds;
      report(c, cff::describe(p));
    };
    hooks.on_epoch = [&](const cff::EpochRecord& r) {
      cff_progress c{};
      c.end_of_epoch = 1;
      c.stage = r.stage;
      c.epoch = r.epoch;
      c.epochs = r.stage == 1 ? train_options.epochs : train_options.head_epochs;
      c.losses = r.train_loss.data();
      c.num_losses = int64_t(r.train_loss.size());
      c.val_losses = r.val_loss.empty() ? nullptr : r.val_loss.data();
      c.num_val_losses = int64_t(r.val_loss.size());
      c.seconds = r.seconds;
      report(c, cff::describe(r));
    };
  }
  struct CallbackScope {  // marks this thread as inside the model's callbacks for the run's length
    cff_model* m;
    explicit CallbackScope(cff_model* model) : m(model) { m->callback_thread = std::this_thread::get_id(); }
    ~CallbackScope() { m->callback_thread = std::thread::id(); }
  } scope(model);
  const auto result = model->trainer.fit(train->data, hooks);
  if (out_stopped) *out_stopped = result.stopped ? 1 : 0;
  CFF_C_CATCH
}

// ==== Inference =========================================================================================

cff_status* cff_model_predict(cff_model* model, const cff_batch* batch, int64_t k, int64_t* out_labels,
                        int64_t labels_length, float* out_scores, int64_t scores_length, int64_t* out_topk,
                        int64_t topk_length) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const int64_t n = batch->count, classes = num_classes(model);
  if (k < 1 || k > classes) fail("top-k: k must be in 1..", classes, ", got ", k);
  check_length(out_labels, labels_length, n, "out_labels");
  check_length(out_scores, scores_length, checked_product({n, classes}, "out_scores"), "out_scores");
  check_length(out_topk, topk_length, checked_product({n, k}, "out_topk"), "out_topk");
  const auto p = model->trainer.predict(images, k);
  if (out_labels) std::memcpy(out_labels, p.labels.contiguous().data_ptr<int64_t>(), sizeof(int64_t) * size_t(n));
  if (out_scores)
    std::memcpy(out_scores, p.scores.contiguous().data_ptr<float>(), sizeof(float) * size_t(n * classes));
  if (out_topk) std::memcpy(out_topk, p.topk.contiguous().data_ptr<int64_t>(), sizeof(int64_t) * size_t(n * k));
  CFF_C_CATCH
}

cff_status* cff_model_embed(cff_model* model, const cff_batch* batch, int64_t layer, float* out_embeddings,
                      int64_t embeddings_length) {
  CFF_C_TRY
  check_model(model);
  const auto images = model_images(model, batch);
  const int64_t L = model->trainer.num_layers();
  if (layer < 0 || layer >= L) fail("layer ", layer, " out of 0..", L - 1);
  const int64_t needed = checked_product({batch->count, model->trainer.config().model.embed_dim}, "out_embeddings");
  if (!out_embeddings) fail("out_embeddings is NULL");
  if (embeddings_length != needed) fail("out_embeddings has length ", embeddings_length, ", expected ", needed);
  const auto z = model->trainer.embed(images, layer).contiguous();
  std::memcpy(out_embeddings, z.data_ptr<float>(), sizeof(float) * size_t(needed));
  CFF_C_CATCH
}

cff_status* cff_model_evaluate(cff_model* model, const cff_batch* batch, const int64_t* ks, int64_t num_ks,
                         double* out_accuracies) {
  CFF_C_TRY
  check_model(model);
  model_images(model, batch);  // shape checks before any copy of the labels
  const auto k = check_ks(model, ks, num_ks, out_accuracies);
  const auto e = model->trainer.evaluate(dataset_from_batch(batch, num_classes(model)), k);
  write_accuracies(e, k, out_accuracies);
  CFF_C_CATCH
}

cff_status* cff_model_evaluate_dataset(cff_model* model, const cff_dataset* data, const int64_t* ks, int64_t num_ks,
                                 double* out_accuracies) {
  CFF_C_TRY
  check_model(model);
  check_dataset(data);
  const auto k = check_ks(model, ks, num_ks, out_accuracies);
  write_accuracies(model->trainer.evaluate(data->data, k), k, out_accuracies);
  CFF_C_CATCH
}

}  // extern "C"
