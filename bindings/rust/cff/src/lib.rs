//! Safe Rust API of libcff: train neural networks layer by layer with local losses (Contrastive
//! Forward-Forward, arXiv 2502.00571) through the C API in `cff.h`, declared raw in `cff-sys`.
//!
//! Owned handles ([`Options`], [`Model`], [`LayerBatch`], [`Dataset`]) free their C object on
//! `Drop`; every fallible call returns [`Result`] whose [`Error`] carries the library's code and
//! message (the C status is copied and freed at once). Image buffers are borrowed slices, described
//! by a [`Batch`]; the library reads them during the call only.
//!
//! Threads (from cff.h): calls on one model are serialised by the library, datasets and layer
//! batches are immutable or synchronised, so [`Model`], [`LayerBatch`] and [`Dataset`] are `Send`
//! and `Sync`; [`Options`] is not synchronised, so it is `Send` but not `Sync`.
//!
//! ```no_run
//! let mut model = cff::Model::from_json(r#"{"model": {"embed_dim": 16, "num_layers": 2,
//!     "height": 8, "width": 8, "num_classes": 2}, "train": {"device": "cpu"}}"#)?;
//! let images = vec![0u8; 4 * 64];
//! let labels = [0i64, 1, 0, 1];
//! let batch = cff::Batch::new(&images[..], [4, 1, 8, 8]).with_labels(&labels);
//! let layer_losses = model.step(&batch)?;
//! let head_loss = model.head_step(&batch)?;
//! let predicted = model.predict(&batch)?;
//! # Ok::<(), cff::Error>(())
//! ```
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::{Arc, Mutex, OnceLock};

pub use cff_sys as sys;
use cff_sys::cff_batch;

/// The ABI version this crate was written for; the library's must be equal (checked on first use).
pub const ABI_VERSION: u32 = sys::CFF_ABI_VERSION;

// ---- Errors ------------------------------------------------------------------------------------

/// The kind of a failure (cff.h's `cff_code`). Values this crate does not know are kept as
/// [`Code::Unknown`], as the header asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    InvalidArgument,
    Io,
    Format,
    State,
    Plugin,
    Unsupported,
    Numerics,
    OutOfMemory,
    Internal,
    Unknown(u32),
}

impl Code {
    fn from_raw(code: sys::cff_code) -> Code {
        match code.0 {
            1 => Code::InvalidArgument,
            2 => Code::Io,
            3 => Code::Format,
            4 => Code::State,
            5 => Code::Plugin,
            6 => Code::Unsupported,
            7 => Code::Numerics,
            8 => Code::OutOfMemory,
            9 => Code::Internal,
            other => Code::Unknown(other),
        }
    }

    /// The pinned numeric value.
    pub fn raw(self) -> u32 {
        match self {
            Code::InvalidArgument => 1,
            Code::Io => 2,
            Code::Format => 3,
            Code::State => 4,
            Code::Plugin => 5,
            Code::Unsupported => 6,
            Code::Numerics => 7,
            Code::OutOfMemory => 8,
            Code::Internal => 9,
            Code::Unknown(v) => v,
        }
    }

    /// The C name, e.g. "CFF_CODE_IO" (from the library).
    pub fn name(self) -> &'static str {
        // SAFETY: cff_code_name never fails and returns a static string.
        unsafe { static_str(sys::cff_code_name(sys::cff_code(self.raw()))) }
    }
}

/// A failure reported by libcff (or by this crate before calling it): code and one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: String,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
    pub fn code(&self) -> Code {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.name())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Turns a returned status into a Result, copying its message and freeing it.
fn check(status: *mut sys::cff_status) -> Result<()> {
    if status.is_null() {
        return Ok(());
    }
    // SAFETY: a non-NULL status returned by the library is ours until cff_status_free.
    let err = unsafe {
        let code = Code::from_raw(sys::cff_status_code(status));
        let message = CStr::from_ptr(sys::cff_status_message(status))
            .to_string_lossy()
            .into_owned();
        sys::cff_status_free(status);
        Error { code, message }
    };
    Err(err)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidArgument, message)
}

fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| invalid(format!("string {s:?} contains a NUL byte")))
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| invalid(format!("path {path:?} contains a NUL byte")))
}

/// SAFETY: `p` must be a static NUL-terminated string.
unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

/// Copies and frees a string returned through `char**`.
fn take_string(p: *mut c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returned `p` through a char** output; we own it until cff_string_free.
    unsafe {
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        sys::cff_string_free(p);
        s
    }
}

// ---- Versions ------------------------------------------------------------------------------------

/// The library's release version, e.g. "0.1.0".
pub fn version() -> &'static str {
    // SAFETY: static string.
    unsafe { static_str(sys::cff_version()) }
}

/// The ABI version of the loaded library (compare [`ABI_VERSION`]).
pub fn abi_version() -> u32 {
    // SAFETY: no arguments, never fails.
    unsafe { sys::cff_abi_version() }
}

/// The LibTorch version the library was built against.
pub fn torch_version() -> &'static str {
    // SAFETY: static string.
    unsafe { static_str(sys::cff_torch_version()) }
}

/// Compares the ABI version this crate was written for with the library's.
pub fn check_abi(expected: u32, library: u32) -> Result<()> {
    if expected == library {
        Ok(())
    } else {
        Err(Error::new(
            Code::Unsupported,
            format!(
                "libcff_c has ABI version {library} but this Rust binding was written for ABI version {expected}; \
                 rebuild the binding against the installed cff.h"
            ),
        ))
    }
}

/// Checked once, before the first object is created.
fn ensure_abi() -> Result<()> {
    static RESULT: OnceLock<Result<()>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            // cff_abi_version exists in every ABI: compare first; then the library's own verdict.
            check_abi(ABI_VERSION, abi_version())?;
            // SAFETY: plain value.
            check(unsafe { sys::cff_abi_check(ABI_VERSION) })
        })
        .clone()
}

/// Sets the number of CPU threads LibTorch uses, process-wide (0 = every core).
pub fn set_threads(threads: i64) -> Result<()> {
    ensure_abi()?;
    // SAFETY: plain value.
    check(unsafe { sys::cff_threads_set(threads) })
}

/// The plugin ABI version the library loads.
pub fn plugin_abi_version() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::cff_plugin_abi_version() }
}

/// Loads a loss/augmentation plugin (a shared library) and returns the plugin's name; its
/// providers are then usable by name in loss/augment specs. Fails with code `Plugin` naming the
/// file and the problem.
pub fn load_plugin(path: &str) -> Result<String> {
    ensure_abi()?;
    let path = c_string(path)?;
    let mut out = ptr::null_mut();
    // SAFETY: valid C string and out pointer for the duration of the call.
    check(unsafe { sys::cff_plugin_load(path.as_ptr(), &mut out) })?;
    Ok(take_string(out))
}

/// Removes a loaded plugin's providers; `Ok(false)` if the file was not loaded.
pub fn unload_plugin(path: &str) -> Result<bool> {
    ensure_abi()?;
    let path = c_string(path)?;
    let mut unloaded: i32 = 0;
    // SAFETY: valid C string and out pointer for the duration of the call.
    check(unsafe { sys::cff_plugin_unload(path.as_ptr(), &mut unloaded) })?;
    Ok(unloaded != 0)
}

/// Checks that `device` ("auto", "cpu", "cuda", "cuda:N") is usable.
pub fn device_check(device: &str) -> Result<()> {
    ensure_abi()?;
    let device = c_string(device)?;
    // SAFETY: valid C string for the duration of the call.
    check(unsafe { sys::cff_device_check(device.as_ptr()) })
}

// ---- Enumerations ----------------------------------------------------------------------------------

/// Element type of images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    U8,
    F32,
    /// A value this crate does not know (a newer library).
    Unknown(u32),
}

/// Memory order of an image buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Nchw,
    Nhwc,
}

/// A Rust enum over a C enum of cff-sys, with the conversion the calls use.
macro_rules! c_enum {
    ($(#[$doc:meta])* $name:ident => $c:ident { $($(#[$vdoc:meta])* $v:ident = $cv:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $v),+
        }
        impl From<$name> for sys::$c {
            fn from(v: $name) -> sys::$c {
                match v {
                    $($name::$v => sys::$c::$cv),+
                }
            }
        }
    };
}

c_enum!(
    /// Encoder architecture.
    Arch => cff_arch { Mlp = CFF_ARCH_MLP, Vit = CFF_ARCH_VIT }
);
c_enum!(
    /// Training algorithm: CFF / CFF+M, FF / SymBa, or backprop.
    Algorithm => cff_algorithm {
        Contrastive = CFF_ALGORITHM_CONTRASTIVE,
        ForwardForward = CFF_ALGORITHM_FORWARD_FORWARD,
        Backprop = CFF_ALGORITHM_BACKPROP,
    }
);
c_enum!(
    /// Floating-point mode of the passes.
    Precision => cff_precision {
        Float32 = CFF_PRECISION_FLOAT32,
        Bfloat16 = CFF_PRECISION_BFLOAT16,
        /// bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else float32 (the default).
        Auto = CFF_PRECISION_AUTO,
    }
);
c_enum!(
    /// ViT pooling: mean over patch tokens, or a class token.
    Pooling => cff_pooling { Mean = CFF_POOLING_MEAN, ClassToken = CFF_POOLING_CLASS_TOKEN }
);
c_enum!(
    /// How an FF model predicts: goodness per label, or the one-pass head.
    FfPrediction => cff_ff_prediction { Goodness = CFF_FF_PREDICTION_GOODNESS, Head = CFF_FF_PREDICTION_HEAD }
);
c_enum!(
    /// Kind of registry a provider lives in.
    ProviderKind => cff_provider_kind { Loss = CFF_PROVIDER_KIND_LOSS, Augmentation = CFF_PROVIDER_KIND_AUGMENTATION }
);

// ---- Batches -------------------------------------------------------------------------------------

/// Borrowed image elements: uint8 (0..255) or float32 (0..1).
#[derive(Clone, Copy, Debug)]
pub enum Pixels<'a> {
    U8(&'a [u8]),
    F32(&'a [f32]),
}

impl<'a> From<&'a [u8]> for Pixels<'a> {
    fn from(v: &'a [u8]) -> Self {
        Pixels::U8(v)
    }
}
impl<'a> From<&'a [f32]> for Pixels<'a> {
    fn from(v: &'a [f32]) -> Self {
        Pixels::F32(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Pixels<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Pixels::U8(v)
    }
}
impl<'a> From<&'a Vec<f32>> for Pixels<'a> {
    fn from(v: &'a Vec<f32>) -> Self {
        Pixels::F32(v)
    }
}

/// A batch of images (and optionally labels) in caller memory: `count` images of
/// `channels x height x width`, NCHW unless [`Batch::with_layout`] says otherwise. Nothing is
/// copied; the slices' lengths are checked against the shape before any call.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    pixels: Pixels<'a>,
    labels: Option<&'a [i64]>,
    shape: [i64; 4],
    layout: Layout,
}

impl<'a> Batch<'a> {
    /// `shape` is `[count, channels, height, width]`.
    pub fn new(pixels: impl Into<Pixels<'a>>, shape: [usize; 4]) -> Batch<'a> {
        Batch {
            pixels: pixels.into(),
            labels: None,
            shape: shape.map(|d| d as i64),
            layout: Layout::Nchw,
        }
    }
    pub fn with_labels(mut self, labels: &'a [i64]) -> Batch<'a> {
        self.labels = Some(labels);
        self
    }
    pub fn with_layout(mut self, layout: Layout) -> Batch<'a> {
        self.layout = layout;
        self
    }
    /// Number of images.
    pub fn count(&self) -> usize {
        self.shape[0] as usize
    }

    fn raw(&self, need_labels: bool) -> Result<cff_batch> {
        let [n, c, h, w] = self.shape;
        let elements = n
            .checked_mul(c)
            .and_then(|v| v.checked_mul(h))
            .and_then(|v| v.checked_mul(w));
        let (ptr, len, dtype) = match self.pixels {
            Pixels::U8(s) => (s.as_ptr() as *const c_void, s.len(), sys::cff_dtype::UINT8),
            Pixels::F32(s) => (s.as_ptr() as *const c_void, s.len(), sys::cff_dtype::FLOAT32),
        };
        // The library checks images_length too; checked here first for a message in Rust's terms.
        if elements != Some(len as i64) {
            return Err(invalid(format!(
                "image buffer holds {len} elements but the batch shape {n}x{c}x{h}x{w} needs {}",
                elements.map_or("more".to_string(), |e| e.to_string())
            )));
        }
        let (labels, labels_length) = match self.labels {
            Some(l) if l.len() as i64 != n => {
                return Err(invalid(format!("{} labels for a batch of {n} images", l.len())))
            }
            Some(l) => (l.as_ptr(), l.len() as i64),
            None if need_labels => return Err(invalid("this call needs labels: use Batch::with_labels")),
            None => (ptr::null(), 0),
        };
        Ok(cff_batch {
            dtype: dtype.0 as i32,
            layout: match self.layout {
                Layout::Nchw => sys::cff_layout::CFF_LAYOUT_NCHW,
                Layout::Nhwc => sys::cff_layout::CFF_LAYOUT_NHWC,
            } as i32,
            images: ptr,
            images_length: len as i64,
            labels,
            labels_length,
            count: n,
            channels: c,
            height: h,
            width: w,
            ..cff_batch::INIT
        })
    }
}

// ---- Options -------------------------------------------------------------------------------------

/// Everything that defines a model and how it trains; defaults are the paper's. Setters return
/// `&mut Self` so they chain with `?`.
pub struct Options {
    raw: *mut sys::cff_options,
}

// SAFETY: options are a plain heap object with no thread affinity; not synchronised, so not Sync.
unsafe impl Send for Options {}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident => $c:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name(&mut self, $($arg: $ty),*) -> Result<&mut Self> {
            // SAFETY: self.raw is live; plain values.
            check(unsafe { sys::$c(self.raw, $($arg.into()),*) })?;
            Ok(self)
        }
    };
}

impl Options {
    /// Options holding the defaults.
    pub fn new() -> Result<Options> {
        ensure_abi()?;
        let mut raw = ptr::null_mut();
        // SAFETY: out pointer is valid.
        check(unsafe { sys::cff_options_create(&mut raw) })?;
        Ok(Options { raw })
    }

    /// Merges a JSON config (`{"model": {...}, "train": {...}}`) into the options.
    pub fn set_json(&mut self, json: &str) -> Result<&mut Self> {
        let json = c_string(json)?;
        // SAFETY: live handle, valid string.
        check(unsafe { sys::cff_options_set_json(self.raw, json.as_ptr()) })?;
        Ok(self)
    }

    /// The options as a complete JSON config.
    pub fn to_json(&self) -> Result<String> {
        let mut out = ptr::null_mut();
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::cff_options_get_json(self.raw, &mut out) })?;
        Ok(take_string(out))
    }

    /// Checks the options as model creation will.
    pub fn validate(&self) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { sys::cff_options_validate(self.raw) })
    }

    fn set_str(
        &mut self,
        f: unsafe extern "C" fn(*mut sys::cff_options, *const c_char) -> *mut sys::cff_status,
        value: &str,
    ) -> Result<&mut Self> {
        let value = c_string(value)?;
        // SAFETY: live handle, valid string.
        check(unsafe { f(self.raw, value.as_ptr()) })?;
        Ok(self)
    }

    setter!(set_arch => cff_options_set_arch(arch: Arch));
    setter!(set_algorithm => cff_options_set_algorithm(algorithm: Algorithm));
    setter!(/// Width E of every layer, >= 1.
        set_embed_dim => cff_options_set_embed_dim(embed_dim: i64));
    setter!(/// Number L of independently trained layers, >= 1.
        set_num_layers => cff_options_set_num_layers(num_layers: i64));
    setter!(set_num_heads => cff_options_set_num_heads(num_heads: i64));
    setter!(set_patch_size => cff_options_set_patch_size(patch_size: i64));
    setter!(set_pooling => cff_options_set_pooling(pooling: Pooling));
    setter!(/// Input images: channels x height x width.
        set_input_shape => cff_options_set_input_shape(channels: i64, height: i64, width: i64));
    setter!(set_num_classes => cff_options_set_num_classes(num_classes: i64));
    setter!(set_views => cff_options_set_views(views: i64));
    setter!(set_lr => cff_options_set_lr(lr: f64, weight_decay: f64));
    setter!(set_head_lr => cff_options_set_head_lr(lr: f64, weight_decay: f64));
    setter!(set_batch_size => cff_options_set_batch_size(batch_size: i64));
    setter!(set_epochs => cff_options_set_epochs(epochs: i64, head_epochs: i64));
    setter!(set_val_fraction => cff_options_set_val_fraction(val_fraction: f64));
    setter!(set_seed => cff_options_set_seed(seed: u64));
    setter!(set_precision => cff_options_set_precision(precision: Precision));
    setter!(set_threads => cff_options_set_threads(threads: i64));
    setter!(set_ff_prediction => cff_options_set_ff_prediction(mode: FfPrediction));

    /// Local loss spec, e.g. "mcl:m0=0.4" ("" = the algorithm's default).
    pub fn set_loss(&mut self, spec: &str) -> Result<&mut Self> {
        self.set_str(sys::cff_options_set_loss, spec)
    }
    /// Augmentation spec, e.g. "crop:padding=4+hflip"; "none" disables.
    pub fn set_augment(&mut self, spec: &str) -> Result<&mut Self> {
        self.set_str(sys::cff_options_set_augment, spec)
    }
    /// "auto", "cpu", "cuda" or "cuda:N".
    pub fn set_device(&mut self, device: &str) -> Result<&mut Self> {
        self.set_str(sys::cff_options_set_device, device)
    }
    /// Per-channel normalisation (`mean` and `std` of equal length); empty slices clear it.
    pub fn set_normalization(&mut self, mean: &[f64], std: &[f64]) -> Result<&mut Self> {
        if mean.len() != std.len() {
            return Err(invalid(format!(
                "{} means but {} standard deviations",
                mean.len(),
                std.len()
            )));
        }
        let (m, s) = if mean.is_empty() {
            (ptr::null(), ptr::null())
        } else {
            (mean.as_ptr(), std.as_ptr())
        };
        // SAFETY: live handle; both arrays hold `len` values.
        check(unsafe { sys::cff_options_set_normalization(self.raw, m, s, mean.len() as i64) })?;
        Ok(self)
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::cff_options_free(self.raw) }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("json", &self.to_json().unwrap_or_default())
            .finish()
    }
}

// ---- Models --------------------------------------------------------------------------------------

/// Predictions for a batch: top-1 labels, per-class scores (row-major count x classes) and the
/// top-k classes (row-major count x k, by decreasing score).
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub labels: Vec<i64>,
    pub scores: Vec<f32>,
    pub topk: Vec<i64>,
    pub classes: usize,
    pub k: usize,
}

/// What a progress callback of [`Model::fit`] receives (copied out of the library's struct).
#[derive(Clone, Debug)]
pub struct Progress {
    pub end_of_epoch: bool,
    pub stage: i64,
    pub epoch: i64,
    pub epochs: i64,
    pub batch: i64,
    pub batches: i64,
    pub losses: Vec<f64>,
    pub val_losses: Option<Vec<f64>>,
    pub seconds: f64,
    pub message: String,
}

/// A model and its training state. Calls on one model are serialised by the library.
pub struct Model {
    raw: *mut sys::cff_model,
}

// SAFETY: the library serialises all calls on one model (cff.h, "Threads").
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

fn copy_slice<T: Copy>(p: *const T, n: i64) -> Vec<T> {
    if p.is_null() || n <= 0 {
        Vec::new()
    } else {
        // SAFETY: the library states `n` elements at `p`, valid during the callback.
        unsafe { std::slice::from_raw_parts(p, n as usize).to_vec() }
    }
}

struct FitState<'f> {
    callback: &'f mut dyn FnMut(&Progress) -> bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

unsafe extern "C" fn fit_trampoline(progress: *const sys::cff_progress, user_data: *mut c_void) -> i32 {
    let state = &mut *(user_data as *mut FitState);
    let p = &*progress;
    let copy = Progress {
        end_of_epoch: p.end_of_epoch != 0,
        stage: p.stage,
        epoch: p.epoch,
        epochs: p.epochs,
        batch: p.batch,
        batches: p.batches,
        losses: copy_slice(p.losses, p.num_losses),
        val_losses: if p.val_losses.is_null() {
            None
        } else {
            Some(copy_slice(p.val_losses, p.num_val_losses))
        },
        seconds: p.seconds,
        message: if p.message.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p.message).to_string_lossy().into_owned()
        },
    };
    // A panic must not unwind through C: stop the run and re-raise it once fit has returned.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (state.callback)(&copy))) {
        Ok(go_on) => i32::from(!go_on),
        Err(panic) => {
            state.panic = Some(panic);
            1
        }
    }
}

impl Model {
    /// Builds and initialises a model from options.
    pub fn new(options: &Options) -> Result<Model> {
        ensure_abi()?;
        let mut raw = ptr::null_mut();
        // SAFETY: live options, valid out pointer.
        check(unsafe { sys::cff_model_create(options.raw, &mut raw) })?;
        Ok(Model { raw })
    }

    /// Builds a model from a JSON config (missing keys keep their defaults).
    pub fn from_json(json: &str) -> Result<Model> {
        ensure_abi()?;
        let json = c_string(json)?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid string and out pointer.
        check(unsafe { sys::cff_model_create_json(json.as_ptr(), &mut raw) })?;
        Ok(Model { raw })
    }

    /// Reads a checkpoint; `device` overrides the saved device.
    pub fn load(path: impl AsRef<Path>, device: Option<&str>) -> Result<Model> {
        ensure_abi()?;
        let path = c_path(path.as_ref())?;
        let device = device.map(c_string).transpose()?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid strings (or NULL device) and out pointer.
        check(unsafe {
            sys::cff_model_load(
                path.as_ptr(),
                device.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
                &mut raw,
            )
        })?;
        Ok(Model { raw })
    }

    /// Writes the whole model (config, weights, optimizers, progress, RNG) atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        // SAFETY: live model, valid string.
        check(unsafe { sys::cff_model_save(self.raw, path.as_ptr()) })
    }

    /// Writes the one-pass predictor as a TorchScript module (`torch.jit.load`): `forward(x)`
    /// takes N x C x H x W uint8 or float 0..1 images and returns N x classes logits.
    pub fn export_torchscript(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        // SAFETY: live model, valid string.
        check(unsafe { sys::cff_model_export_torchscript(self.raw, path.as_ptr()) })
    }

    /// Replaces the model's state with a checkpoint's; unchanged on error.
    pub fn load_state(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        // SAFETY: live model, valid string.
        check(unsafe { sys::cff_model_load_state(self.raw, path.as_ptr()) })
    }

    fn query(&self, f: unsafe extern "C" fn(*mut sys::cff_model, *mut i64) -> *mut sys::cff_status) -> Result<i64> {
        let mut v = 0;
        // SAFETY: live model, valid out pointer.
        check(unsafe { f(self.raw, &mut v) })?;
        Ok(v)
    }

    pub fn num_layers(&self) -> Result<usize> {
        self.query(sys::cff_model_num_layers).map(|v| v as usize)
    }
    pub fn num_classes(&self) -> Result<usize> {
        self.query(sys::cff_model_num_classes).map(|v| v as usize)
    }
    /// Length E of each layer's embedding.
    pub fn embed_dim(&self) -> Result<usize> {
        self.query(sys::cff_model_embed_dim).map(|v| v as usize)
    }
    /// Trainable parameters, encoder and head.
    pub fn num_parameters(&self) -> Result<usize> {
        self.query(sys::cff_model_num_parameters).map(|v| v as usize)
    }
    /// `[channels, height, width]` of the inputs.
    pub fn input_shape(&self) -> Result<[usize; 3]> {
        let (mut c, mut h, mut w) = (0, 0, 0);
        // SAFETY: live model, valid out pointers.
        check(unsafe { sys::cff_model_input_shape(self.raw, &mut c, &mut h, &mut w) })?;
        Ok([c as usize, h as usize, w as usize])
    }
    /// Stage (1 encoder, 2 head, 3 finished) and completed epochs of [`Model::fit`].
    pub fn progress(&self) -> Result<(i64, i64)> {
        let (mut s, mut e) = (0, 0);
        // SAFETY: live model, valid out pointers.
        check(unsafe { sys::cff_model_progress(self.raw, &mut s, &mut e) })?;
        Ok((s, e))
    }
    /// The device the model runs on, e.g. "cpu".
    pub fn device(&self) -> Result<String> {
        let mut out = ptr::null_mut();
        // SAFETY: live model, valid out pointer; the string is ours.
        check(unsafe { sys::cff_model_device(self.raw, &mut out) })?;
        Ok(take_string(out))
    }
    /// The model's complete JSON config.
    pub fn config_json(&self) -> Result<String> {
        let mut out = ptr::null_mut();
        // SAFETY: live model, valid out pointer; the string is ours.
        check(unsafe { sys::cff_model_config_json(self.raw, &mut out) })?;
        Ok(take_string(out))
    }
    pub fn set_ff_prediction(&mut self, mode: FfPrediction) -> Result<()> {
        // SAFETY: live model.
        check(unsafe { sys::cff_model_set_ff_prediction(self.raw, mode.into()) })
    }
    /// From now on every layer trains at `scale` x lr and the head at `scale` x head lr (a
    /// schedule of your own when training step by step; see [`lr_schedule_scale`]).
    pub fn set_lr_scale(&mut self, scale: f64) -> Result<()> {
        // SAFETY: live model.
        check(unsafe { sys::cff_model_set_lr_scale(self.raw, scale) })
    }

    /// Experimental: layer-parallel training for the next [`Model::fit`] calls, as the JSON object
    /// of `cff_model_set_parallel` (cff.h): `{"pipeline": true, "stages": 2}` for the in-process
    /// pipeline, `{"mode": "data"}` (or `"pipeline"`, `"pipeline,data"`) across processes launched
    /// with torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT; `"{}"` restores the defaults.
    pub fn set_parallel(&mut self, json: &str) -> Result<()> {
        let json = c_string(json)?;
        // SAFETY: live model, valid string.
        check(unsafe { sys::cff_model_set_parallel(self.raw, json.as_ptr()) })
    }

    fn losses_buffer(&self) -> Result<Vec<f64>> {
        Ok(vec![0.0; self.num_layers()?.max(1)])
    }

    /// One local update of every layer on a labelled batch (stage 1); the per-layer losses.
    pub fn step(&mut self, batch: &Batch) -> Result<Vec<f64>> {
        let b = batch.raw(true)?;
        let mut losses = self.losses_buffer()?;
        let mut n = 0;
        // SAFETY: live model; `b` points into borrowed slices checked against its shape; the
        // losses buffer holds `len` values.
        check(unsafe { sys::cff_model_step(self.raw, &b, losses.as_mut_ptr(), losses.len() as i64, &mut n) })?;
        losses.truncate(n as usize);
        Ok(losses)
    }

    /// Per-layer local losses without any update (`augment` draws views from the model's RNG).
    pub fn layer_losses(&mut self, batch: &Batch, augment: bool) -> Result<Vec<f64>> {
        let b = batch.raw(true)?;
        let mut losses = self.losses_buffer()?;
        let mut n = 0;
        // SAFETY: as in step.
        check(unsafe {
            sys::cff_model_layer_losses(
                self.raw,
                &b,
                augment as i32,
                losses.as_mut_ptr(),
                losses.len() as i64,
                &mut n,
            )
        })?;
        losses.truncate(n as usize);
        Ok(losses)
    }

    /// Prepares a labelled batch for layer-by-layer training with [`Model::train_layer`].
    pub fn layer_batch(&mut self, batch: &Batch, augment: bool) -> Result<LayerBatch> {
        let b = batch.raw(true)?;
        let mut raw = ptr::null_mut();
        // SAFETY: as in step; valid out pointer.
        check(unsafe { sys::cff_layer_batch_create(self.raw, &b, augment as i32, &mut raw) })?;
        Ok(LayerBatch { raw })
    }

    /// One local update of layer `layer` on a layer batch, which then moves on to `layer + 1`.
    pub fn train_layer(&mut self, batch: &mut LayerBatch, layer: usize) -> Result<f64> {
        let mut loss = 0.0;
        // SAFETY: live model and layer batch.
        check(unsafe { sys::cff_model_train_layer(self.raw, batch.raw, layer as i64, &mut loss) })?;
        Ok(loss)
    }

    /// One cross-entropy update of the linear head on the frozen encoder; the loss.
    pub fn head_step(&mut self, batch: &Batch) -> Result<f64> {
        let b = batch.raw(true)?;
        let mut loss = 0.0;
        // SAFETY: as in step.
        check(unsafe { sys::cff_model_head_step(self.raw, &b, &mut loss) })?;
        Ok(loss)
    }

    /// Head cross-entropy without update.
    pub fn head_loss(&self, batch: &Batch) -> Result<f64> {
        let b = batch.raw(true)?;
        let mut loss = 0.0;
        // SAFETY: as in step.
        check(unsafe { sys::cff_model_head_loss(self.raw, &b, &mut loss) })?;
        Ok(loss)
    }

    /// Trains stage 1 then stage 2 on `train` (see cff.h's cff_model_fit). `progress`, when given,
    /// sees every batch and epoch and returns `false` to stop; `Ok(true)` means it stopped the run.
    pub fn fit(
        &mut self,
        train: &Dataset,
        checkpoint: Option<&Path>,
        progress: Option<&mut dyn FnMut(&Progress) -> bool>,
    ) -> Result<bool> {
        let checkpoint = checkpoint.map(c_path).transpose()?;
        let mut stopped = 0i32;
        let status;
        let mut panic = None;
        match progress {
            Some(callback) => {
                let mut state = FitState { callback, panic: None };
                // SAFETY: `state` outlives the call; the trampoline is only called during it.
                status = unsafe {
                    sys::cff_model_fit(
                        self.raw,
                        train.raw,
                        Some(fit_trampoline),
                        &mut state as *mut FitState as *mut c_void,
                        checkpoint.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
                        &mut stopped,
                    )
                };
                panic = state.panic.take();
            }
            // SAFETY: live model and dataset; no callback.
            None => {
                status = unsafe {
                    sys::cff_model_fit(
                        self.raw,
                        train.raw,
                        None,
                        ptr::null_mut(),
                        checkpoint.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
                        &mut stopped,
                    )
                }
            }
        }
        let result = check(status);
        if let Some(panic) = panic {
            std::panic::resume_unwind(panic);
        }
        result.map(|()| stopped != 0)
    }

    /// Top-1 labels of a batch (labels in the batch are ignored).
    pub fn predict(&self, batch: &Batch) -> Result<Vec<i64>> {
        let b = batch.raw(false)?;
        let mut labels = vec![0i64; batch.count()];
        // SAFETY: as in step; the output holds exactly `count` labels.
        check(unsafe {
            sys::cff_model_predict(
                self.raw,
                &b,
                1,
                labels.as_mut_ptr(),
                labels.len() as i64,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
                0,
            )
        })?;
        Ok(labels)
    }

    /// Labels, per-class scores and the top-`k` classes of a batch.
    pub fn predict_full(&self, batch: &Batch, k: usize) -> Result<Prediction> {
        let b = batch.raw(false)?;
        let classes = self.num_classes()?;
        let n = batch.count();
        let mut labels = vec![0i64; n];
        let mut scores = vec![0f32; n * classes];
        let mut topk = vec![0i64; n * k];
        // SAFETY: as in step; each output is exactly as long as stated.
        check(unsafe {
            sys::cff_model_predict(
                self.raw,
                &b,
                k as i64,
                labels.as_mut_ptr(),
                labels.len() as i64,
                scores.as_mut_ptr(),
                scores.len() as i64,
                topk.as_mut_ptr(),
                topk.len() as i64,
            )
        })?;
        Ok(Prediction {
            labels,
            scores,
            topk,
            classes,
            k,
        })
    }

    /// The pooled representation of layer `layer` for every image, row-major count x E.
    pub fn embed(&self, batch: &Batch, layer: usize) -> Result<Vec<f32>> {
        let b = batch.raw(false)?;
        let mut out = vec![0f32; batch.count() * self.embed_dim()?];
        // SAFETY: as in step; the output holds count * E floats.
        check(unsafe { sys::cff_model_embed(self.raw, &b, layer as i64, out.as_mut_ptr(), out.len() as i64) })?;
        Ok(out)
    }

    /// Top-k accuracy on a labelled batch for each k in `ks`.
    pub fn evaluate(&self, batch: &Batch, ks: &[i64]) -> Result<Vec<f64>> {
        let b = batch.raw(true)?;
        let mut out = vec![0f64; ks.len()];
        // SAFETY: as in step; `out` holds ks.len() values.
        check(unsafe { sys::cff_model_evaluate(self.raw, &b, ks.as_ptr(), ks.len() as i64, out.as_mut_ptr()) })?;
        Ok(out)
    }

    /// Top-k accuracy over a whole dataset.
    pub fn evaluate_dataset(&self, data: &Dataset, ks: &[i64]) -> Result<Vec<f64>> {
        let mut out = vec![0f64; ks.len()];
        // SAFETY: live model and dataset; `out` holds ks.len() values.
        check(unsafe {
            sys::cff_model_evaluate_dataset(self.raw, data.raw, ks.as_ptr(), ks.len() as i64, out.as_mut_ptr())
        })?;
        Ok(out)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::cff_model_free(self.raw) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("raw", &self.raw).finish()
    }
}

/// The activations entering one layer for one batch (see [`Model::layer_batch`]).
pub struct LayerBatch {
    raw: *mut sys::cff_layer_batch,
}

// SAFETY: a layer batch is synchronised by the library (cff.h).
unsafe impl Send for LayerBatch {}
unsafe impl Sync for LayerBatch {}

impl LayerBatch {
    /// The layer the batch enters next (0 after creation, L when done).
    pub fn next_layer(&self) -> Result<usize> {
        let mut v = 0;
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::cff_layer_batch_next_layer(self.raw, &mut v) })?;
        Ok(v as usize)
    }
}

impl Drop for LayerBatch {
    fn drop(&mut self) {
        // SAFETY: we own the handle (it may outlive its model: cff.h allows either order).
        unsafe { sys::cff_layer_batch_free(self.raw) }
    }
}

// ---- Datasets ------------------------------------------------------------------------------------

/// Shape and type of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub dtype: DType,
    pub num_classes: usize,
}

/// A labelled image set held by the library; immutable.
pub struct Dataset {
    raw: *mut sys::cff_dataset,
}

// SAFETY: immutable; may be read from any number of threads (cff.h).
unsafe impl Send for Dataset {}
unsafe impl Sync for Dataset {}

impl Dataset {
    /// Reads an IDX folder in MNIST layout; `part` is "train" or "test".
    pub fn load_idx(folder: impl AsRef<Path>, part: &str) -> Result<Dataset> {
        ensure_abi()?;
        let folder = c_path(folder.as_ref())?;
        let part = c_string(part)?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid strings and out pointer.
        check(unsafe { sys::cff_dataset_load_idx(folder.as_ptr(), part.as_ptr(), &mut raw) })?;
        Ok(Dataset { raw })
    }

    /// Copies a labelled batch into a new dataset of `num_classes` classes.
    pub fn from_batch(batch: &Batch, num_classes: usize) -> Result<Dataset> {
        ensure_abi()?;
        let b = batch.raw(true)?;
        let mut raw = ptr::null_mut();
        // SAFETY: `b` points into checked borrowed slices; valid out pointer.
        check(unsafe { sys::cff_dataset_create(&b, num_classes as i64, &mut raw) })?;
        Ok(Dataset { raw })
    }

    /// A copy of rows `start .. start + count`.
    pub fn slice(&self, start: usize, count: usize) -> Result<Dataset> {
        let mut raw = ptr::null_mut();
        // SAFETY: live handle, valid out pointer.
        check(unsafe { sys::cff_dataset_slice(self.raw, start as i64, count as i64, &mut raw) })?;
        Ok(Dataset { raw })
    }

    pub fn info(&self) -> Result<DatasetInfo> {
        let (mut n, mut c, mut h, mut w, mut k) = (0, 0, 0, 0, 0);
        let mut dtype = sys::cff_dtype::UINT8;
        // SAFETY: live handle, valid out pointers.
        check(unsafe { sys::cff_dataset_info(self.raw, &mut n, &mut c, &mut h, &mut w, &mut dtype, &mut k) })?;
        Ok(DatasetInfo {
            count: n as usize,
            channels: c as usize,
            height: h as usize,
            width: w as usize,
            dtype: match dtype {
                sys::cff_dtype::UINT8 => DType::U8,
                sys::cff_dtype::FLOAT32 => DType::F32,
                other => DType::Unknown(other.0),
            },
            num_classes: k as usize,
        })
    }

    fn pixels_per_image(&self) -> Result<usize> {
        let i = self.info()?;
        Ok(i.channels * i.height * i.width)
    }

    /// Images `start .. start + count` as NCHW uint8.
    pub fn images_u8(&self, start: usize, count: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; count * self.pixels_per_image()?];
        // SAFETY: live handle; `out` holds exactly the stated elements.
        check(unsafe {
            sys::cff_dataset_images(
                self.raw,
                start as i64,
                count as i64,
                sys::cff_dtype::UINT8,
                out.as_mut_ptr() as *mut c_void,
                out.len() as i64,
            )
        })?;
        Ok(out)
    }

    /// Images `start .. start + count` as NCHW float32 in 0..1.
    pub fn images_f32(&self, start: usize, count: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; count * self.pixels_per_image()?];
        // SAFETY: as above.
        check(unsafe {
            sys::cff_dataset_images(
                self.raw,
                start as i64,
                count as i64,
                sys::cff_dtype::FLOAT32,
                out.as_mut_ptr() as *mut c_void,
                out.len() as i64,
            )
        })?;
        Ok(out)
    }

    /// Labels `start .. start + count`.
    pub fn labels(&self, start: usize, count: usize) -> Result<Vec<i64>> {
        let mut out = vec![0i64; count];
        // SAFETY: live handle; `out` holds `count` labels.
        check(unsafe {
            sys::cff_dataset_labels(self.raw, start as i64, count as i64, out.as_mut_ptr(), count as i64)
        })?;
        Ok(out)
    }

    /// (mean, std) per channel of the images scaled to [0, 1], as `fit` computes them.
    pub fn normalization(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let c = self.info()?.channels;
        let (mut mean, mut std) = (vec![0.0; c], vec![0.0; c]);
        // SAFETY: live handle, buffers of `c` doubles.
        check(unsafe { sys::cff_dataset_normalization(self.raw, mean.as_mut_ptr(), std.as_mut_ptr(), c as i64) })?;
        Ok((mean, std))
    }

    /// Batches of `batch_size` uint8 images with their labels, epoch after epoch; with `shuffle`,
    /// epoch e is shuffled by (`seed`, e) as libcff's own loader does.
    pub fn batches(&self, batch_size: usize, seed: u64, shuffle: bool) -> Result<BatchIterator> {
        let info = self.info()?;
        let mut raw = ptr::null_mut();
        // SAFETY: live handle, valid out pointer; the iterator keeps its own reference to the data.
        check(unsafe { sys::cff_batch_iterator_create(self.raw, batch_size as i64, seed, shuffle as i32, &mut raw) })?;
        Ok(BatchIterator {
            raw,
            batch_size,
            image_len: info.channels * info.height * info.width,
        })
    }

    /// The name of class `index` (borrowed from the dataset).
    pub fn class_name(&self, index: usize) -> Result<&str> {
        let mut out = ptr::null();
        // SAFETY: live handle; the string lives as long as the dataset, i.e. `&self`.
        check(unsafe { sys::cff_dataset_class_name(self.raw, index as i64, &mut out) })?;
        Ok(unsafe { CStr::from_ptr(out) }.to_str().unwrap_or("?"))
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::cff_dataset_free(self.raw) }
    }
}

/// Batches of a [`Dataset`] filled by the library (see [`Dataset::batches`]).
pub struct BatchIterator {
    raw: *mut sys::cff_batch_iterator,
    batch_size: usize,
    image_len: usize,
}

// SAFETY: the iterator is used by one thread at a time (`&mut self`); it may move between threads.
unsafe impl Send for BatchIterator {}

impl BatchIterator {
    /// The next batch of the current epoch as (pixels, labels, epoch), or `None` once the epoch
    /// is over (the call after that starts the next epoch).
    pub fn next_batch(&mut self) -> Result<Option<(Vec<u8>, Vec<i64>, usize)>> {
        let mut images = vec![0u8; self.batch_size * self.image_len];
        let mut labels = vec![0i64; self.batch_size];
        let (mut count, mut epoch) = (0i64, 0i64);
        // SAFETY: live iterator; buffers of the stated lengths; valid out pointers.
        check(unsafe {
            sys::cff_batch_iterator_next(
                self.raw,
                sys::cff_dtype::UINT8.0 as i32,
                images.as_mut_ptr() as *mut c_void,
                images.len() as i64,
                labels.as_mut_ptr(),
                labels.len() as i64,
                &mut count,
                &mut epoch,
            )
        })?;
        if count == 0 {
            return Ok(None);
        }
        images.truncate(count as usize * self.image_len);
        labels.truncate(count as usize);
        Ok(Some((images, labels, epoch as usize)))
    }
}

impl Drop for BatchIterator {
    fn drop(&mut self) {
        // SAFETY: we own the handle.
        unsafe { sys::cff_batch_iterator_free(self.raw) }
    }
}

/// The lr factor of a schedule at `step` of `total_steps`, as `fit` applies it (`cosine`: false
/// for the constant schedule).
pub fn lr_schedule_scale(cosine: bool, step: u64, total_steps: u64) -> Result<f64> {
    ensure_abi()?;
    let schedule = if cosine {
        sys::cff_lr_schedule::CFF_LR_SCHEDULE_COSINE
    } else {
        sys::cff_lr_schedule::CFF_LR_SCHEDULE_CONSTANT
    };
    let mut out = 0.0;
    // SAFETY: plain values, valid out pointer.
    check(unsafe { sys::cff_lr_schedule_scale(schedule as i32, step as i64, total_steps as i64, &mut out) })?;
    Ok(out)
}

/// A log message's importance (`cff_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
}

type LogHandler = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;
static LOG_HANDLER: Mutex<Option<LogHandler>> = Mutex::new(None);

unsafe extern "C" fn log_trampoline(level: i32, message: *const c_char, _user: *mut c_void) {
    let handler = LOG_HANDLER.lock().ok().and_then(|h| h.clone());
    if let Some(h) = handler {
        // SAFETY: the library passes a NUL-terminated string valid during the call.
        let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        let level = match level {
            0 => LogLevel::Debug,
            1 => LogLevel::Info,
            2 => LogLevel::Warning,
            _ => LogLevel::Error,
        };
        // A panic must not unwind into the library's C++ frames.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h(level, &text)));
    }
}

/// Installs `handler` for the library's messages (a skipped image file, a plugin that differs from
/// the recorded one, ...), or `None` to drop them (the default). It may run on library threads.
pub fn set_log_handler(handler: Option<Box<dyn Fn(LogLevel, &str) + Send + Sync>>) {
    let install = handler.is_some();
    *LOG_HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = handler.map(Arc::from);
    // SAFETY: the trampoline is a plain function that lives for the whole program.
    unsafe { sys::cff_log_set(if install { Some(log_trampoline) } else { None }, ptr::null_mut()) }
}

/// Loads every `libcff-plugin-*.so` on the plugin search path (once); returns (loaded, failed).
pub fn discover_plugins() -> Result<(usize, usize)> {
    ensure_abi()?;
    let (mut loaded, mut failed) = (0i64, 0i64);
    // SAFETY: valid out pointers.
    check(unsafe { sys::cff_plugins_discover(&mut loaded, &mut failed) })?;
    Ok((loaded as usize, failed as usize))
}

// ---- Providers -----------------------------------------------------------------------------------

/// A registered loss or augmentation (built-in or from a plugin).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub description: String,
    pub params: String,
    pub origin: String,
}

/// Lists the providers of `kind`, sorted by name.
pub fn providers(kind: ProviderKind) -> Result<Vec<Provider>> {
    ensure_abi()?;
    struct List(*mut sys::cff_provider_list);
    impl Drop for List {
        fn drop(&mut self) {
            // SAFETY: we own the list.
            unsafe { sys::cff_provider_list_free(self.0) }
        }
    }
    let mut raw = ptr::null_mut();
    // SAFETY: valid out pointer.
    check(unsafe { sys::cff_provider_list_create(kind.into(), &mut raw) })?;
    let list = List(raw);
    let mut count = 0;
    // SAFETY: live list.
    check(unsafe { sys::cff_provider_list_count(list.0, &mut count) })?;
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let (mut n, mut d, mut p, mut o) = (ptr::null(), ptr::null(), ptr::null(), ptr::null());
        // SAFETY: live list, index in range; the strings live until the list is freed (after the copy).
        check(unsafe { sys::cff_provider_list_get(list.0, i, &mut n, &mut d, &mut p, &mut o) })?;
        let s = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        out.push(Provider {
            name: s(n),
            description: s(d),
            params: s(p),
            origin: s(o),
        });
    }
    Ok(out)
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset").field("info", &self.info().ok()).finish()
    }
}

impl fmt::Debug for LayerBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerBatch")
            .field("next_layer", &self.next_layer().ok())
            .finish()
    }
}
