// cff.h: provider listings and plugins.
#include "boundary.hpp"

using namespace cff_c;

extern "C" {

// ==== Providers ==========================================================================================

cff_status* cff_provider_list_create(cff_provider_kind kind, cff_provider_list** out_list) {
  CFF_C_TRY
  check_enum(kind, CFF_PROVIDER_KIND_AUGMENTATION, "provider kind");
  check_out(out_list, "out_list");
  const auto listing = cff::list_providers();  // discovers CFF_PLUGIN_PATH / installed plugins first
  const auto& infos = kind == CFF_PROVIDER_KIND_LOSS ? listing.losses : listing.augmentations;
  auto list = std::make_unique<cff_provider_list>();
  for (const auto& info : infos)
    list->items.push_back({info.name, info.description, join_params(info.params), info.origin});
  *out_list = publish(list.release(), Kind::kProviderList);
  CFF_C_CATCH
}

void cff_provider_list_free(cff_provider_list* list) { release(list, Kind::kProviderList); }

cff_status* cff_provider_list_count(const cff_provider_list* list, int64_t* out_count) {
  CFF_C_TRY
  check_handle(list, Kind::kProviderList, "list");
  *check_out(out_count, "out_count") = int64_t(list->items.size());
  CFF_C_CATCH
}

cff_status* cff_provider_list_get(const cff_provider_list* list, int64_t index, const char** out_name,
                                  const char** out_description, const char** out_params, const char** out_origin) {
  CFF_C_TRY
  check_handle(list, Kind::kProviderList, "list");
  if (index < 0 || index >= int64_t(list->items.size()))
    fail("provider ", index, " out of 0..", int64_t(list->items.size()) - 1);
  const auto& item = list->items[size_t(index)];
  if (out_name) *out_name = item.name.c_str();
  if (out_description) *out_description = item.description.c_str();
  if (out_params) *out_params = item.params.c_str();
  if (out_origin) *out_origin = item.origin.c_str();
  CFF_C_CATCH
}


// ==== Plugins ============================================================================================

uint32_t cff_plugin_abi_version(void) { return uint32_t(cff::plugin_abi_version()); }

cff_status* cff_plugin_load(const char* path, char** out_name) {
  CFF_C_TRY
  const auto info = cff::load_plugin(check_string(path, "path"));
  if (out_name) *out_name = copy_string(info.name);
  CFF_C_CATCH
}

cff_status* cff_plugin_unload(const char* path, int32_t* out_unloaded) {
  CFF_C_TRY
  const bool unloaded = cff::unload_plugin(check_string(path, "path"));
  if (out_unloaded) *out_unloaded = unloaded ? 1 : 0;
  CFF_C_CATCH
}

cff_status* cff_plugins_discover(int64_t* out_loaded, int64_t* out_failed) {
  CFF_C_TRY
  const auto& report = cff::discover_plugins();
  if (out_loaded) *out_loaded = int64_t(report.loaded.size());
  if (out_failed) *out_failed = int64_t(report.failed.size());
  CFF_C_CATCH
}

}  // extern "C"
