package cff

/*
#include <stdlib.h>
#include <cff.h>
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Options define a model and how it trains; defaults are the paper's. Not safe for concurrent
// modification.
type Options struct {
	raw atomic.Pointer[C.cff_options] // nil once closed
}

// NewOptions returns options holding the defaults.
func NewOptions() (*Options, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	var raw *C.cff_options
	if err := statusError(C.cff_options_create(&raw)); err != nil {
		return nil, err
	}
	o := &Options{}
	o.raw.Store(raw)
	runtime.SetFinalizer(o, (*Options).Close)
	return o, nil
}

// Close frees the options; models created from them are not affected. Safe to call twice.
func (o *Options) Close() error {
	if o == nil {
		return nil
	}
	if raw := o.raw.Swap(nil); raw != nil {
		C.cff_options_free(raw) // calls still running on other goroutines finish first (cff.h, Threads)
		runtime.SetFinalizer(o, nil)
	}
	return nil
}

// ptr is the C handle, or NULL for a nil or closed Options (the library then reports it).
func (o *Options) ptr() *C.cff_options {
	if o == nil {
		return nil
	}
	return o.raw.Load()
}

func (o *Options) call(s *C.cff_status) error {
	runtime.KeepAlive(o)
	return statusError(s)
}

func (o *Options) callString(f func(*C.cff_options, *C.char) *C.cff_status, v string) error {
	s := C.CString(v)
	defer C.free(unsafe.Pointer(s))
	return o.call(f(o.ptr(), s))
}

// SetJSON merges a JSON config ({"model": {...}, "train": {...}}) into the options.
func (o *Options) SetJSON(json string) error {
	return o.callString(func(r *C.cff_options, s *C.char) *C.cff_status { return C.cff_options_set_json(r, s) }, json)
}

// JSON returns the options as a complete JSON config.
func (o *Options) JSON() (string, error) {
	var out *C.char
	if err := o.call(C.cff_options_get_json(o.ptr(), &out)); err != nil {
		return "", err
	}
	defer C.cff_string_free(out)
	return C.GoString(out), nil
}

// Validate checks the options as model creation will.
func (o *Options) Validate() error { return o.call(C.cff_options_validate(o.ptr())) }

func (o *Options) SetArch(a Arch) error {
	return o.call(C.cff_options_set_arch(o.ptr(), C.cff_arch(a)))
}
func (o *Options) SetAlgorithm(a Algorithm) error {
	return o.call(C.cff_options_set_algorithm(o.ptr(), C.cff_algorithm(a)))
}

// SetEmbedDim sets the width E of every layer (>= 1).
func (o *Options) SetEmbedDim(e int) error {
	return o.call(C.cff_options_set_embed_dim(o.ptr(), C.int64_t(e)))
}

// SetNumLayers sets the number L of independently trained layers (>= 1).
func (o *Options) SetNumLayers(l int) error {
	return o.call(C.cff_options_set_num_layers(o.ptr(), C.int64_t(l)))
}
func (o *Options) SetNumHeads(h int) error {
	return o.call(C.cff_options_set_num_heads(o.ptr(), C.int64_t(h)))
}
func (o *Options) SetPatchSize(p int) error {
	return o.call(C.cff_options_set_patch_size(o.ptr(), C.int64_t(p)))
}
func (o *Options) SetPooling(p Pooling) error {
	return o.call(C.cff_options_set_pooling(o.ptr(), C.cff_pooling(p)))
}

// SetInputShape sets the input images' channels x height x width.
func (o *Options) SetInputShape(channels, height, width int) error {
	return o.call(C.cff_options_set_input_shape(o.ptr(), C.int64_t(channels), C.int64_t(height), C.int64_t(width)))
}
func (o *Options) SetNumClasses(k int) error {
	return o.call(C.cff_options_set_num_classes(o.ptr(), C.int64_t(k)))
}

// SetLoss sets the local loss spec, e.g. "mcl:m0=0.4" ("" = the algorithm's default).
func (o *Options) SetLoss(spec string) error {
	return o.callString(func(r *C.cff_options, s *C.char) *C.cff_status { return C.cff_options_set_loss(r, s) }, spec)
}

// SetAugment sets the augmentation spec, e.g. "crop:padding=4+hflip"; "none" disables.
func (o *Options) SetAugment(spec string) error {
	return o.callString(func(r *C.cff_options, s *C.char) *C.cff_status { return C.cff_options_set_augment(r, s) }, spec)
}

// SetDevice sets "auto", "cpu", "cuda" or "cuda:N" (checked when a model is created).
func (o *Options) SetDevice(device string) error {
	return o.callString(func(r *C.cff_options, s *C.char) *C.cff_status { return C.cff_options_set_device(r, s) }, device)
}
func (o *Options) SetViews(v int) error {
	return o.call(C.cff_options_set_views(o.ptr(), C.int64_t(v)))
}
func (o *Options) SetLR(lr, weightDecay float64) error {
	return o.call(C.cff_options_set_lr(o.ptr(), C.double(lr), C.double(weightDecay)))
}
func (o *Options) SetHeadLR(lr, weightDecay float64) error {
	return o.call(C.cff_options_set_head_lr(o.ptr(), C.double(lr), C.double(weightDecay)))
}
func (o *Options) SetBatchSize(n int) error {
	return o.call(C.cff_options_set_batch_size(o.ptr(), C.int64_t(n)))
}
func (o *Options) SetEpochs(epochs, headEpochs int) error {
	return o.call(C.cff_options_set_epochs(o.ptr(), C.int64_t(epochs), C.int64_t(headEpochs)))
}
func (o *Options) SetValFraction(f float64) error {
	return o.call(C.cff_options_set_val_fraction(o.ptr(), C.double(f)))
}
func (o *Options) SetSeed(seed uint64) error {
	return o.call(C.cff_options_set_seed(o.ptr(), C.uint64_t(seed)))
}
func (o *Options) SetPrecision(p Precision) error {
	return o.call(C.cff_options_set_precision(o.ptr(), C.cff_precision(p)))
}

// SetLRSchedule sets Fit's learning-rate schedule: 0 auto, 1 constant, 2 cosine (cff_lr_schedule).
func (o *Options) SetLRSchedule(schedule int) error {
	return o.call(C.cff_options_set_lr_schedule(o.ptr(), C.cff_lr_schedule(schedule)))
}
func (o *Options) SetThreads(n int) error {
	return o.call(C.cff_options_set_threads(o.ptr(), C.int64_t(n)))
}
func (o *Options) SetFFPrediction(m FFPrediction) error {
	return o.call(C.cff_options_set_ff_prediction(o.ptr(), C.cff_ff_prediction(m)))
}

// SetNormalization sets per-channel mean and std (equal lengths); empty slices clear it.
func (o *Options) SetNormalization(mean, std []float64) error {
	if len(mean) != len(std) {
		return invalid("%d means but %d standard deviations", len(mean), len(std))
	}
	var m, s *C.double
	if len(mean) > 0 {
		m, s = (*C.double)(unsafe.Pointer(&mean[0])), (*C.double)(unsafe.Pointer(&std[0]))
	}
	err := o.call(C.cff_options_set_normalization(o.ptr(), m, s, C.int64_t(len(mean))))
	runtime.KeepAlive(mean)
	runtime.KeepAlive(std)
	return err
}
