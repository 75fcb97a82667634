/* Trains one step of a tiny model through the installed C API, found by CMake's C component. */
#include <stdio.h>
#include <string.h>

#include <cff.h>

int main(void) {
  uint8_t images[6 * 16];
  int64_t labels[6] = {0, 1, 0, 1, 0, 1};
  double losses[2];
  cff_model* model = NULL;
  cff_batch b = CFF_BATCH_INIT;
  cff_status* s;
  int i;
  for (i = 0; i < 6 * 16; ++i) images[i] = (uint8_t)(i * 37 % 256);
  if ((s = cff_abi_check(CFF_ABI_VERSION)) ||
      (s = cff_model_create_json("{\"model\": {\"embed_dim\": 8, \"num_layers\": 2, \"height\": 4, \"width\": 4,"
                                 " \"num_classes\": 2}, \"train\": {\"device\": \"cpu\"}}", &model))) {
    fprintf(stderr, "%s\n", cff_status_message(s));
    return 1;
  }
  b.images = images;
  b.images_length = 6 * 16;
  b.labels = labels;
  b.labels_length = 6;
  b.count = 6;
  b.channels = 1;
  b.height = b.width = 4;
  s = cff_model_step(model, &b, losses, 2, NULL);
  cff_model_free(model);
  if (s) {
    fprintf(stderr, "%s\n", cff_status_message(s));
    return 1;
  }
  printf("C consumer ok: libcff %s, ABI %u\n", cff_version(), (unsigned)cff_abi_version());
  return strcmp(cff_version(), CFF_VERSION_STRING) == 0 ? 0 : 1;
}
