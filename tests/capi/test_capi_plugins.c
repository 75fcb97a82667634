/* Plugin loading through the C API, compiled as C: load a sample loss plugin by path, train with
 * it by name, list it, unload it; refused files give PLUGIN errors naming the file.
 * Usage: test_capi_plugins PLUGIN.so SCRATCH_DIR */
#include "capi_test.h"

static int listed(const char* name) {
  cff_provider_list* list = NULL;
  int64_t count = 0, i;
  int found = 0;
  CHECK_OK(cff_provider_list_create(CFF_PROVIDER_KIND_LOSS, &list));
  CHECK_OK(cff_provider_list_count(list, &count));
  for (i = 0; i < count; ++i) {
    const char* n = NULL;
    CHECK_OK(cff_provider_list_get(list, i, &n, NULL, NULL, NULL));
    if (n && strcmp(n, name) == 0) found = 1;
  }
  cff_provider_list_free(list);
  return found;
}

int main(int argc, char** argv) {
  char* name = NULL;
  char bogus[4096];
  FILE* f;
  int32_t unloaded = -1;
  uint8_t images[32 * kPixels];
  int64_t labels[32];
  double losses[2] = {0, 0};
  cff_options* o;
  cff_model* m = NULL;
  cff_batch b;
  if (argc < 3) {
    fprintf(stderr, "usage: %s PLUGIN.so SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  (void)tiny_model; /* shared helper of capi_test.h this test does not need */
  CHECK(cff_plugin_abi_version() >= 1);
  CHECK(!listed("cosine-margin"));

  CHECK_OK(cff_plugin_load(argv[1], &name));
  CHECK(name != NULL && strcmp(name, "cosine-margin-sample") == 0);
  cff_string_free(name);
  CHECK_OK(cff_plugin_load(argv[1], NULL)); /* a second load of the same file is a no-op */
  CHECK(listed("cosine-margin"));

  /* Train one step with the plugin's loss, chosen by name like a built-in. */
  make_images(images, labels, 32, 3);
  b = make_batch(images, labels, 32);
  o = tiny_options();
  CHECK_OK(cff_options_set_loss(o, "cosine-margin"));
  CHECK_OK(cff_model_create(o, &m));
  cff_options_free(o);
  CHECK_OK(cff_model_step(m, &b, losses, 2, NULL));
  CHECK(losses[0] > 0 && losses[1] > 0);
  cff_model_free(m);

  CHECK_OK(cff_plugin_unload(argv[1], &unloaded));
  CHECK(unloaded == 1);
  CHECK(!listed("cosine-margin"));
  CHECK_OK(cff_plugin_unload(argv[1], &unloaded));
  CHECK(unloaded == 0);

  /* Refusals: missing file, a text file named .so, NULL path. */
  snprintf(bogus, sizeof bogus, "%s/not-a-plugin.so", argv[2]);
  f = fopen(bogus, "w");
  CHECK(f != NULL);
  if (f) {
    fputs("this is text, not a shared library\n", f);
    fclose(f);
  }
  CHECK_CODE(cff_plugin_load(bogus, NULL), CFF_CODE_PLUGIN, "not-a-plugin.so");
  CHECK_CODE(cff_plugin_load("/no/such/plugin.so", NULL), CFF_CODE_PLUGIN, "/no/such/plugin.so");
  CHECK_CODE(cff_plugin_load(NULL, NULL), CFF_CODE_INVALID_ARGUMENT, "path");
  CHECK_CODE(cff_plugin_unload(NULL, NULL), CFF_CODE_INVALID_ARGUMENT, "path");
  TEST_EXIT();
}
