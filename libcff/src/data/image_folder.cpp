// Image folders ROOT/<class>/<image>: listing, header scan, decoding with stb_image, and the
// size/channel rules of ImageFolderOptions (data.hpp).
#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "cff/data.hpp"
#include "cff/error.hpp"
#include "parallel.hpp"

namespace cff {
namespace fs = std::filesystem;
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CFF_CHECK_CODE(in.good(), ErrorCode::kIo, path, ": cannot open (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CFF_CHECK_CODE(!in.bad(), ErrorCode::kIo, path, ": read error");
  return bytes;
}

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

struct StbImage {
  uint8_t* pixels = nullptr;
  ~StbImage() { stbi_image_free(pixels); }
};

// Decodes `path` to `channels` (0 = the file's own, 2 -> 1 and 4 -> 3 folded as in the header
// comment) and `height` x `width` (0 = the file's own) into `out` (C x H x W). Returns C, H, W.
std::array<int64_t, 3> decode(const std::string& path, int64_t channels, int64_t height, int64_t width,
                              ResizeMode resize, std::vector<uint8_t>* out_vec, uint8_t* out) {
  const auto bytes = read_file(path);
  CFF_CHECK_CODE(!bytes.empty(), ErrorCode::kFormat, path, ": empty file");
  CFF_CHECK_CODE(bytes.size() < size_t(1) << 31, ErrorCode::kFormat, path, ": file too large");
  int w = 0, h = 0, comp = 0;
  if (channels == 0) {
    CFF_CHECK_CODE(stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp), ErrorCode::kFormat, path,
                   ": not an image stb_image can read (", stb_reason(), ")");
    channels = comp <= 2 ? 1 : 3;
  }
  CFF_CHECK(channels == 1 || channels == 3 || channels == 4, "image channels must be 1, 3 or 4, got ", channels);
  const int c = int(channels);
  StbImage img;
  img.pixels = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp, c);
  CFF_CHECK_CODE(img.pixels != nullptr, ErrorCode::kFormat, path, ": cannot decode (", stb_reason(), ")");
  const int64_t th = height > 0 ? height : h, tw = width > 0 ? width : w;
  CFF_CHECK_CODE(resize != ResizeMode::kNone || (th == h && tw == w), ErrorCode::kFormat, path, ": image is ", w,
                 "x", h, ", expected ", tw, "x", th, " (sizes must match without resizing)");
  const uint8_t* hwc = img.pixels;
  std::vector<uint8_t> scaled;
  if (th != h || tw != w) {
    int x0 = 0, y0 = 0, cw = w, ch = h;
    if (resize == ResizeMode::kCrop) {
      // Scale so the image covers th x tw, i.e. cut the source rectangle of the target's aspect
      // ratio out of the centre, then resample that rectangle to th x tw.
      const double scale = std::max(double(tw) / w, double(th) / h);
      cw = std::clamp(int(std::lround(double(tw) / scale)), 1, w);
      ch = std::clamp(int(std::lround(double(th) / scale)), 1, h);
      x0 = (w - cw) / 2;
      y0 = (h - ch) / 2;
    }
    scaled.resize(size_t(th * tw * c));
    const uint8_t* src = img.pixels + (size_t(y0) * w + x0) * c;
    if (cw == tw && ch == th) {  // a pure crop: copy the rows, no resampling
      for (int64_t y = 0; y < th; ++y) std::memcpy(&scaled[size_t(y * tw * c)], src + size_t(y) * w * c, size_t(tw * c));
    } else {
      const int ok = stbir_resize_uint8(src, cw, ch, w * c, scaled.data(), int(tw), int(th), int(tw) * c, c);
      CFF_CHECK_CODE(ok, ErrorCode::kFormat, path, ": cannot resize to ", tw, "x", th);
    }
    hwc = scaled.data();
  }
  const size_t plane = size_t(th * tw);
  if (out_vec) out_vec->resize(plane * c);
  uint8_t* dst = out_vec ? out_vec->data() : out;
  for (size_t i = 0; i < plane; ++i)
    for (int k = 0; k < c; ++k) dst[size_t(k) * plane + i] = hwc[i * c + k];
  return {channels, th, tw};
}

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

}  // namespace

torch::Tensor read_image(const std::string& path, int64_t channels, int64_t height, int64_t width, ResizeMode resize) {
  std::vector<uint8_t> pixels;
  const auto shape = decode(path, channels, height, width, resize, &pixels, nullptr);
  return torch::from_blob(pixels.data(), {shape[0], shape[1], shape[2]}, torch::kUInt8).clone();
}

ImageFolder::ImageFolder(const std::string& root, const ImageFolderOptions& options) : options_(options) {
  CFF_CHECK_CODE(fs::is_directory(root), ErrorCode::kIo, root, ": no such folder");
  std::vector<fs::path> class_dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && !hidden(e.path())) class_dirs.push_back(e.path());
  std::sort(class_dirs.begin(), class_dirs.end());
  CFF_CHECK_CODE(!class_dirs.empty(), ErrorCode::kFormat, root,
                 ": no class folders (expected ROOT/<class>/<image>)");
  std::map<std::string, int64_t> ids;
  if (options.class_names.empty()) {
    CFF_CHECK_CODE(class_dirs.size() >= 2, ErrorCode::kFormat, root, ": only one class folder (",
                   class_dirs.front().filename().string(), "); classification needs at least two");
    for (const auto& d : class_dirs) {
      ids[d.filename().string()] = int64_t(class_names.size());
      class_names.push_back(d.filename().string());
    }
  } else {
    class_names = options.class_names;
    for (size_t i = 0; i < class_names.size(); ++i) ids[class_names[i]] = int64_t(i);
  }
  num_classes = int64_t(class_names.size());

  std::vector<int64_t> class_of_dir;
  for (const auto& d : class_dirs) {
    const auto it = ids.find(d.filename().string());
    if (it == ids.end()) {
      std::string known;
      for (const auto& n : class_names) known += (known.empty() ? "" : ", ") + n;
      detail::throw_error(ErrorCode::kFormat, d.string(), ": class '", d.filename().string(),
                          "' is not one of the model's classes (", known, ")");
    }
    std::vector<std::string> found;
    for (auto it2 = fs::recursive_directory_iterator(d); it2 != fs::recursive_directory_iterator(); ++it2) {
      if (hidden(it2->path())) {
        if (it2->is_directory()) it2.disable_recursion_pending();
        continue;
      }
      if (it2->is_regular_file()) found.push_back(it2->path().string());
    }
    CFF_CHECK_CODE(!found.empty(), ErrorCode::kFormat, d.string(), ": empty class folder (no image files)");
    std::sort(found.begin(), found.end());
    for (auto& f : found) {
      files_.push_back(std::move(f));
      labels_.push_back(it->second);
    }
  }

  // Header scan: size and channel count of every file, without decoding pixels.
  const int64_t n = int64_t(files_.size());
  std::vector<int> ws(size_t(n), 0), hs(size_t(n), 0), comps(size_t(n), 0);
  std::vector<std::string> errors(static_cast<size_t>(n));
  detail::parallel_for(n, options.workers > 0 ? options.workers : 2, [&](int64_t i) {
    const auto& path = files_[size_t(i)];
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
      errors[size_t(i)] = std::string("cannot open (") + std::strerror(errno) + ")";
      return;
    }
    int w = 0, h = 0, c = 0;
    if (!stbi_info_from_file(f, &w, &h, &c))
      errors[size_t(i)] = std::string("not an image stb_image can read (") + stb_reason() + ")";
    std::fclose(f);
    ws[size_t(i)] = w;
    hs[size_t(i)] = h;
    comps[size_t(i)] = c;
  });
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  std::vector<int64_t> per_class(size_t(num_classes), 0);
  bool all_gray = true;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    const auto& path = files_[size_t(i)];
    if (!errors[size_t(i)].empty()) {
      CFF_CHECK_CODE(options.bad_files == BadFilePolicy::kSkip,
                     errors[size_t(i)].rfind("cannot open", 0) == 0 ? ErrorCode::kIo : ErrorCode::kFormat, path, ": ",
                     errors[size_t(i)]);
      note_bad(path, errors[size_t(i)]);
      continue;
    }
    if (first.empty()) {
      first = path;
      if (height == 0) height = options.height > 0 ? options.height : hs[size_t(i)];
      if (width == 0) width = options.width > 0 ? options.width : ws[size_t(i)];
    }
    CFF_CHECK_CODE(options.resize != ResizeMode::kNone || (ws[size_t(i)] == width && hs[size_t(i)] == height),
                   ErrorCode::kFormat, path, ": image is ", ws[size_t(i)], "x", hs[size_t(i)], ", expected ", width,
                   "x", height, " like ", first, " (mismatched sizes; choose a resize mode)");
    all_gray = all_gray && comps[size_t(i)] <= 2;
    per_class[size_t(labels_[size_t(i)])]++;
    files.push_back(path);
    labels.push_back(labels_[size_t(i)]);
  }
  for (size_t d = 0; d < class_dirs.size(); ++d) {
    const int64_t id = ids.at(class_dirs[d].filename().string());
    CFF_CHECK_CODE(per_class[size_t(id)] > 0, ErrorCode::kFormat, class_dirs[d].string(),
                   ": empty class folder (every file was unreadable)");
  }
  files_ = std::move(files);
  labels_ = std::move(labels);
  channels = options.channels > 0 ? options.channels : (all_gray ? 1 : 3);
  CFF_CHECK(channels == 1 || channels == 3 || channels == 4, "image folder: channels must be 1, 3 or 4, got ",
            channels);
  CFF_CHECK(height >= 1 && width >= 1, root, ": bad target size ", width, "x", height);
}

bool ImageFolder::note_bad(const std::string& path, const std::string& reason) const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  if (bad_seen_.insert(path).second) {
    bad_.push_back(path + ": " + reason);
    if (options_.report_skipped) std::fprintf(stderr, "cff: skipping %s: %s\n", path.c_str(), reason.c_str());
  }
  return false;
}

std::vector<std::string> ImageFolder::bad_files() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return bad_;
}

bool ImageFolder::read(int64_t index, uint8_t* out) const {
  const auto& path = files_.at(size_t(index));
  try {
    decode(path, channels, height, width, options_.resize, nullptr, out);
    return true;
  } catch (const Error& e) {
    if (options_.bad_files == BadFilePolicy::kFail) throw;
    std::string reason = e.what();
    if (reason.rfind(path + ": ", 0) == 0) reason = reason.substr(path.size() + 2);
    return note_bad(path, reason);
  }
}

}  // namespace cff
