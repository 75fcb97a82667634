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
#include <system_error>

#include <unistd.h>

#include "cff/data.hpp"
#include "cff/error.hpp"
#include "cff/log.hpp"
#include "cff/limits.hpp"
#include "../io/files.hpp"
#include "parallel.hpp"

namespace cff {
namespace fs = std::filesystem;
namespace {

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

struct StbImage {
  uint8_t* pixels = nullptr;
  ~StbImage() { stbi_image_free(pixels); }
};

// The size a PNG, JPEG, GIF, BMP or PSD header declares, read without stb_image: stb_image's
// own header check refuses images above 2^30 bytes with a reason that the next format's probe
// overwrites ("unknown image type"); this says what the file declares instead. False if the
// bytes are none of these formats or too short.
bool declared_size(const uint8_t* d, size_t n, int64_t& w, int64_t& h) {
  auto be16 = [&](size_t i) { return int64_t(d[i]) << 8 | d[i + 1]; };
  auto be32 = [&](size_t i) { return be16(i) << 16 | be16(i + 2); };
  auto le16 = [&](size_t i) { return int64_t(d[i + 1]) << 8 | d[i]; };
  auto le32 = [&](size_t i) { return le16(i + 2) << 16 | le16(i); };
  if (n >= 24 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(d + 12, "IHDR", 4) == 0) {
    w = be32(16);
    h = be32(20);
    return true;
  }
  if (n >= 10 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) {
    w = le16(6);
    h = le16(8);
    return true;
  }
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    w = int32_t(uint32_t(le32(18)));
    h = int32_t(uint32_t(le32(22)));
    w = w < 0 ? -w : w;
    h = h < 0 ? -h : h;
    return true;
  }
  if (n >= 26 && std::memcmp(d, "8BPS", 4) == 0) {
    h = be32(14);
    w = be32(18);
    return true;
  }
  if (n >= 4 && d[0] == 0xff && d[1] == 0xd8) {  // JPEG: walk the markers to the frame header
    for (size_t i = 2; i + 9 < n;) {
      if (d[i] != 0xff) return false;
      const uint8_t m = d[i + 1];
      if (m == 0xff) {
        ++i;
        continue;
      }
      if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
        h = be16(i + 5);
        w = be16(i + 7);
        return true;
      }
      i += 2 + size_t(be16(i + 2));
    }
  }
  return false;
}

// stb_image 2.27 reads a PNM header's numbers into an int without an overflow check (fuzz
// finding: signed overflow, UBSan): a number of 10 digits or more is refused before stb_image
// reads the header. Whitespace and comments as stb_image skips them.
void check_pnm_header(const std::string& path, const uint8_t* d, size_t n) {
  if (n < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '6')) return;
  auto space = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  size_t i = 2;
  for (int field = 0; field < 3 && i < n; ++field) {
    while (i < n && (space(d[i]) || d[i] == '#')) {
      if (d[i] == '#')
        while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
      else
        ++i;
    }
    size_t digits = 0;
    while (i < n && d[i] >= '0' && d[i] <= '9') ++i, ++digits;
    CFF_CHECK_CODE(digits < 10, ErrorCode::kFormat, path, ": PNM header number of ", digits,
                   " digits (width, height and maximum value have at most 9)");
  }
}

// stb_image 2.27 appends each IDAT chunk to a buffer that is still NULL before the first one
// with data: an empty IDAT chunk there makes it compute NULL + 0 (fuzz finding, UBSan). Such a
// file is refused before stb_image decodes it; the chunks are walked by their lengths only.
void check_png_chunks(const std::string& path, const uint8_t* d, size_t n) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n < 8 || std::memcmp(d, signature, 8) != 0) return;
  for (size_t i = 8; i + 8 <= n;) {
    const uint64_t len = (uint64_t(d[i]) << 24) | (uint64_t(d[i + 1]) << 16) | (uint64_t(d[i + 2]) << 8) | d[i + 3];
    const bool idat = std::memcmp(d + i + 4, "IDAT", 4) == 0;
    if (idat && len > 0) return;  // image data has started: stb_image's buffer exists from here
    CFF_CHECK_CODE(!idat, ErrorCode::kFormat, path, ": corrupt PNG (an empty IDAT chunk before the image data)");
    if (std::memcmp(d + i + 4, "IEND", 4) == 0 || len > n - i - 8) return;  // stb_image reports the rest
    i += 12 + size_t(len);
  }
}

// stb_image's header check failed: "image too large (WxH, limit L)" when the header declares
// more than the limit, else stb_image's own reason.
[[noreturn]] void throw_unreadable(const std::string& path, const uint8_t* data, size_t size) {
  int64_t w = 0, h = 0;
  const int64_t limit = input_limits().max_image_pixels;
  const std::string reason = stb_reason();
  if (declared_size(data, size, w, h) && (w > limit || h > limit || w * h > limit))
    detail::throw_error(ErrorCode::kFormat, path, ": image too large (", w, "x", h, ", limit ", limit,
                        " pixels; --max-image-pixels)");
  detail::throw_error(ErrorCode::kFormat, path, ": not an image stb_image can read (", reason, ")");
}

// stb_image's channel conversion (stbi__convert_format): gray <-> RGB by repetition and by
// (77 R + 150 G + 29 B) >> 8, alpha dropped or set to 255.
void convert_channels(const uint8_t* src, int from, int to, size_t n, std::vector<uint8_t>& dst) {
  dst.resize(n * size_t(to));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = src + i * size_t(from);
    uint8_t* q = dst.data() + i * size_t(to);
    const bool color = from >= 3;
    const uint8_t y = color ? uint8_t((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8) : p[0];
    const uint8_t alpha = from == 2 ? p[1] : from == 4 ? p[3] : 255;
    if (to == 1) {
      q[0] = y;
    } else {
      for (int k = 0; k < 3; ++k) q[k] = color ? p[k] : p[0];
      if (to == 4) q[3] = alpha;
    }
  }
}

// Refuses an image whose declared size exceeds the pixel limit, before anything is decoded.
void check_pixels(const std::string& path, int64_t w, int64_t h) {
  const int64_t limit = input_limits().max_image_pixels;
  CFF_CHECK_CODE(w <= limit && h <= limit && w * h <= limit, ErrorCode::kFormat, path, ": image too large (", w, "x",
                 h, ", limit ", limit, " pixels; --max-image-pixels)");
}

// Decodes the image `name` held in bytes[0..size) to `channels` (0 = the file's own, 2 -> 1 and
// 4 -> 3 folded as in the header comment) and `height` x `width` (0 = the file's own) into `out`
// (C x H x W). Returns C, H, W.
std::array<int64_t, 3> decode(const std::string& path, const uint8_t* data, size_t size, int64_t channels,
                              int64_t height, int64_t width, ResizeMode resize, std::vector<uint8_t>* out_vec,
                              uint8_t* out) {
  CFF_CHECK_CODE(size > 0, ErrorCode::kFormat, path, ": empty file");
  CFF_CHECK_CODE(size < size_t(1) << 31, ErrorCode::kFormat, path, ": file too large for stb_image (",
                 detail::human_bytes(size), ", limit 2 GiB)");
  int w = 0, h = 0, comp = 0;
  // The header first: the declared size is checked before stb_image allocates for the pixels.
  check_pnm_header(path, data, size);
  check_png_chunks(path, data, size);
  if (!stbi_info_from_memory(data, int(size), &w, &h, &comp)) throw_unreadable(path, data, size);
  CFF_CHECK_CODE(w >= 1 && h >= 1, ErrorCode::kFormat, path, ": image has no pixels (", w, "x", h, ")");
  check_pixels(path, w, h);
  if (channels == 0) channels = comp <= 2 ? 1 : 3;
  CFF_CHECK(channels == 1 || channels == 3 || channels == 4, "image channels must be 1, 3 or 4, got ", channels);
  if (height > 0 || width > 0) check_pixels("target size", width > 0 ? width : w, height > 0 ? height : h);
  const int c = int(channels);
  StbImage img;
  const int info_w = w, info_h = h;
  // Decoded in the file's own channels and converted here: stb_image 2.27's conversion of 16-bit
  // PNM data to another channel count overruns its buffer (fuzz finding, see the data tests).
  img.pixels = stbi_load_from_memory(data, int(size), &w, &h, &comp, 0);
  CFF_CHECK_CODE(img.pixels != nullptr, ErrorCode::kFormat, path, ": cannot decode (", stb_reason(), ")");
  CFF_CHECK_CODE(w == info_w && h == info_h && w >= 1 && h >= 1 && comp >= 1 && comp <= 4, ErrorCode::kFormat, path,
                 ": header says ", info_w, "x", info_h, ", pixels are ", w, "x", h, "x", comp);
  std::vector<uint8_t> converted;
  const uint8_t* pixels = img.pixels;
  if (comp != c) {
    convert_channels(img.pixels, comp, c, size_t(w) * size_t(h), converted);
    pixels = converted.data();
  }
  const int64_t th = height > 0 ? height : h, tw = width > 0 ? width : w;
  CFF_CHECK_CODE(resize != ResizeMode::kNone || (th == h && tw == w), ErrorCode::kFormat, path, ": image is ", w,
                 "x", h, ", expected ", tw, "x", th, " (sizes must match without resizing)");
  const uint8_t* hwc = pixels;
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
    const uint8_t* src = pixels + (size_t(y0) * w + x0) * c;
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

torch::Tensor decode_image(const std::string& name, const uint8_t* data, size_t size, int64_t channels, int64_t height,
                           int64_t width, ResizeMode resize) {
  std::vector<uint8_t> pixels;
  const auto shape = decode(name, data, size, channels, height, width, resize, &pixels, nullptr);
  return torch::from_blob(pixels.data(), {shape[0], shape[1], shape[2]}, torch::kUInt8).clone();
}

torch::Tensor read_image(const std::string& path, int64_t channels, int64_t height, int64_t width, ResizeMode resize) {
  const auto bytes = detail::read_input_file(path, "image");
  return decode_image(path, bytes.data(), bytes.size(), channels, height, width, resize);
}

namespace {
// `bytes` with every byte that is not part of valid UTF-8 written as \xNN.
std::string escape_non_utf8(const std::string& bytes, bool* valid = nullptr) {
  std::string out;
  bool ok = true;
  for (size_t i = 0; i < bytes.size();) {
    const auto c = uint8_t(bytes[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool seq = len > 0 && i + len <= bytes.size() && !(len == 2 && c < 0xc2);
    for (size_t k = 1; seq && k < len; ++k) seq = (uint8_t(bytes[i + k]) >> 6) == 0x2;
    if (seq) {
      out.append(bytes, i, len);
      i += len;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ok = false;
      ++i;
    }
  }
  if (valid) *valid = ok;
  return out;
}

std::string kind_of(const fs::file_status& st) {
  switch (st.type()) {
    case fs::file_type::fifo: return "a FIFO";
    case fs::file_type::character:
    case fs::file_type::block: return "a device";
    case fs::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}
}  // namespace

ImageFolder::ImageFolder(const std::string& root, const ImageFolderOptions& options) : options_(options) {
  CFF_CHECK_CODE(fs::is_directory(root), ErrorCode::kIo, root, ": no such folder");
  // An entry that is not an image file: skipped (reported, counted) or fatal, by the policy.
  auto skip = [&](const fs::path& p, const std::string& reason, ErrorCode code) {
    CFF_CHECK_CODE(options.bad_files == BadFilePolicy::kSkip, code, escape_non_utf8(p.string()), ": ", reason);
    note_bad(escape_non_utf8(p.string()), reason);
  };
  std::vector<fs::path> class_dirs;
  {
    std::error_code ec;
    for (fs::directory_iterator e(root, ec), end; !ec && e != end; e.increment(ec)) {
      if (hidden(e->path())) continue;
      std::error_code sec;
      const auto st = fs::status(e->path(), sec);
      if (sec) {
        skip(e->path(), "dangling or looping symbolic link (" + sec.message() + ")", ErrorCode::kIo);
        continue;
      }
      if (!fs::is_directory(st)) continue;  // loose files beside the class folders are not images of a class
      bool utf8 = true;
      const auto shown = escape_non_utf8(e->path().string(), &utf8);
      CFF_CHECK_CODE(utf8, ErrorCode::kFormat, shown,
                     ": class folder name is not valid UTF-8 (class names are saved in the model as text); rename it");
      class_dirs.push_back(e->path());
    }
    CFF_CHECK_CODE(!ec, ErrorCode::kIo, root, ": cannot list folder (", ec.message(), ")");
  }
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

  for (const auto& d : class_dirs) {
    const auto it = ids.find(d.filename().string());
    if (it == ids.end()) {
      std::string known;
      for (const auto& n : class_names) known += (known.empty() ? "" : ", ") + n;
      detail::throw_error(ErrorCode::kFormat, d.string(), ": class '", d.filename().string(),
                          "' is not one of the model's classes (", known, ")");
    }
    std::vector<std::string> found;
    // Every error is handled here, entry by entry: a bad entry is skipped with its path (or fatal
    // under BadFilePolicy::kFail), it never aborts the scan of the rest. Folder links are not
    // followed (no loops); unreadable folders are not entered.
    std::error_code ec;
    fs::recursive_directory_iterator it2(d, fs::directory_options::none, ec), end;
    for (; !ec && it2 != end; it2.increment(ec)) {
      const fs::path p = it2->path();
      std::error_code sec;
      const bool link = it2->is_symlink(sec);
      const auto st = fs::status(p, sec);
      if (hidden(p)) {
        if (!sec && fs::is_directory(st)) it2.disable_recursion_pending();
        continue;
      }
      if (sec) {
        skip(p, std::string(link ? "dangling or looping symbolic link" : "cannot read") + " (" + sec.message() + ")",
             ErrorCode::kIo);
        continue;
      }
      if (fs::is_directory(st)) {
        if (link) {
          skip(p, "symbolic link to a folder (not followed)", ErrorCode::kIo);
        } else if (::access(p.c_str(), R_OK | X_OK) != 0) {
          skip(p, std::string("unreadable folder (") + std::strerror(errno) + ")", ErrorCode::kIo);
          it2.disable_recursion_pending();
        }
        continue;
      }
      if (!fs::is_regular_file(st)) {
        skip(p, kind_of(st) + ", not an image file", ErrorCode::kIo);
        continue;
      }
      found.push_back(p.string());
    }
    if (ec) skip(d, "cannot list folder (" + ec.message() + ")", ErrorCode::kIo);
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
  const int64_t pixel_limit = input_limits().max_image_pixels;
  detail::parallel_for(n, options.workers > 0 ? options.workers : 2, [&](int64_t i) {
    const auto& path = files_[size_t(i)];
    try {
      detail::check_input_file(path, "image");
    } catch (const Error& e) {
      std::string reason = e.what();
      errors[size_t(i)] = reason.rfind(path + ": ", 0) == 0 ? reason.substr(path.size() + 2) : reason;
      return;
    }
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
      errors[size_t(i)] = std::string("cannot open (") + std::strerror(errno) + ")";
      return;
    }
    int w = 0, h = 0, c = 0;
    std::vector<uint8_t> head(1 << 16);
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::rewind(f);
    try {
      check_pnm_header(path, head.data(), head.size());
    } catch (const Error& e) {
      errors[size_t(i)] = std::string(e.what()).substr(path.size() + 2);
      std::fclose(f);
      return;
    }
    if (!stbi_info_from_file(f, &w, &h, &c)) {
      try {
        throw_unreadable(path, head.data(), head.size());
      } catch (const Error& e) {
        errors[size_t(i)] = std::string(e.what()).substr(path.size() + 2);
      }
    } else if (w < 1 || h < 1)
      errors[size_t(i)] = "image has no pixels (" + std::to_string(w) + "x" + std::to_string(h) + ")";
    else if (int64_t(w) > pixel_limit || int64_t(h) > pixel_limit || int64_t(w) * h > pixel_limit)
      errors[size_t(i)] = "image too large (" + std::to_string(w) + "x" + std::to_string(h) + ", limit " +
                          std::to_string(pixel_limit) + " pixels; --max-image-pixels)";
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
                     errors[size_t(i)].rfind("cannot open", 0) == 0 || errors[size_t(i)].rfind("is a folder", 0) == 0 ||
                             errors[size_t(i)].rfind("not a regular", 0) == 0
                         ? ErrorCode::kIo
                         : ErrorCode::kFormat,
                     path, ": ",
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
  CFF_CHECK(width <= pixel_limit && height <= pixel_limit && width * height <= pixel_limit, root, ": target size ",
            width, "x", height, " is above the limit of ", pixel_limit, " pixels (--max-image-pixels)");
}

bool ImageFolder::note_bad(const std::string& path, const std::string& reason) const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  if (bad_seen_.insert(path).second) {
    bad_.push_back(path + ": " + reason);
    if (options_.report_skipped) log_message(LogLevel::kWarning, "skipping " + path + ": " + reason);
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
    const auto bytes = detail::read_input_file(path, "image");
    decode(path, bytes.data(), bytes.size(), channels, height, width, options_.resize, nullptr, out);
    return true;
  } catch (const Error& e) {
    if (options_.bad_files == BadFilePolicy::kFail) throw;
    std::string reason = e.what();
    if (reason.rfind(path + ": ", 0) == 0) reason = reason.substr(path.size() + 2);
    return note_bad(path, reason);
  }
}

}  // namespace cff
