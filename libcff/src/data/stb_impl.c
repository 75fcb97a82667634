/* stb_image and stb_image_resize compiled into libcff (CFF_STB_FROM_SOURCE, the fuzz build), in
 * place of Debian's prebuilt libstb, so that the decoders are instrumented like the rest. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_resize.h>
