//go:build !cff_pkgconfig

package cff

// By default the package links -lcff_c and takes the include and library folders from the
// environment, e.g. for a build tree:
//
//	CGO_CFLAGS="-I$SRC/capi/include" CGO_LDFLAGS="-L$BUILD/capi -Wl,-rpath,$BUILD/capi" go test ./...
//
// Build with -tags cff_pkgconfig to ask pkg-config instead (pkg_config.go).

// #cgo LDFLAGS: -lcff_c
import "C"
