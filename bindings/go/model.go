package cff

/*
#include <stdint.h>
#include <stdlib.h>
#include <cff.h>

// A cff_batch must not be built in Go memory: it would hold Go pointers, which cgo forbids
// passing to C inside another Go-allocated object (Go 1.19 has no runtime.Pinner). Go passes the
// pointer-free shape and the buffers as separate arguments; these helpers assemble the batch on
// the C stack.
typedef struct cffgo_shape {
  int32_t dtype, layout;
  int64_t images_length, labels_length, count, channels, height, width;
} cffgo_shape;

static cff_batch cffgo_batch(const cffgo_shape* s, const void* images, const int64_t* labels) {
  cff_batch b = CFF_BATCH_INIT;
  b.dtype = s->dtype;
  b.layout = s->layout;
  b.images = images;
  b.images_length = s->images_length;
  b.labels = labels;
  b.labels_length = labels ? s->labels_length : 0;
  b.count = s->count;
  b.channels = s->channels;
  b.height = s->height;
  b.width = s->width;
  return b;
}

static cff_status* cffgo_step(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb,
                              double* out, int64_t cap, int64_t* count) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_model_step(m, &b, out, cap, count);
}
static cff_status* cffgo_layer_losses(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb,
                                      int32_t augment, double* out, int64_t cap, int64_t* count) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_model_layer_losses(m, &b, augment, out, cap, count);
}
static cff_status* cffgo_layer_batch_create(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb,
                                            int32_t augment, cff_layer_batch** out) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_layer_batch_create(m, &b, augment, out);
}
static cff_status* cffgo_head_step(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb, double* loss) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_model_head_step(m, &b, loss);
}
static cff_status* cffgo_head_loss(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb, double* loss) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_model_head_loss(m, &b, loss);
}
static cff_status* cffgo_predict(cff_model* m, const cffgo_shape* s, const void* im, int64_t k, int64_t* labels,
                                 int64_t nl, float* scores, int64_t ns, int64_t* topk, int64_t nt) {
  cff_batch b = cffgo_batch(s, im, NULL);
  return cff_model_predict(m, &b, k, labels, nl, scores, ns, topk, nt);
}
static cff_status* cffgo_embed(cff_model* m, const cffgo_shape* s, const void* im, int64_t layer, float* out, int64_t n) {
  cff_batch b = cffgo_batch(s, im, NULL);
  return cff_model_embed(m, &b, layer, out, n);
}
static cff_status* cffgo_evaluate(cff_model* m, const cffgo_shape* s, const void* im, const int64_t* lb,
                                  const int64_t* ks, int64_t nk, double* out) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_model_evaluate(m, &b, ks, nk, out);
}
static cff_status* cffgo_dataset_create(const cffgo_shape* s, const void* im, const int64_t* lb, int64_t classes,
                                        cff_dataset** out) {
  cff_batch b = cffgo_batch(s, im, lb);
  return cff_dataset_create(&b, classes, out);
}

// The progress trampoline is exported from callback.go; user_data carries a cgo.Handle.
extern int32_t cffgoProgress(cff_progress* progress, void* user_data);
static cff_status* cffgo_fit(cff_model* m, const cff_dataset* d, int use_callback, uintptr_t handle,
                             const char* checkpoint, int32_t* stopped) {
  return cff_model_fit(m, d, use_callback ? (cff_progress_fn)cffgoProgress : NULL, (void*)handle, checkpoint, stopped);
}
*/
import "C"

import (
	"math"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// Batch describes images (and labels) in Go memory: Shape is count, channels, height, width;
// Images is a []uint8 (0..255) or []float32 (0..1) of count*channels*height*width elements in
// Layout order (NCHW unless set); Labels holds count labels, or is nil where a call needs none.
// Nothing is copied.
type Batch struct {
	Images any
	Labels []int64
	Shape  [4]int
	Layout Layout
}

// cargs checks the batch against its shape (cff_batch carries no buffer length, so a short
// slice must be caught here) and returns what the C helpers take.
func (b *Batch) cargs(needLabels bool) (*C.cffgo_shape, unsafe.Pointer, *C.int64_t, error) {
	if b == nil {
		return nil, nil, nil, invalid("the batch is nil")
	}
	n, c, h, w := b.Shape[0], b.Shape[1], b.Shape[2], b.Shape[3]
	elements := 1
	for _, d := range b.Shape {
		if d < 0 {
			return nil, nil, nil, invalid("batch shape %dx%dx%dx%d has a negative size", n, c, h, w)
		}
		if d > 0 && elements > math.MaxInt64/d {
			return nil, nil, nil, invalid("batch shape %dx%dx%dx%d overflows an int", n, c, h, w)
		}
		elements *= d
	}
	s := &C.cffgo_shape{layout: C.int32_t(b.Layout), count: C.int64_t(n), channels: C.int64_t(c),
		height: C.int64_t(h), width: C.int64_t(w)}
	var length int
	var ptr unsafe.Pointer
	switch im := b.Images.(type) {
	case []uint8:
		s.dtype, length = C.CFF_DTYPE_UINT8, len(im)
		if length > 0 {
			ptr = unsafe.Pointer(&im[0])
		}
	case []float32:
		s.dtype, length = C.CFF_DTYPE_FLOAT32, len(im)
		if length > 0 {
			ptr = unsafe.Pointer(&im[0])
		}
	default:
		return nil, nil, nil, invalid("batch images must be []uint8 or []float32, not %T", b.Images)
	}
	if ptr == nil {
		// An empty batch still reaches the library, so the user gets its message ("batch.count
		// must be >= 1"), not one about a NULL buffer.
		ptr = unsafe.Pointer(&emptyBuffer[0])
	}
	if length != elements {
		return nil, nil, nil, invalid("image buffer holds %d elements but the batch shape %dx%dx%dx%d needs %d",
			length, n, c, h, w, elements)
	}
	var labels *C.int64_t
	switch {
	case b.Labels == nil && needLabels:
		return nil, nil, nil, invalid("this call needs labels: set Batch.Labels")
	case b.Labels != nil && len(b.Labels) != n:
		return nil, nil, nil, invalid("%d labels for a batch of %d images", len(b.Labels), n)
	case len(b.Labels) > 0:
		labels = (*C.int64_t)(unsafe.Pointer(&b.Labels[0]))
	}
	s.images_length, s.labels_length = C.int64_t(length), C.int64_t(len(b.Labels))
	return s, ptr, labels, nil
}

// emptyBuffer stands in for the data of an empty slice (cgo cannot take &s[0] of one).
var emptyBuffer [8]byte

// Model is a model and its training state. Calls on one model are serialised by the library.
type Model struct {
	raw atomic.Pointer[C.cff_model] // nil once closed
}

func newModel(raw *C.cff_model) *Model {
	m := &Model{}
	m.raw.Store(raw)
	var params C.int64_t
	if C.cff_model_num_parameters(raw, &params) == nil {
		noteCMemory(16 * int64(params)) // weights, gradients, AdamW's two moments: float32 each
	}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// NewModel builds and initialises a model from options (nil: every default).
func NewModel(o *Options) (*Model, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	var opts *C.cff_options
	if o != nil {
		if opts = o.ptr(); opts == nil { // NULL options would silently mean defaults
			return nil, invalid("the options are closed")
		}
	}
	var raw *C.cff_model
	err := statusError(C.cff_model_create(opts, &raw))
	runtime.KeepAlive(o)
	if err != nil {
		return nil, err
	}
	return newModel(raw), nil
}

// NewModelJSON builds a model from a JSON config (missing keys keep their defaults).
func NewModelJSON(json string) (*Model, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	s := C.CString(json)
	defer C.free(unsafe.Pointer(s))
	var raw *C.cff_model
	if err := statusError(C.cff_model_create_json(s, &raw)); err != nil {
		return nil, err
	}
	return newModel(raw), nil
}

// LoadModel reads a checkpoint; device ("" keeps the saved one) overrides the saved device.
func LoadModel(path, device string) (*Model, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	p, d := C.CString(path), C.CString(device)
	defer C.free(unsafe.Pointer(p))
	defer C.free(unsafe.Pointer(d))
	var raw *C.cff_model
	if err := statusError(C.cff_model_load(p, d, &raw)); err != nil {
		return nil, err
	}
	return newModel(raw), nil
}

// Close frees the model. Safe to call twice; later calls on the model fail with
// CodeInvalidArgument.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	if raw := m.raw.Swap(nil); raw != nil {
		C.cff_model_free(raw) // calls still running on other goroutines finish first (cff.h, Threads)
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

// ptr is the C handle, or NULL for a nil or closed Model (the library then reports it).
func (m *Model) ptr() *C.cff_model {
	if m == nil {
		return nil
	}
	return m.raw.Load()
}

func (m *Model) done(s *C.cff_status) error {
	runtime.KeepAlive(m)
	return statusError(s)
}

// Save writes the whole model (config, weights, optimizers, progress, RNG) atomically.
func (m *Model) Save(path string) error {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return m.done(C.cff_model_save(m.ptr(), p))
}

// ExportTorchScript writes the one-pass predictor as a TorchScript module (torch.jit.load):
// forward(x) takes N x C x H x W uint8 or float 0..1 images and returns N x classes logits.
func (m *Model) ExportTorchScript(path string) error {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return m.done(C.cff_model_export_torchscript(m.ptr(), p))
}

// LoadState replaces the model's state with a checkpoint's; unchanged on error.
func (m *Model) LoadState(path string) error {
	p := C.CString(path)
	defer C.free(unsafe.Pointer(p))
	return m.done(C.cff_model_load_state(m.ptr(), p))
}

func (m *Model) NumLayers() (int, error) {
	var v C.int64_t
	err := m.done(C.cff_model_num_layers(m.ptr(), &v))
	return int(v), err
}

func (m *Model) NumClasses() (int, error) {
	var v C.int64_t
	err := m.done(C.cff_model_num_classes(m.ptr(), &v))
	return int(v), err
}

// EmbedDim is the length E of each layer's embedding.
func (m *Model) EmbedDim() (int, error) {
	var v C.int64_t
	err := m.done(C.cff_model_embed_dim(m.ptr(), &v))
	return int(v), err
}

// NumParameters is the number of trainable parameters, encoder and head.
func (m *Model) NumParameters() (int, error) {
	var v C.int64_t
	err := m.done(C.cff_model_num_parameters(m.ptr(), &v))
	return int(v), err
}

// InputShape returns channels, height, width.
func (m *Model) InputShape() (int, int, int, error) {
	var c, h, w C.int64_t
	err := m.done(C.cff_model_input_shape(m.ptr(), &c, &h, &w))
	return int(c), int(h), int(w), err
}

// Progress returns Fit's stage (1 encoder, 2 head, 3 finished) and completed epochs.
func (m *Model) Progress() (stage, epoch int, err error) {
	var s, e C.int64_t
	err = m.done(C.cff_model_progress(m.ptr(), &s, &e))
	return int(s), int(e), err
}

func (m *Model) takeString(f func(**C.char) *C.cff_status) (string, error) {
	var out *C.char
	if err := m.done(f(&out)); err != nil {
		return "", err
	}
	defer C.cff_string_free(out)
	return C.GoString(out), nil
}

// Device is the device the model runs on, e.g. "cpu".
func (m *Model) Device() (string, error) {
	return m.takeString(func(out **C.char) *C.cff_status { return C.cff_model_device(m.ptr(), out) })
}

// ConfigJSON is the model's complete JSON config.
func (m *Model) ConfigJSON() (string, error) {
	return m.takeString(func(out **C.char) *C.cff_status { return C.cff_model_config_json(m.ptr(), out) })
}

func (m *Model) SetFFPrediction(mode FFPrediction) error {
	return m.done(C.cff_model_set_ff_prediction(m.ptr(), C.cff_ff_prediction(mode)))
}

// SetLRScale makes every layer train at scale x lr and the head at scale x head lr from now on
// (a schedule of your own when training step by step; see LRScheduleScale).
func (m *Model) SetLRScale(scale float64) error {
	return m.done(C.cff_model_set_lr_scale(m.ptr(), C.double(scale)))
}

// SetParallel sets layer-parallel training for the next Fit calls (experimental), as the JSON
// object of cff_model_set_parallel (cff.h): {"pipeline": true, "stages": 2} for the in-process
// pipeline, {"mode": "data"} (or "pipeline", "pipeline,data") across processes launched with
// torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT; "{}" restores the defaults.
func (m *Model) SetParallel(json string) error {
	s := C.CString(json)
	defer C.free(unsafe.Pointer(s))
	return m.done(C.cff_model_set_parallel(m.ptr(), s))
}

func (m *Model) lossBuffer() ([]float64, error) {
	n, err := m.NumLayers()
	if err != nil {
		return nil, err
	}
	if n < 1 {
		n = 1
	}
	return make([]float64, n), nil
}

func bool32(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// Step is one local update of every layer on a labelled batch (stage 1); it returns the
// per-layer losses.
func (m *Model) Step(b *Batch) ([]float64, error) {
	return m.perLayer(b, func(s *C.cffgo_shape, im unsafe.Pointer, lb *C.int64_t, out *C.double, size C.int64_t,
		n *C.int64_t) *C.cff_status {
		return C.cffgo_step(m.ptr(), s, im, lb, out, size, n)
	})
}

// LayerLosses are the per-layer local losses without any update.
func (m *Model) LayerLosses(b *Batch, augment bool) ([]float64, error) {
	return m.perLayer(b, func(s *C.cffgo_shape, im unsafe.Pointer, lb *C.int64_t, out *C.double, size C.int64_t,
		n *C.int64_t) *C.cff_status {
		return C.cffgo_layer_losses(m.ptr(), s, im, lb, bool32(augment), out, size, n)
	})
}

// perLayer passes batch b and a buffer of one loss per layer to a C call that fills it.
func (m *Model) perLayer(b *Batch, call func(*C.cffgo_shape, unsafe.Pointer, *C.int64_t, *C.double, C.int64_t,
	*C.int64_t) *C.cff_status) ([]float64, error) {
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return nil, err
	}
	losses, err := m.lossBuffer()
	if err != nil {
		return nil, err
	}
	var n C.int64_t
	err = m.done(call(s, im, lb, (*C.double)(&losses[0]), C.int64_t(len(losses)), &n))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return losses[:n], nil
}

// HeadStep is one cross-entropy update of the linear head on the frozen encoder.
func (m *Model) HeadStep(b *Batch) (float64, error) {
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return 0, err
	}
	var loss C.double
	err = m.done(C.cffgo_head_step(m.ptr(), s, im, lb, &loss))
	runtime.KeepAlive(b)
	return float64(loss), err
}

// HeadLoss is the head's cross-entropy on a batch without update.
func (m *Model) HeadLoss(b *Batch) (float64, error) {
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return 0, err
	}
	var loss C.double
	err = m.done(C.cffgo_head_loss(m.ptr(), s, im, lb, &loss))
	runtime.KeepAlive(b)
	return float64(loss), err
}

// Prediction holds top-1 labels, per-class scores (row-major count x Classes) and the top-K
// classes (row-major count x K) of a batch.
type Prediction struct {
	Labels     []int64
	Scores     []float32
	TopK       []int64
	Classes, K int
}

// Predict returns the top-1 labels of a batch (Labels of the batch are ignored).
func (m *Model) Predict(b *Batch) ([]int64, error) {
	s, im, _, err := b.cargs(false)
	if err != nil {
		return nil, err
	}
	n := b.Shape[0]
	labels := make([]int64, n+1) // never empty: the library reports an empty batch
	err = m.done(C.cffgo_predict(m.ptr(), s, im, 1, (*C.int64_t)(unsafe.Pointer(&labels[0])), C.int64_t(n),
		nil, 0, nil, 0))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return labels[:n], nil
}

// PredictFull returns labels, scores and the top-k classes of a batch.
func (m *Model) PredictFull(b *Batch, k int) (*Prediction, error) {
	s, im, _, err := b.cargs(false)
	if err != nil {
		return nil, err
	}
	classes, err := m.NumClasses()
	if err != nil {
		return nil, err
	}
	n := b.Shape[0]
	if k < 0 {
		k = 0 // the library reports the bad k
	}
	p := &Prediction{Labels: make([]int64, n+1), Scores: make([]float32, n*classes+1), TopK: make([]int64, n*k+1),
		Classes: classes, K: k}
	err = m.done(C.cffgo_predict(m.ptr(), s, im, C.int64_t(k),
		(*C.int64_t)(unsafe.Pointer(&p.Labels[0])), C.int64_t(n),
		(*C.float)(unsafe.Pointer(&p.Scores[0])), C.int64_t(n*classes),
		(*C.int64_t)(unsafe.Pointer(&p.TopK[0])), C.int64_t(n*k)))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	p.Labels, p.Scores, p.TopK = p.Labels[:n], p.Scores[:n*classes], p.TopK[:n*k]
	return p, nil
}

// Embed returns the pooled representation of layer `layer` for every image (row-major count x E).
func (m *Model) Embed(b *Batch, layer int) ([]float32, error) {
	s, im, _, err := b.cargs(false)
	if err != nil {
		return nil, err
	}
	e, err := m.EmbedDim()
	if err != nil {
		return nil, err
	}
	out := make([]float32, b.Shape[0]*e+1)
	err = m.done(C.cffgo_embed(m.ptr(), s, im, C.int64_t(layer), (*C.float)(unsafe.Pointer(&out[0])),
		C.int64_t(b.Shape[0]*e)))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return out[:b.Shape[0]*e], nil
}

// Evaluate returns the top-k accuracy on a labelled batch for each k in ks.
func (m *Model) Evaluate(b *Batch, ks ...int64) ([]float64, error) {
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ks)+1)
	var kp *C.int64_t
	if len(ks) > 0 {
		kp = (*C.int64_t)(unsafe.Pointer(&ks[0]))
	}
	err = m.done(C.cffgo_evaluate(m.ptr(), s, im, lb, kp, C.int64_t(len(ks)), (*C.double)(&out[0])))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return out[:len(ks)], nil
}

// EvaluateDataset returns the top-k accuracy over a whole dataset for each k in ks.
func (m *Model) EvaluateDataset(d *Dataset, ks ...int64) ([]float64, error) {
	out := make([]float64, len(ks)+1)
	var kp *C.int64_t
	if len(ks) > 0 {
		kp = (*C.int64_t)(unsafe.Pointer(&ks[0]))
	}
	err := m.done(C.cff_model_evaluate_dataset(m.ptr(), d.ptr(), kp, C.int64_t(len(ks)), (*C.double)(&out[0])))
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return out[:len(ks)], nil
}

// ProgressInfo is what a Fit callback receives (copied out of the library's struct).
type ProgressInfo struct {
	EndOfEpoch                           bool
	Stage, Epoch, Epochs, Batch, Batches int
	Losses, ValLosses                    []float64 // ValLosses is nil after a batch
	Seconds                              float64
	Message                              string
}

type fitState struct {
	callback func(ProgressInfo) bool
	panic    any
}

// Fit trains stage 1 then stage 2 on a dataset (see cff_model_fit). progress, when not nil, sees
// every batch and epoch and returns false to stop; stopped reports that it did. checkpoint, when
// not "", is written after every epoch.
func (m *Model) Fit(train *Dataset, checkpoint string, progress func(ProgressInfo) bool) (stopped bool, err error) {
	var ck *C.char
	if checkpoint != "" {
		ck = C.CString(checkpoint)
		defer C.free(unsafe.Pointer(ck))
	}
	var out C.int32_t
	var state *fitState
	var use C.int
	var handle cgo.Handle
	if progress != nil {
		state = &fitState{callback: progress}
		handle = cgo.NewHandle(state)
		defer handle.Delete()
		use = 1
	}
	err = m.done(C.cffgo_fit(m.ptr(), train.ptr(), use, C.uintptr_t(handle), ck, &out))
	runtime.KeepAlive(train)
	if state != nil && state.panic != nil {
		panic(state.panic)
	}
	return out != 0, err
}

// NewDataset copies a labelled batch into a new dataset of numClasses classes.
func NewDataset(b *Batch, numClasses int) (*Dataset, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return nil, err
	}
	var raw *C.cff_dataset
	err = statusError(C.cffgo_dataset_create(s, im, lb, C.int64_t(numClasses), &raw))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	return newDataset(raw), nil
}

// LayerBatch holds the activations entering one layer for one batch (see Model.NewLayerBatch).
type LayerBatch struct {
	raw atomic.Pointer[C.cff_layer_batch] // nil once closed
}

// NewLayerBatch prepares a labelled batch for layer-by-layer training with TrainLayer.
func (m *Model) NewLayerBatch(b *Batch, augment bool) (*LayerBatch, error) {
	s, im, lb, err := b.cargs(true)
	if err != nil {
		return nil, err
	}
	var raw *C.cff_layer_batch
	err = m.done(C.cffgo_layer_batch_create(m.ptr(), s, im, lb, bool32(augment), &raw))
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	l := &LayerBatch{}
	l.raw.Store(raw)
	runtime.SetFinalizer(l, (*LayerBatch).Close)
	return l, nil
}

// Close frees the layer batch (before or after its model). Safe to call twice.
func (l *LayerBatch) Close() error {
	if l == nil {
		return nil
	}
	if raw := l.raw.Swap(nil); raw != nil {
		C.cff_layer_batch_free(raw) // calls still running on other goroutines finish first (cff.h, Threads)
		runtime.SetFinalizer(l, nil)
	}
	return nil
}

// ptr is the C handle, or NULL for a nil or closed LayerBatch (the library then reports it).
func (l *LayerBatch) ptr() *C.cff_layer_batch {
	if l == nil {
		return nil
	}
	return l.raw.Load()
}

// NextLayer is the layer the batch enters next (0 after creation, L when done).
func (l *LayerBatch) NextLayer() (int, error) {
	var v C.int64_t
	err := statusError(C.cff_layer_batch_next_layer(l.ptr(), &v))
	runtime.KeepAlive(l)
	return int(v), err
}

// TrainLayer is one local update of layer `layer` on a layer batch, which moves on to layer+1.
func (m *Model) TrainLayer(l *LayerBatch, layer int) (float64, error) {
	var loss C.double
	err := m.done(C.cff_model_train_layer(m.ptr(), l.ptr(), C.int64_t(layer), &loss))
	runtime.KeepAlive(l)
	return float64(loss), err
}
