// Package cff is the Go binding of libcff: it trains neural networks layer by layer with local
// losses (Contrastive Forward-Forward, arXiv 2502.00571) through libcff's C API (cff.h).
//
// Objects (Options, Model, LayerBatch, Dataset) own a C handle: call Close when done; a finalizer
// frees a forgotten one, but only when the garbage collector runs. Failures are *Error values
// carrying the library's code and message. Image buffers are Go slices described by a Batch; the
// library reads them during the call only and keeps no pointer to them.
//
// Threads (from cff.h): calls on one Model are serialised by the library, so a Model may be shared
// by goroutines; a Dataset is immutable; Options must not be changed from two goroutines at once.
// Close must not race with other calls on the same object.
package cff

/*
#include <stdlib.h>
#include <cff.h>

// The log trampoline is exported from callback.go.
extern void cffgoLog(int32_t level, char* message, void* user_data);
static void cffgo_log_set(void) { cff_log_set((cff_log_fn)cffgoLog, NULL); }
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// ABIVersion is the ABI version (CFF_ABI_VERSION in cff.h) this package was written for. The
// library's must be equal: every constructor checks it once and refuses a mismatch.
const ABIVersion = 2

// Code is the kind of a failure (cff_code). Values are pinned; a value this package does not
// know is still a failure.
type Code int

const (
	CodeOK              Code = 0
	CodeInvalidArgument Code = 1
	CodeIO              Code = 2
	CodeFormat          Code = 3
	CodeState           Code = 4
	CodePlugin          Code = 5
	CodeUnsupported     Code = 6
	CodeNumerics        Code = 7
	CodeOutOfMemory     Code = 8
	CodeInternal        Code = 9
)

// String returns the C name of the code, e.g. "CFF_CODE_IO".
func (c Code) String() string {
	return C.GoString(C.cff_code_name(C.cff_code(c)))
}

// Error is a failure reported by libcff (or by this package before calling it).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// Is makes errors.Is(err, cff.ErrIO) (and the other sentinels) match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument}
	ErrIO              = &Error{Code: CodeIO}
	ErrFormat          = &Error{Code: CodeFormat}
	ErrState           = &Error{Code: CodeState}
	ErrPlugin          = &Error{Code: CodePlugin}
	ErrUnsupported     = &Error{Code: CodeUnsupported}
	ErrNumerics        = &Error{Code: CodeNumerics}
)

// statusError turns a returned status into an error, copying its message and freeing it.
func statusError(s *C.cff_status) error {
	if s == nil {
		return nil
	}
	defer C.cff_status_free(s)
	return &Error{Code: Code(C.cff_status_code(s)), Message: C.GoString(C.cff_status_message(s))}
}

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// Version is the library's release version, e.g. "0.1.0".
func Version() string { return C.GoString(C.cff_version()) }

// LibraryABIVersion is the ABI version of the loaded library.
func LibraryABIVersion() uint32 { return uint32(C.cff_abi_version()) }

// TorchVersion is the LibTorch version the library was built against.
func TorchVersion() string { return C.GoString(C.cff_torch_version()) }

// CheckABI compares the ABI version a binding was written for with the library's.
func CheckABI(expected, library uint32) error {
	if expected == library {
		return nil
	}
	return &Error{Code: CodeUnsupported, Message: fmt.Sprintf(
		"libcff_c has ABI version %d but this Go binding was written for ABI version %d; "+
			"rebuild the binding against the installed cff.h", library, expected)}
}

var (
	abiOnce sync.Once
	abiErr  error
)

func ensureABI() error {
	abiOnce.Do(func() {
		// cff_abi_version exists in every ABI: compare first; then the library's own verdict.
		if abiErr = CheckABI(ABIVersion, LibraryABIVersion()); abiErr == nil {
			abiErr = statusError(C.cff_abi_check(C.uint32_t(ABIVersion)))
		}
	})
	return abiErr
}

// SetThreads sets the CPU threads LibTorch uses, process-wide (0 = every core).
func SetThreads(threads int) error {
	if err := ensureABI(); err != nil {
		return err
	}
	return statusError(C.cff_threads_set(C.int64_t(threads)))
}

// PluginABIVersion is the plugin ABI version the library loads.
func PluginABIVersion() uint32 { return uint32(C.cff_plugin_abi_version()) }

// SetLimit sets one of the input limits (cff_limit_set): "max_image_pixels", "max_file_bytes",
// "max_data_bytes" or "max_parameters".
func SetLimit(name string, value int64) error {
	s := C.CString(name)
	defer C.free(unsafe.Pointer(s))
	return statusError(C.cff_limit_set(s, C.int64_t(value)))
}

// LRScheduleScale is the lr factor Fit applies at step of totalSteps: 1 for the constant schedule,
// 0.5 (1 + cos(pi step / totalSteps)) for cosine.
func LRScheduleScale(cosine bool, step, totalSteps int) (float64, error) {
	if err := ensureABI(); err != nil {
		return 0, err
	}
	schedule := C.int32_t(C.CFF_LR_SCHEDULE_CONSTANT)
	if cosine {
		schedule = C.CFF_LR_SCHEDULE_COSINE
	}
	var out C.double
	err := statusError(C.cff_lr_schedule_scale(schedule, C.int64_t(step), C.int64_t(totalSteps), &out))
	return float64(out), err
}

// DiscoverPlugins loads every libcff-plugin-*.so on the plugin search path (once) and returns how
// many files loaded and failed.
func DiscoverPlugins() (loaded, failed int, err error) {
	if err := ensureABI(); err != nil {
		return 0, 0, err
	}
	var l, f C.int64_t
	err = statusError(C.cff_plugins_discover(&l, &f))
	return int(l), int(f), err
}

// SetLogHandler installs f for the library's messages (level 0 debug .. 3 error; e.g. a skipped
// image file, a plugin that differs from the recorded one); nil drops them, the default. f may be
// called from library threads and must not call into the library.
func SetLogHandler(f func(level int, message string)) {
	if f == nil {
		C.cff_log_set(nil, nil)
		logHandler.Store(nil)
		return
	}
	logHandler.Store(&f)
	C.cffgo_log_set()
}

// LoadPlugin loads a loss/augmentation plugin (a shared library) and returns the plugin's name;
// its providers are then usable by name in loss/augment specs. The error (code ErrPlugin) names
// the file and the problem.
func LoadPlugin(path string) (string, error) {
	if err := ensureABI(); err != nil {
		return "", err
	}
	s := C.CString(path)
	defer C.free(unsafe.Pointer(s))
	var out *C.char
	if err := statusError(C.cff_plugin_load(s, &out)); err != nil {
		return "", err
	}
	defer C.cff_string_free(out)
	return C.GoString(out), nil
}

// UnloadPlugin removes a loaded plugin's providers; it reports false if the file was not loaded.
func UnloadPlugin(path string) (bool, error) {
	if err := ensureABI(); err != nil {
		return false, err
	}
	s := C.CString(path)
	defer C.free(unsafe.Pointer(s))
	var unloaded C.int32_t
	if err := statusError(C.cff_plugin_unload(s, &unloaded)); err != nil {
		return false, err
	}
	return unloaded != 0, nil
}

// DeviceCheck reports whether device ("auto", "cpu", "cuda", "cuda:N") is usable.
func DeviceCheck(device string) error {
	if err := ensureABI(); err != nil {
		return err
	}
	s := C.CString(device)
	defer C.free(unsafe.Pointer(s))
	return statusError(C.cff_device_check(s))
}

// Enumerations (values pinned by cff.h).
type (
	Arch         int
	Algorithm    int
	Precision    int
	Pooling      int
	FFPrediction int
	ProviderKind int
	Layout       int
	DType        int
)

const (
	ArchMLP Arch = 0
	ArchViT Arch = 1

	AlgorithmContrastive    Algorithm = 0
	AlgorithmForwardForward Algorithm = 1
	AlgorithmBackprop       Algorithm = 2

	PrecisionFloat32  Precision = 0
	PrecisionBFloat16 Precision = 1
	PrecisionAuto     Precision = 2 // bf16 on CUDA and on CPUs with AMX/AVX512-BF16, else float32 (the default)

	PoolingMean       Pooling = 0
	PoolingClassToken Pooling = 1

	FFPredictionGoodness FFPrediction = 0
	FFPredictionHead     FFPrediction = 1

	ProviderLoss         ProviderKind = 0
	ProviderAugmentation ProviderKind = 1

	NCHW Layout = 0
	NHWC Layout = 1

	Uint8   DType = 0
	Float32 DType = 1
)

// Provider is a registered loss or augmentation (built-in or from a plugin).
type Provider struct {
	Name, Description, Params, Origin string
}

// Providers lists the registered providers of a kind, sorted by name.
func Providers(kind ProviderKind) ([]Provider, error) {
	if err := ensureABI(); err != nil {
		return nil, err
	}
	var list *C.cff_provider_list
	if err := statusError(C.cff_provider_list_create(C.cff_provider_kind(kind), &list)); err != nil {
		return nil, err
	}
	defer C.cff_provider_list_free(list)
	var count C.int64_t
	if err := statusError(C.cff_provider_list_count(list, &count)); err != nil {
		return nil, err
	}
	out := make([]Provider, 0, int(count))
	for i := C.int64_t(0); i < count; i++ {
		var n, d, p, o *C.char
		if err := statusError(C.cff_provider_list_get(list, i, &n, &d, &p, &o)); err != nil {
			return nil, err
		}
		out = append(out, Provider{C.GoString(n), C.GoString(d), C.GoString(p), C.GoString(o)})
	}
	return out, nil
}
