//go:build cff_pkgconfig

package cff

// Flags from `pkg-config --cflags --libs cff` (an installed libcff; set PKG_CONFIG_PATH for a
// non-default prefix).

// #cgo pkg-config: cff
import "C"
