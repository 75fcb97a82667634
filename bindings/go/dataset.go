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

// Dataset is a labelled image set held by the library (C memory); immutable, safe to share.
// Close it when done: a finalizer frees it too, but only after a collection.
type Dataset struct {
	raw   atomic.Pointer[C.cff_dataset] // nil once closed
	bytes int64                         // C memory it holds
}

// cMemorySinceGC counts the C memory of datasets and models made since the last collection
// started here. The Go collector cannot see C memory, so a program that drops them without Close
// would grow by gigabytes before a collection ran their finalizers: every cGCStep bytes (64 MiB)
// of new C memory, a collection is started.
var cMemorySinceGC atomic.Int64

const cGCStep = 64 << 20

// noteCMemory counts bytes of new C memory and starts a collection every cGCStep bytes, so that
// finalizers of unreachable objects free theirs.
func noteCMemory(bytes int64) {
	if cMemorySinceGC.Add(bytes) > cGCStep {
		cMemorySinceGC.Store(0)
		runtime.GC()
	}
}

func newDataset(raw *C.cff_dataset) *Dataset {
	d := &Dataset{}
	d.raw.Store(raw)
	var n, c, h, w, k C.int64_t
	var dt C.cff_dtype
	if C.cff_dataset_info(raw, &n, &c, &h, &w, &dt, &k) == nil {
		elem := int64(1)
		if dt == C.CFF_DTYPE_FLOAT32 {
			elem = 4
		}
		d.bytes = int64(n) * (int64(c)*int64(h)*int64(w)*elem + 8) // images and int64 labels
	}
	noteCMemory(d.bytes)
	runtime.SetFinalizer(d, (*Dataset).Close)
	return d
}

// LoadIDX reads an IDX folder in MNIST layout (e.g. /usr/share/datasets/fashion-mnist); part is
// "train" or "test".
func LoadIDX(folder, part string) (*Dataset, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	f, p := C.CString(folder), C.CString(part)
	defer C.free(unsafe.Pointer(f))
	defer C.free(unsafe.Pointer(p))
	var raw *C.cff_dataset
	if err := statusError(C.cff_dataset_load_idx(f, p, &raw)); err != nil {
		return nil, err
	}
	return newDataset(raw), nil
}

// Close frees the dataset. Safe to call twice.
func (d *Dataset) Close() error {
	if d == nil {
		return nil
	}
	if raw := d.raw.Swap(nil); raw != nil {
		C.cff_dataset_free(raw) // calls still running on other goroutines finish first (cff.h, Threads)
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

// ptr is the C handle, or NULL for a nil or closed Dataset (the library then reports it).
func (d *Dataset) ptr() *C.cff_dataset {
	if d == nil {
		return nil
	}
	return d.raw.Load()
}

// Slice returns a copy of rows start .. start+count-1.
func (d *Dataset) Slice(start, count int) (*Dataset, error) {
	var raw *C.cff_dataset
	err := statusError(C.cff_dataset_slice(d.ptr(), C.int64_t(start), C.int64_t(count), &raw))
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return newDataset(raw), nil
}

// DatasetInfo is a dataset's size, image shape, stored element type and number of classes.
type DatasetInfo struct {
	Count, Channels, Height, Width int
	DType                          DType
	NumClasses                     int
}

func (d *Dataset) Info() (DatasetInfo, error) {
	var n, c, h, w, k C.int64_t
	var dt C.cff_dtype
	err := statusError(C.cff_dataset_info(d.ptr(), &n, &c, &h, &w, &dt, &k))
	runtime.KeepAlive(d)
	return DatasetInfo{int(n), int(c), int(h), int(w), DType(dt), int(k)}, err
}

func (d *Dataset) pixels(count int) (int, error) {
	info, err := d.Info()
	if err != nil || count < 0 || count > info.Count {
		return 0, err // an empty buffer: the library names the bad rows
	}
	return count * info.Channels * info.Height * info.Width, nil
}

func (d *Dataset) images(start, count int, dtype DType, out unsafe.Pointer, n int) error {
	err := statusError(C.cff_dataset_images(d.ptr(), C.int64_t(start), C.int64_t(count), C.cff_dtype(dtype), out, C.int64_t(n)))
	runtime.KeepAlive(d)
	return err
}

// ImagesUint8 copies images start .. start+count-1 as NCHW uint8.
func (d *Dataset) ImagesUint8(start, count int) ([]uint8, error) {
	n, err := d.pixels(count)
	if err != nil {
		return nil, err
	}
	out := make([]uint8, n+1) // +1: a valid pointer even when n is 0
	if err := d.images(start, count, Uint8, unsafe.Pointer(&out[0]), n); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// ImagesFloat32 copies images start .. start+count-1 as NCHW float32 in 0..1.
func (d *Dataset) ImagesFloat32(start, count int) ([]float32, error) {
	n, err := d.pixels(count)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n+1)
	if err := d.images(start, count, Float32, unsafe.Pointer(&out[0]), n); err != nil {
		return nil, err
	}
	return out[:n], nil
}

// Labels copies labels start .. start+count-1.
func (d *Dataset) Labels(start, count int) ([]int64, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	n := count
	if n < 0 || n > info.Count {
		n = 0 // an empty buffer: the library names the bad rows
	}
	out := make([]int64, n+1)
	err = statusError(C.cff_dataset_labels(d.ptr(), C.int64_t(start), C.int64_t(count),
		(*C.int64_t)(unsafe.Pointer(&out[0])), C.int64_t(n)))
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// ClassName is the name of class index (e.g. "T-shirt/top"; the number as text without names).
func (d *Dataset) ClassName(index int) (string, error) {
	var name *C.char
	err := statusError(C.cff_dataset_class_name(d.ptr(), C.int64_t(index), &name))
	if err != nil {
		return "", err
	}
	s := C.GoString(name) // copy before the dataset may be freed
	runtime.KeepAlive(d)
	return s, nil
}

// Normalization returns the per-channel mean and standard deviation of the images scaled to
// [0, 1], as Fit computes them (for Options.SetNormalization when training step by step).
func (d *Dataset) Normalization() (mean, std []float64, err error) {
	info, err := d.Info()
	if err != nil {
		return nil, nil, err
	}
	mean, std = make([]float64, info.Channels), make([]float64, info.Channels)
	err = statusError(C.cff_dataset_normalization(d.ptr(), (*C.double)(unsafe.Pointer(&mean[0])),
		(*C.double)(unsafe.Pointer(&std[0])), C.int64_t(info.Channels)))
	runtime.KeepAlive(d)
	return mean, std, err
}

// BatchIterator yields a dataset's batches into Go buffers, filled by the library (Dataset.Batches).
// Use it from one goroutine at a time; Close it when done.
type BatchIterator struct {
	raw                 atomic.Pointer[C.cff_batch_iterator]
	batchSize, imageLen int
}

// Batches returns an iterator over batches of batchSize images; with shuffle, epoch e is
// shuffled by (seed, e) as libcff's own loader does. It keeps its own reference to the data.
func (d *Dataset) Batches(batchSize int, seed uint64, shuffle bool) (*BatchIterator, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	flag := C.int32_t(0)
	if shuffle {
		flag = 1
	}
	var raw *C.cff_batch_iterator
	if err := statusError(C.cff_batch_iterator_create(d.ptr(), C.int64_t(batchSize), C.uint64_t(seed), flag, &raw)); err != nil {
		return nil, err
	}
	runtime.KeepAlive(d)
	it := &BatchIterator{batchSize: batchSize, imageLen: info.Channels * info.Height * info.Width}
	it.raw.Store(raw)
	runtime.SetFinalizer(it, (*BatchIterator).Close)
	return it, nil
}

// Next returns the next batch of the current epoch (uint8 pixels, labels, epoch), or nil slices
// once the epoch is over; the call after that starts the next epoch.
func (it *BatchIterator) Next() ([]uint8, []int64, int, error) {
	if it == nil {
		return nil, nil, 0, invalid("the batch iterator is nil")
	}
	images := make([]uint8, it.batchSize*it.imageLen)
	labels := make([]int64, it.batchSize)
	var count, epoch C.int64_t
	err := statusError(C.cff_batch_iterator_next(it.raw.Load(), C.int32_t(Uint8), unsafe.Pointer(&images[0]),
		C.int64_t(len(images)), (*C.int64_t)(unsafe.Pointer(&labels[0])), C.int64_t(len(labels)), &count, &epoch))
	runtime.KeepAlive(it)
	if err != nil || count == 0 {
		return nil, nil, int(epoch), err
	}
	return images[:int(count)*it.imageLen], labels[:count], int(epoch), nil
}

// Close frees the iterator; safe to call twice.
func (it *BatchIterator) Close() {
	if it == nil {
		return
	}
	if raw := it.raw.Swap(nil); raw != nil {
		C.cff_batch_iterator_free(raw)
		runtime.SetFinalizer(it, nil)
	}
}
