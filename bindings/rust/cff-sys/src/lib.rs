//! Raw declarations of libcff's C API, transcribed by hand from `capi/include/cff.h` (ABI
//! version [`CFF_ABI_VERSION`]). Everything here is `unsafe` and follows the header's contract;
//! use the `cff` crate for the safe API.
//!
//! Enums the library only *receives* are `#[repr(C)]` Rust enums. The two it also *returns*
//! ([`cff_code`] from `cff_status_code`, [`cff_dtype`] from `cff_dataset_info`) are
//! `#[repr(transparent)]` integers with constants, because a newer library may hand back a value
//! this crate does not know, and an unknown discriminant in a Rust enum is undefined behaviour.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

/// The ABI version this crate was transcribed from (`CFF_ABI_VERSION` in cff.h).
pub const CFF_ABI_VERSION: u32 = 2;

/// `cff_code`: what kind of failure a status reports (pinned values).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct cff_code(pub u32);
impl cff_code {
    pub const OK: cff_code = cff_code(0);
    pub const INVALID_ARGUMENT: cff_code = cff_code(1);
    pub const IO: cff_code = cff_code(2);
    pub const FORMAT: cff_code = cff_code(3);
    pub const STATE: cff_code = cff_code(4);
    pub const PLUGIN: cff_code = cff_code(5);
    pub const UNSUPPORTED: cff_code = cff_code(6);
    pub const NUMERICS: cff_code = cff_code(7);
    pub const OUT_OF_MEMORY: cff_code = cff_code(8);
    pub const INTERNAL: cff_code = cff_code(9);
}

/// `cff_dtype`: element type of an image buffer.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct cff_dtype(pub u32);
impl cff_dtype {
    pub const UINT8: cff_dtype = cff_dtype(0);
    pub const FLOAT32: cff_dtype = cff_dtype(1);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_layout {
    CFF_LAYOUT_NCHW = 0,
    CFF_LAYOUT_NHWC = 1,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_arch {
    CFF_ARCH_MLP = 0,
    CFF_ARCH_VIT = 1,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_algorithm {
    CFF_ALGORITHM_CONTRASTIVE = 0,
    CFF_ALGORITHM_FORWARD_FORWARD = 1,
    CFF_ALGORITHM_BACKPROP = 2,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_lr_schedule {
    CFF_LR_SCHEDULE_AUTO = 0,
    CFF_LR_SCHEDULE_CONSTANT = 1,
    CFF_LR_SCHEDULE_COSINE = 2,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_precision {
    CFF_PRECISION_FLOAT32 = 0,
    CFF_PRECISION_BFLOAT16 = 1,
    /// bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else float32 (the default).
    CFF_PRECISION_AUTO = 2,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_pooling {
    CFF_POOLING_MEAN = 0,
    CFF_POOLING_CLASS_TOKEN = 1,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_ff_prediction {
    CFF_FF_PREDICTION_GOODNESS = 0,
    CFF_FF_PREDICTION_HEAD = 1,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum cff_provider_kind {
    CFF_PROVIDER_KIND_LOSS = 0,
    CFF_PROVIDER_KIND_AUGMENTATION = 1,
}

/// Opaque handles.
#[repr(C)]
pub struct cff_status {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_options {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_layer_batch {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_dataset {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_provider_list {
    _private: [u8; 0],
}
#[repr(C)]
pub struct cff_batch_iterator {
    _private: [u8; 0],
}

/// `cff_batch`: a batch of images (and labels) in the caller's memory.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cff_batch {
    pub struct_size: u32,
    /// A `cff_dtype` value.
    pub dtype: i32,
    /// A `cff_layout` value.
    pub layout: i32,
    pub reserved: i32,
    pub images: *const c_void,
    /// Elements in `images`.
    pub images_length: i64,
    pub labels: *const i64,
    /// Elements in `labels` (0 when it is null).
    pub labels_length: i64,
    pub count: i64,
    pub channels: i64,
    pub height: i64,
    pub width: i64,
}

impl cff_batch {
    /// `CFF_BATCH_INIT`.
    pub const INIT: cff_batch = cff_batch {
        struct_size: std::mem::size_of::<cff_batch>() as u32,
        dtype: cff_dtype::UINT8.0 as i32,
        layout: cff_layout::CFF_LAYOUT_NCHW as i32,
        reserved: 0,
        images: std::ptr::null(),
        images_length: 0,
        labels: std::ptr::null(),
        labels_length: 0,
        count: 0,
        channels: 0,
        height: 0,
        width: 0,
    };
}

/// `cff_progress`: what a progress callback receives (read a field only when `struct_size`
/// covers it).
#[repr(C)]
#[derive(Debug)]
pub struct cff_progress {
    pub struct_size: u32,
    pub end_of_epoch: i32,
    pub stage: i64,
    pub epoch: i64,
    pub epochs: i64,
    pub batch: i64,
    pub batches: i64,
    pub losses: *const f64,
    pub num_losses: i64,
    pub val_losses: *const f64,
    pub num_val_losses: i64,
    pub seconds: f64,
    pub message: *const c_char,
}

pub type cff_progress_fn = Option<unsafe extern "C" fn(progress: *const cff_progress, user_data: *mut c_void) -> i32>;
pub type cff_log_fn = Option<unsafe extern "C" fn(level: i32, message: *const c_char, user_data: *mut c_void)>;

extern "C" {
    // Versions
    pub fn cff_version() -> *const c_char;
    pub fn cff_abi_version() -> u32;
    pub fn cff_abi_check(host_abi_version: u32) -> *mut cff_status;
    pub fn cff_torch_version() -> *const c_char;

    // Status
    pub fn cff_status_code(status: *const cff_status) -> cff_code;
    pub fn cff_status_message(status: *const cff_status) -> *const c_char;
    pub fn cff_status_free(status: *mut cff_status);
    pub fn cff_code_name(code: cff_code) -> *const c_char;
    pub fn cff_string_free(string: *mut c_char);

    // Runtime
    pub fn cff_threads_set(threads: i64) -> *mut cff_status;
    pub fn cff_limit_set(name: *const c_char, value: i64) -> *mut cff_status;
    pub fn cff_plugin_abi_version() -> u32;
    pub fn cff_plugin_load(path: *const c_char, out_name: *mut *mut c_char) -> *mut cff_status;
    pub fn cff_plugin_unload(path: *const c_char, out_unloaded: *mut i32) -> *mut cff_status;
    pub fn cff_device_check(device: *const c_char) -> *mut cff_status;
    pub fn cff_log_set(fn_: cff_log_fn, user_data: *mut c_void);
    pub fn cff_plugins_discover(out_loaded: *mut i64, out_failed: *mut i64) -> *mut cff_status;
    pub fn cff_lr_schedule_scale(schedule: i32, step: i64, total_steps: i64, out_scale: *mut f64) -> *mut cff_status;

    // Options
    pub fn cff_options_create(out_options: *mut *mut cff_options) -> *mut cff_status;
    pub fn cff_options_free(options: *mut cff_options);
    pub fn cff_options_set_json(options: *mut cff_options, json: *const c_char) -> *mut cff_status;
    pub fn cff_options_get_json(options: *const cff_options, out_json: *mut *mut c_char) -> *mut cff_status;
    pub fn cff_options_validate(options: *const cff_options) -> *mut cff_status;
    pub fn cff_options_set_arch(options: *mut cff_options, arch: cff_arch) -> *mut cff_status;
    pub fn cff_options_set_algorithm(options: *mut cff_options, algorithm: cff_algorithm) -> *mut cff_status;
    pub fn cff_options_set_embed_dim(options: *mut cff_options, embed_dim: i64) -> *mut cff_status;
    pub fn cff_options_set_num_layers(options: *mut cff_options, num_layers: i64) -> *mut cff_status;
    pub fn cff_options_set_num_heads(options: *mut cff_options, num_heads: i64) -> *mut cff_status;
    pub fn cff_options_set_patch_size(options: *mut cff_options, patch_size: i64) -> *mut cff_status;
    pub fn cff_options_set_pooling(options: *mut cff_options, pooling: cff_pooling) -> *mut cff_status;
    pub fn cff_options_set_input_shape(
        options: *mut cff_options,
        channels: i64,
        height: i64,
        width: i64,
    ) -> *mut cff_status;
    pub fn cff_options_set_num_classes(options: *mut cff_options, num_classes: i64) -> *mut cff_status;
    pub fn cff_options_set_loss(options: *mut cff_options, spec: *const c_char) -> *mut cff_status;
    pub fn cff_options_set_augment(options: *mut cff_options, spec: *const c_char) -> *mut cff_status;
    pub fn cff_options_set_views(options: *mut cff_options, views: i64) -> *mut cff_status;
    pub fn cff_options_set_lr(options: *mut cff_options, lr: f64, weight_decay: f64) -> *mut cff_status;
    pub fn cff_options_set_head_lr(options: *mut cff_options, lr: f64, weight_decay: f64) -> *mut cff_status;
    pub fn cff_options_set_batch_size(options: *mut cff_options, batch_size: i64) -> *mut cff_status;
    pub fn cff_options_set_epochs(options: *mut cff_options, epochs: i64, head_epochs: i64) -> *mut cff_status;
    pub fn cff_options_set_val_fraction(options: *mut cff_options, val_fraction: f64) -> *mut cff_status;
    pub fn cff_options_set_seed(options: *mut cff_options, seed: u64) -> *mut cff_status;
    pub fn cff_options_set_device(options: *mut cff_options, device: *const c_char) -> *mut cff_status;
    pub fn cff_options_set_precision(options: *mut cff_options, precision: cff_precision) -> *mut cff_status;
    pub fn cff_options_set_lr_schedule(options: *mut cff_options, schedule: cff_lr_schedule) -> *mut cff_status;
    pub fn cff_options_set_threads(options: *mut cff_options, threads: i64) -> *mut cff_status;
    pub fn cff_options_set_normalization(
        options: *mut cff_options,
        mean: *const f64,
        std: *const f64,
        channels: i64,
    ) -> *mut cff_status;
    pub fn cff_options_set_ff_prediction(options: *mut cff_options, mode: cff_ff_prediction) -> *mut cff_status;

    // Models
    pub fn cff_model_create(options: *const cff_options, out_model: *mut *mut cff_model) -> *mut cff_status;
    pub fn cff_model_create_json(json: *const c_char, out_model: *mut *mut cff_model) -> *mut cff_status;
    pub fn cff_model_free(model: *mut cff_model);
    pub fn cff_model_load(
        path: *const c_char,
        device: *const c_char,
        out_model: *mut *mut cff_model,
    ) -> *mut cff_status;
    pub fn cff_model_save(model: *mut cff_model, path: *const c_char) -> *mut cff_status;
    pub fn cff_model_export_torchscript(model: *mut cff_model, path: *const c_char) -> *mut cff_status;
    pub fn cff_model_load_state(model: *mut cff_model, path: *const c_char) -> *mut cff_status;
    pub fn cff_model_num_layers(model: *mut cff_model, out_num_layers: *mut i64) -> *mut cff_status;
    pub fn cff_model_num_classes(model: *mut cff_model, out_num_classes: *mut i64) -> *mut cff_status;
    pub fn cff_model_embed_dim(model: *mut cff_model, out_embed_dim: *mut i64) -> *mut cff_status;
    pub fn cff_model_num_parameters(model: *mut cff_model, out_num_parameters: *mut i64) -> *mut cff_status;
    pub fn cff_model_input_shape(
        model: *mut cff_model,
        out_channels: *mut i64,
        out_height: *mut i64,
        out_width: *mut i64,
    ) -> *mut cff_status;
    pub fn cff_model_progress(model: *mut cff_model, out_stage: *mut i64, out_epoch: *mut i64) -> *mut cff_status;
    pub fn cff_model_device(model: *mut cff_model, out_device: *mut *mut c_char) -> *mut cff_status;
    pub fn cff_model_config_json(model: *mut cff_model, out_json: *mut *mut c_char) -> *mut cff_status;
    pub fn cff_model_set_ff_prediction(model: *mut cff_model, mode: cff_ff_prediction) -> *mut cff_status;
    pub fn cff_model_set_lr_scale(model: *mut cff_model, scale: f64) -> *mut cff_status;
    pub fn cff_model_set_parallel(model: *mut cff_model, json: *const c_char) -> *mut cff_status;

    // Stage 1
    pub fn cff_layer_batch_create(
        model: *mut cff_model,
        batch: *const cff_batch,
        augment: i32,
        out_layer_batch: *mut *mut cff_layer_batch,
    ) -> *mut cff_status;
    pub fn cff_layer_batch_free(layer_batch: *mut cff_layer_batch);
    pub fn cff_layer_batch_next_layer(layer_batch: *const cff_layer_batch, out_layer: *mut i64) -> *mut cff_status;
    pub fn cff_model_train_layer(
        model: *mut cff_model,
        layer_batch: *mut cff_layer_batch,
        layer: i64,
        out_loss: *mut f64,
    ) -> *mut cff_status;
    pub fn cff_model_step(
        model: *mut cff_model,
        batch: *const cff_batch,
        out_losses: *mut f64,
        losses_capacity: i64,
        out_count: *mut i64,
    ) -> *mut cff_status;
    pub fn cff_model_layer_losses(
        model: *mut cff_model,
        batch: *const cff_batch,
        augment: i32,
        out_losses: *mut f64,
        losses_capacity: i64,
        out_count: *mut i64,
    ) -> *mut cff_status;

    // Stage 2
    pub fn cff_model_head_step(model: *mut cff_model, batch: *const cff_batch, out_loss: *mut f64) -> *mut cff_status;
    pub fn cff_model_head_loss(model: *mut cff_model, batch: *const cff_batch, out_loss: *mut f64) -> *mut cff_status;

    // Whole runs
    pub fn cff_model_fit(
        model: *mut cff_model,
        train: *const cff_dataset,
        progress: cff_progress_fn,
        user_data: *mut c_void,
        checkpoint_path: *const c_char,
        out_stopped: *mut i32,
    ) -> *mut cff_status;

    // Inference
    pub fn cff_model_predict(
        model: *mut cff_model,
        batch: *const cff_batch,
        k: i64,
        out_labels: *mut i64,
        labels_length: i64,
        out_scores: *mut f32,
        scores_length: i64,
        out_topk: *mut i64,
        topk_length: i64,
    ) -> *mut cff_status;
    pub fn cff_model_embed(
        model: *mut cff_model,
        batch: *const cff_batch,
        layer: i64,
        out_embeddings: *mut f32,
        embeddings_length: i64,
    ) -> *mut cff_status;
    pub fn cff_model_evaluate(
        model: *mut cff_model,
        batch: *const cff_batch,
        ks: *const i64,
        num_ks: i64,
        out_accuracies: *mut f64,
    ) -> *mut cff_status;
    pub fn cff_model_evaluate_dataset(
        model: *mut cff_model,
        data: *const cff_dataset,
        ks: *const i64,
        num_ks: i64,
        out_accuracies: *mut f64,
    ) -> *mut cff_status;

    // Datasets
    pub fn cff_dataset_load_idx(
        folder: *const c_char,
        part: *const c_char,
        out_dataset: *mut *mut cff_dataset,
    ) -> *mut cff_status;
    pub fn cff_dataset_create(
        batch: *const cff_batch,
        num_classes: i64,
        out_dataset: *mut *mut cff_dataset,
    ) -> *mut cff_status;
    pub fn cff_dataset_free(dataset: *mut cff_dataset);
    pub fn cff_dataset_slice(
        dataset: *const cff_dataset,
        start: i64,
        count: i64,
        out_dataset: *mut *mut cff_dataset,
    ) -> *mut cff_status;
    pub fn cff_dataset_info(
        dataset: *const cff_dataset,
        out_count: *mut i64,
        out_channels: *mut i64,
        out_height: *mut i64,
        out_width: *mut i64,
        out_dtype: *mut cff_dtype,
        out_num_classes: *mut i64,
    ) -> *mut cff_status;
    pub fn cff_dataset_images(
        dataset: *const cff_dataset,
        start: i64,
        count: i64,
        dtype: cff_dtype,
        out_images: *mut c_void,
        images_length: i64,
    ) -> *mut cff_status;
    pub fn cff_dataset_labels(
        dataset: *const cff_dataset,
        start: i64,
        count: i64,
        out_labels: *mut i64,
        labels_length: i64,
    ) -> *mut cff_status;
    pub fn cff_dataset_class_name(
        dataset: *const cff_dataset,
        index: i64,
        out_name: *mut *const c_char,
    ) -> *mut cff_status;
    pub fn cff_dataset_normalization(
        dataset: *const cff_dataset,
        out_mean: *mut f64,
        out_std: *mut f64,
        channels: i64,
    ) -> *mut cff_status;
    pub fn cff_batch_iterator_create(
        dataset: *const cff_dataset,
        batch_size: i64,
        seed: u64,
        shuffle: i32,
        out_iterator: *mut *mut cff_batch_iterator,
    ) -> *mut cff_status;
    pub fn cff_batch_iterator_free(iterator: *mut cff_batch_iterator);
    pub fn cff_batch_iterator_next(
        iterator: *mut cff_batch_iterator,
        dtype: i32,
        out_images: *mut c_void,
        images_length: i64,
        out_labels: *mut i64,
        labels_length: i64,
        out_count: *mut i64,
        out_epoch: *mut i64,
    ) -> *mut cff_status;

    // Providers
    pub fn cff_provider_list_create(kind: cff_provider_kind, out_list: *mut *mut cff_provider_list) -> *mut cff_status;
    pub fn cff_provider_list_free(list: *mut cff_provider_list);
    pub fn cff_provider_list_count(list: *const cff_provider_list, out_count: *mut i64) -> *mut cff_status;
    pub fn cff_provider_list_get(
        list: *const cff_provider_list,
        index: i64,
        out_name: *mut *const c_char,
        out_description: *mut *const c_char,
        out_params: *mut *const c_char,
        out_origin: *mut *const c_char,
    ) -> *mut cff_status;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_layout_matches_c() {
        // x86-64 / aarch64 SysV: 4 x 4-byte fields, then pointer + length twice, then 4 x i64.
        assert_eq!(std::mem::size_of::<cff_batch>(), 80);
        assert_eq!(std::mem::offset_of!(cff_batch, images), 16);
        assert_eq!(std::mem::offset_of!(cff_batch, labels_length), 40);
        assert_eq!(std::mem::size_of::<cff_progress>(), 96);
    }
}
