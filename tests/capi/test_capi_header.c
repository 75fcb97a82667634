/* Header test: cff.h alone compiles as C99 with -Wall -Wextra -pedantic -Werror (and, as
 * test_capi_header.cpp, as C++). Everything it declares must be usable from C. */
#include "cff.h"

#if !defined(CFF_ABI_VERSION) || !defined(CFF_VERSION_STRING)
#error "cff.h must define CFF_ABI_VERSION and CFF_VERSION_STRING"
#endif

/* cff_batch has only fixed-width fields: the same layout in every language (bindings assert it). */
typedef char cff_batch_is_80_bytes[sizeof(cff_batch) == 80 ? 1 : -1];
typedef char cff_batch_images_at_16[offsetof(cff_batch, images) == 16 ? 1 : -1];

int cff_header_test(void);
int cff_header_test(void) {
  cff_batch batch = CFF_BATCH_INIT;
  cff_progress_fn fn = 0;
  (void)fn;
  return (int)batch.struct_size + (int)CFF_CODE_INTERNAL + (int)CFF_LAYOUT_NHWC;
}
