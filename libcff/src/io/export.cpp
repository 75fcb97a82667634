// `cff export`: the model's weights as a pickled dict PyTorch's torch.load reads.
#include <fstream>

#include "cff/diagnostics.hpp"
#include "cff/error.hpp"

namespace cff {

void export_state_dict(const Trainer& trainer, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : trainer.named_tensors()) dict.insert(name, tensor.contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

std::vector<std::pair<std::string, torch::Tensor>> load_state_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CFF_CHECK_CODE(in.good(), ErrorCode::kIo, path, ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    detail::throw_error(ErrorCode::kFormat, path, ": not a pickled state dict (", msg.substr(0, msg.find('\n')), ")");
  }
  CFF_CHECK_CODE(value.isGenericDict(), ErrorCode::kFormat, path, ": holds a ", value.tagKind(), ", not a dict");
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : value.toGenericDict()) {
    CFF_CHECK_CODE(item.key().isString() && item.value().isTensor(), ErrorCode::kFormat, path,
                   ": entries must be name -> tensor");
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

}  // namespace cff
