package cff

// This file exports the Fit progress and log trampolines; cgo allows only declarations in the
// preamble of a file with //export.

/*
#include <cff.h>
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// logHandler is the installed SetLogHandler function (nil: none).
var logHandler atomic.Pointer[func(level int, message string)]

//export cffgoLog
func cffgoLog(level C.int32_t, message *C.char, _ unsafe.Pointer) {
	if h := logHandler.Load(); h != nil {
		defer func() { _ = recover() }() // a panic must not unwind through the library's frames
		(*h)(int(level), C.GoString(message))
	}
}

func copyDoubles(p *C.double, n C.int64_t) []float64 {
	if p == nil || n <= 0 {
		return nil
	}
	return append([]float64(nil), unsafe.Slice((*float64)(unsafe.Pointer(p)), int(n))...)
}

//export cffgoProgress
func cffgoProgress(p *C.cff_progress, user unsafe.Pointer) (stop C.int32_t) {
	state := cgo.Handle(uintptr(user)).Value().(*fitState)
	// A panic must not unwind through the library's C++ frames: stop the run, re-panic in Fit.
	defer func() {
		if r := recover(); r != nil {
			state.panic = fmt.Sprint(r)
			stop = 1
		}
	}()
	info := ProgressInfo{
		EndOfEpoch: p.end_of_epoch != 0,
		Stage:      int(p.stage), Epoch: int(p.epoch), Epochs: int(p.epochs),
		Batch: int(p.batch), Batches: int(p.batches),
		Losses:  copyDoubles(p.losses, p.num_losses),
		Seconds: float64(p.seconds),
		Message: C.GoString(p.message),
	}
	if p.val_losses != nil {
		info.ValLosses = copyDoubles(p.val_losses, p.num_val_losses)
	}
	if state.callback(info) {
		return 0
	}
	return 1
}
