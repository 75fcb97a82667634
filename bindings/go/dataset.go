package cff

/*
#include <stdlib.h>
#include <cff.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Dataset is a labelled image set held by the library; immutable, safe to share.
type Dataset struct {
	raw *C.cff_dataset
}

func newDataset(raw *C.cff_dataset) *Dataset {
	d := &Dataset{raw: raw}
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
	if d.raw != nil {
		C.cff_dataset_free(d.raw)
		d.raw = nil
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

// Slice returns a copy of rows start .. start+count-1.
func (d *Dataset) Slice(start, count int) (*Dataset, error) {
	var raw *C.cff_dataset
	err := statusError(C.cff_dataset_slice(d.raw, C.int64_t(start), C.int64_t(count), &raw))
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
	err := statusError(C.cff_dataset_info(d.raw, &n, &c, &h, &w, &dt, &k))
	runtime.KeepAlive(d)
	return DatasetInfo{int(n), int(c), int(h), int(w), DType(dt), int(k)}, err
}

func (d *Dataset) pixels(count int) (int, error) {
	info, err := d.Info()
	if err != nil || count < 0 {
		return 0, err
	}
	return count * info.Channels * info.Height * info.Width, nil
}

func (d *Dataset) images(start, count int, dtype DType, out unsafe.Pointer, n int) error {
	err := statusError(C.cff_dataset_images(d.raw, C.int64_t(start), C.int64_t(count), C.cff_dtype(dtype), out, C.int64_t(n)))
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
	if count < 0 {
		count = 0
	}
	out := make([]int64, count+1)
	err := statusError(C.cff_dataset_labels(d.raw, C.int64_t(start), C.int64_t(count),
		(*C.int64_t)(unsafe.Pointer(&out[0])), C.int64_t(count)))
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return out[:count], nil
}

// ClassName is the name of class index (e.g. "T-shirt/top"; the number as text without names).
func (d *Dataset) ClassName(index int) (string, error) {
	var name *C.char
	err := statusError(C.cff_dataset_class_name(d.raw, C.int64_t(index), &name))
	if err != nil {
		return "", err
	}
	s := C.GoString(name) // copy before the dataset may be freed
	runtime.KeepAlive(d)
	return s, nil
}
