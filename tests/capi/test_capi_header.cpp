// Header test: cff.h compiled as C++ (see test_capi_header.c).
#include "test_capi_header.c"
