// cff.h: cff_options, the typed setters and the JSON form.
#include "boundary.hpp"

// The option setters convert C enum values to the C++ enums by value.
static_assert(int(cff::Architecture::kMlp) == CFF_ARCH_MLP && int(cff::Architecture::kVit) == CFF_ARCH_VIT);
static_assert(int(cff::Algorithm::kContrastive) == CFF_ALGORITHM_CONTRASTIVE &&
              int(cff::Algorithm::kForwardForward) == CFF_ALGORITHM_FORWARD_FORWARD &&
              int(cff::Algorithm::kBackprop) == CFF_ALGORITHM_BACKPROP);
static_assert(int(cff::Precision::kFloat32) == CFF_PRECISION_FLOAT32 &&
              int(cff::Precision::kBFloat16) == CFF_PRECISION_BFLOAT16 && int(cff::Precision::kAuto) == CFF_PRECISION_AUTO);
static_assert(int(cff::Pooling::kMean) == CFF_POOLING_MEAN && int(cff::Pooling::kClassToken) == CFF_POOLING_CLASS_TOKEN);
static_assert(int(cff::FFPrediction::kGoodness) == CFF_FF_PREDICTION_GOODNESS &&
              int(cff::FFPrediction::kHead) == CFF_FF_PREDICTION_HEAD);
static_assert(int(cff::LrSchedule::kAuto) == CFF_LR_SCHEDULE_AUTO &&
              int(cff::LrSchedule::kConstant) == CFF_LR_SCHEDULE_CONSTANT &&
              int(cff::LrSchedule::kCosine) == CFF_LR_SCHEDULE_COSINE);
static_assert(int(cff::LogLevel::kDebug) == CFF_LOG_LEVEL_DEBUG && int(cff::LogLevel::kError) == CFF_LOG_LEVEL_ERROR);

using namespace cff_c;

extern "C" {

// ==== Options ===========================================================================================

cff_status* cff_options_create(cff_options** out_options) {
  CFF_C_TRY
  check_out(out_options, "out_options");
  *out_options = publish(new cff_options{}, Kind::kOptions);
  CFF_C_CATCH
}

void cff_options_free(cff_options* options) { release(options, Kind::kOptions); }

cff_status* cff_options_set_json(cff_options* options, const char* json) {
  CFF_C_TRY
  check_options(options);
  options->config = options->config.merged_with_json(check_string(json, "json"));
  CFF_C_CATCH
}

cff_status* cff_options_get_json(const cff_options* options, char** out_json) {
  CFF_C_TRY
  check_options(options);
  check_out(out_json, "out_json");
  *out_json = copy_string(options->config.to_json());
  CFF_C_CATCH
}

cff_status* cff_options_validate(const cff_options* options) {
  CFF_C_TRY
  check_options(options)->config.validate();
  CFF_C_CATCH
}

// One typed setter: `...` is its body, with `m` (model options) and `t` (train options) in scope.
#define CFF_OPTIONS_SETTER(name, params, ...)           \
  cff_status* cff_options_set_##name params {           \
    CFF_C_TRY                                           \
    auto& m = check_options(options)->config.model;     \
    auto& t = options->config.train;                    \
    (void)m;                                            \
    (void)t;                                            \
    __VA_ARGS__;                                        \
    CFF_C_CATCH                                         \
  }

CFF_OPTIONS_SETTER(arch, (cff_options * options, cff_arch arch),
                   m.arch = cff::Architecture((check_enum(arch, CFF_ARCH_VIT, "arch"))))
CFF_OPTIONS_SETTER(algorithm, (cff_options * options, cff_algorithm algorithm),
                   t.algorithm = cff::Algorithm((check_enum(algorithm, CFF_ALGORITHM_BACKPROP, "algorithm"))))
CFF_OPTIONS_SETTER(embed_dim, (cff_options * options, int64_t embed_dim),
                   check_at_least(embed_dim, 1, "embed_dim");
                   m.embed_dim = embed_dim)
CFF_OPTIONS_SETTER(num_layers, (cff_options * options, int64_t num_layers),
                   check_at_least(num_layers, 1, "num_layers");
                   m.num_layers = num_layers)
CFF_OPTIONS_SETTER(num_heads, (cff_options * options, int64_t num_heads),
                   check_at_least(num_heads, 1, "num_heads");
                   m.num_heads = num_heads)
CFF_OPTIONS_SETTER(patch_size, (cff_options * options, int64_t patch_size),
                   check_at_least(patch_size, 1, "patch_size");
                   m.patch_size = patch_size)
CFF_OPTIONS_SETTER(pooling, (cff_options * options, cff_pooling pooling),
                   m.pooling = cff::Pooling((check_enum(pooling, CFF_POOLING_CLASS_TOKEN, "pooling"))))
CFF_OPTIONS_SETTER(input_shape, (cff_options * options, int64_t channels, int64_t height, int64_t width),
                   check_at_least(channels, 1, "channels");
                   check_at_least(height, 1, "height"); check_at_least(width, 1, "width");
                   options->config.set_input_shape(channels, height, width))
CFF_OPTIONS_SETTER(num_classes, (cff_options * options, int64_t num_classes),
                   check_at_least(num_classes, 2, "num_classes");
                   m.num_classes = num_classes)
CFF_OPTIONS_SETTER(loss, (cff_options * options, const char* spec), t.loss = check_string(spec, "spec"))
CFF_OPTIONS_SETTER(augment, (cff_options * options, const char* spec), t.augment = check_string(spec, "spec"))
CFF_OPTIONS_SETTER(views, (cff_options * options, int64_t views),
                   if (views != 1 && views != 2) fail("options: views must be 1 or 2, got ", views);
                   t.views = views)
CFF_OPTIONS_SETTER(lr, (cff_options * options, double lr, double weight_decay),
                   check_positive(lr, "lr");
                   check_non_negative(weight_decay, "weight_decay"); t.lr = lr; t.weight_decay = weight_decay)
CFF_OPTIONS_SETTER(head_lr, (cff_options * options, double lr, double weight_decay),
                   check_positive(lr, "head lr");
                   check_non_negative(weight_decay, "head weight_decay"); t.head_lr = lr;
                   t.head_weight_decay = weight_decay)
CFF_OPTIONS_SETTER(batch_size, (cff_options * options, int64_t batch_size),
                   check_at_least(batch_size, 2, "batch_size");
                   t.batch_size = batch_size)
CFF_OPTIONS_SETTER(epochs, (cff_options * options, int64_t epochs, int64_t head_epochs),
                   check_at_least(epochs, 0, "epochs");
                   check_at_least(head_epochs, 0, "head_epochs"); t.epochs = epochs; t.head_epochs = head_epochs)
CFF_OPTIONS_SETTER(val_fraction, (cff_options * options, double val_fraction),
                   if (!(val_fraction >= 0 && val_fraction < 1))
                       fail("options: val_fraction must be in [0, 1), got ", val_fraction);
                   t.val_fraction = val_fraction)
CFF_OPTIONS_SETTER(seed, (cff_options * options, uint64_t seed), t.seed = seed)
CFF_OPTIONS_SETTER(device, (cff_options * options, const char* device), t.device = check_string(device, "device"))
CFF_OPTIONS_SETTER(precision, (cff_options * options, cff_precision precision),
                   t.precision = cff::Precision((check_enum(precision, CFF_PRECISION_AUTO, "precision"))))
CFF_OPTIONS_SETTER(lr_schedule, (cff_options * options, cff_lr_schedule schedule),
                   t.lr_schedule = cff::LrSchedule((check_enum(schedule, CFF_LR_SCHEDULE_COSINE, "lr_schedule"))))
CFF_OPTIONS_SETTER(threads, (cff_options * options, int64_t threads),
                   check_at_least(threads, 0, "threads");
                   t.threads = threads)
CFF_OPTIONS_SETTER(ff_prediction, (cff_options * options, cff_ff_prediction mode),
                   t.ff_prediction = cff::FFPrediction((check_enum(mode, CFF_FF_PREDICTION_HEAD, "ff_prediction"))))

cff_status* cff_options_set_normalization(cff_options* options, const double* mean, const double* std,
                                          int64_t channels) {
  CFF_C_TRY
  auto& t = check_options(options)->config.train;
  if (channels == 0) {
    t.mean.clear();
    t.std.clear();
    return nullptr;
  }
  if (channels != options->config.model.channels)
    fail("options: normalization needs one value per channel (", options->config.model.channels, "), got ", channels);
  check_out(mean, "mean");
  check_out(std, "std");
  for (int64_t c = 0; c < channels; ++c) {
    if (!std::isfinite(mean[c])) fail("options: mean[", c, "] is not finite");
    check_positive(std[c], "std");
    if (std[c] < cff::kMinStd) fail("options: std[", c, "] must be >= ", cff::kMinStd, ", got ", std[c]);
  }
  t.mean.assign(mean, mean + channels);
  t.std.assign(std, std + channels);
  CFF_C_CATCH
}

}  // extern "C"
