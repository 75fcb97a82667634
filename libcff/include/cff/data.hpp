#pragma once
/// @file data.hpp
/// Labelled image sets: in memory (Dataset) or read image by image (ImageSource: image folders,
/// subsets, relabelled views), and the readers for IDX (MNIST layout), CIFAR-10/100 binaries and
/// image folders. The Loader that batches an ImageSource on worker threads is in loader.hpp.

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace cff {

/// A labelled image set held in memory.
struct Dataset {
  torch::Tensor images;  ///< N x C x H x W, uint8 (0..255) or float32 (0..1), on the CPU
  torch::Tensor labels;  ///< N, int64, each in 0 .. num_classes-1
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< may be empty (then names are "0", "1", ...)

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  /// Rows `indices` (int64 tensor) as a new dataset with the same classes.
  Dataset subset(const torch::Tensor& indices) const;
  /// Throws kInvalidArgument unless images/labels agree in count, shape and range.
  void validate() const;
};

/// Per-channel mean and standard deviation of images (N x C x H x W, uint8 or float) scaled to
/// [0, 1], each std at least 1e-6: the input normalisation fit() computes from its training data.
struct ChannelStats {
  std::vector<double> mean, std;
};
ChannelStats channel_stats(const torch::Tensor& images);

/// A seeded split of `data` into (train, validation); `fraction` of it goes to validation.
std::pair<Dataset, Dataset> split(const Dataset& data, double fraction, uint64_t seed);

/// Reads an IDX image file (magic 0x00000803, uint8, N x rows x cols), gzip'd or plain.
/// Returns N x 1 x rows x cols uint8. Throws kIo / kFormat naming the file and what is wrong.
torch::Tensor read_idx_images(const std::string& path);
/// Reads an IDX label file (magic 0x00000801, uint8, N). Returns N int64.
torch::Tensor read_idx_labels(const std::string& path);

/// Reads an MNIST-layout folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
/// `part` is "train" or "test". Checks that image and label counts agree.
Dataset load_idx_folder(const std::string& folder, const std::string& part);

/// Class names of Fashion-MNIST, used when a folder is recognised as Fashion-MNIST.
const std::vector<std::string>& fashion_mnist_classes();

/// The seeded permutation behind split(): (training indices, validation indices) of 0..n-1.
/// The first floor(fraction * n) entries of a mt19937_64(seed) shuffle are the validation part.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n, double fraction, uint64_t seed);

// ---- CIFAR ----------------------------------------------------------------------------------------

/// Reads a CIFAR binary folder (the "binary version" archives, extracted):
///  - CIFAR-10: data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin (test); records of
///    1 label byte + 3072 pixel bytes; class names from batches.meta.txt when present.
///  - CIFAR-100: train.bin, test.bin; records of 1 coarse + 1 fine label byte + 3072 pixel bytes;
///    fine labels (100 classes) unless `coarse` (20 superclasses); names from
///    {fine,coarse}_label_names.txt when present.
/// A `cifar-10-batches-bin` / `cifar-100-binary` subfolder is entered automatically. Returns
/// N x 3 x 32 x 32 uint8. Throws kIo (missing file) or kFormat (size not a whole number of
/// records, label out of range), naming the file.
Dataset load_cifar_folder(const std::string& folder, const std::string& part, bool coarse = false);

// ---- sources read image by image -------------------------------------------------------------------

/// A labelled image set read one image at a time (decoded on demand). Implementations must make
/// read() and gather() safe to call from several threads at once.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual int64_t size() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  /// Decodes image `index` into `out` (channels*height*width bytes, C x H x W order). Returns
  /// false when the image cannot be decoded and the source skips bad files (it then records the
  /// file, see bad_files()); throws kFormat / kIo naming the file when it does not.
  virtual bool read(int64_t index, uint8_t* out) const = 0;
  /// Images `indices` as one N' x C x H x W tensor (uint8; float32 for a float Dataset), N' <= N:
  /// images that read() skips are left out and `kept` (if given) receives the positions in
  /// `indices` that were kept. The default calls read() per image.
  virtual torch::Tensor gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept = nullptr) const;
  /// Files that could not be decoded so far (path: reason), in the order found.
  virtual std::vector<std::string> bad_files() const { return {}; }
  /// Where image `index` comes from (a path, or "#index").
  virtual std::string describe(int64_t index) const { return "#" + std::to_string(index); }

  int64_t channels = 0, height = 0, width = 0;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< may be empty (then names are "0", "1", ...)
};

/// An in-memory Dataset seen as a source (gather() is one index_select).
class TensorSource : public ImageSource {
 public:
  explicit TensorSource(Dataset data);
  int64_t size() const override { return data_.size(); }
  int64_t label(int64_t index) const override;
  bool read(int64_t index, uint8_t* out) const override;
  torch::Tensor gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept = nullptr) const override;
  const Dataset& dataset() const { return data_; }

 private:
  Dataset data_;
  std::vector<int64_t> labels_;
};

/// Images `indices` of `base`, optionally with replaced labels (one per index). Shares `base`.
class SubsetSource : public ImageSource {
 public:
  SubsetSource(std::shared_ptr<const ImageSource> base, std::vector<int64_t> indices,
               std::vector<int64_t> labels = {});
  int64_t size() const override { return int64_t(indices_.size()); }
  int64_t label(int64_t index) const override;
  bool read(int64_t index, uint8_t* out) const override;
  torch::Tensor gather(const std::vector<int64_t>& indices, std::vector<int64_t>* kept = nullptr) const override;
  std::vector<std::string> bad_files() const override { return base_->bad_files(); }
  std::string describe(int64_t index) const override;

 private:
  std::shared_ptr<const ImageSource> base_;
  std::vector<int64_t> indices_, labels_;
};

/// Every image of `source` in memory, decoded by `workers` threads (0 = the calling thread);
/// images the source skips are left out.
Dataset to_dataset(const ImageSource& source, int64_t workers = 0);

// ---- image folders ----------------------------------------------------------------------------------

/// What happens to a file in an image folder that cannot be read or decoded.
enum class BadFilePolicy {
  kSkip,  ///< report it on stderr (path and reason), leave it out, count it (ImageFolder::bad_files)
  kFail,  ///< throw kFormat (kIo if unreadable) naming the file
};

/// How images are brought to the target size H x W.
enum class ResizeMode {
  kCrop,     ///< scale (aspect kept) so the image covers H x W, then cut the centre (default)
  kStretch,  ///< scale width and height independently to W and H
  kNone,     ///< no resizing: an image of another size is an error naming both sizes
};

struct ImageFolderOptions {
  /// 1 (grayscale), 3 (RGB) or 4 (RGBA); 0 = 1 if every image is stored as grayscale (with or
  /// without alpha), else 3. Conversions are stb_image's: gray -> RGB repeats the value;
  /// RGB -> gray is (77 R + 150 G + 29 B) / 256; alpha is dropped unless 4 channels are asked
  /// for (then it is 255 for images without one).
  int64_t channels = 0;
  int64_t height = 0, width = 0;  ///< target size; 0 = the first image's (in sorted order)
  ResizeMode resize = ResizeMode::kCrop;
  BadFilePolicy bad_files = BadFilePolicy::kSkip;
  /// When set, labels follow this list (e.g. a trained model's classes) instead of the sorted
  /// folder names; a class folder not in it is an error. Classes missing from the folder are fine.
  std::vector<std::string> class_names;
  /// Threads for the header scan; 0 = 2.
  int64_t workers = 0;
  /// Report skipped files as they are found, one warning each through the log handler (log.hpp).
  bool report_skipped = true;
};

/// An image folder `ROOT/<class>/<...>/<image>`: class names are the subfolder names, sorted
/// (byte order), and become labels 0..C-1; files below a class folder are taken recursively in
/// sorted path order; names starting with '.' are ignored. Decoding is stb_image's (PNG, JPEG,
/// BMP, GIF (first frame), TGA, PSD, HDR, PIC, PNM). Construction lists the files and reads every
/// header (not the pixels): files that are not images are handled by the BadFilePolicy there;
/// truncated pixel data is found when read() decodes the file. What the scan skips under
/// BadFilePolicy::kSkip (each reported with its path and counted in bad_files(); each fatal,
/// naming the path, under kFail): dangling or looping symbolic links, links to folders (never
/// followed, so no loops), unreadable subfolders, FIFOs, devices and sockets, files above
/// InputLimits::max_file_bytes, images declaring more than InputLimits::max_image_pixels. A class
/// folder whose name is not valid UTF-8 is an error (kFormat, the path shown with \xNN escapes):
/// class names are saved in the model as text. Errors: no such folder, a class
/// folder without images ("<path>: empty class folder"), fewer than two classes, a mismatched
/// size under ResizeMode::kNone.
class ImageFolder : public ImageSource {
 public:
  ImageFolder(const std::string& root, const ImageFolderOptions& options = {});
  int64_t size() const override { return int64_t(files_.size()); }
  int64_t label(int64_t index) const override { return labels_.at(size_t(index)); }
  bool read(int64_t index, uint8_t* out) const override;
  std::vector<std::string> bad_files() const override;
  std::string describe(int64_t index) const override { return files_.at(size_t(index)); }
  const std::vector<std::string>& files() const { return files_; }

 private:
  ImageFolderOptions options_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  mutable std::mutex bad_mutex_;
  mutable std::vector<std::string> bad_;
  mutable std::set<std::string> bad_seen_;
  bool note_bad(const std::string& path, const std::string& reason) const;  // false, or throws
};

/// Decodes one image file with stb_image and brings it to channels x height x width by the rules
/// of ImageFolderOptions (0 = keep the file's own). Returns C x H x W uint8. Throws kIo / kFormat
/// naming the file.
/// The file must be a regular file within InputLimits::max_file_bytes (a folder, FIFO or device is
/// refused with kIo) and declare at most InputLimits::max_image_pixels (kFormat "image too large
/// (WxH, limit L pixels)"); both are checked before the pixels are decoded.
torch::Tensor read_image(const std::string& path, int64_t channels = 0, int64_t height = 0, int64_t width = 0,
                         ResizeMode resize = ResizeMode::kCrop);
/// read_image() on an encoded image held in memory (`size` bytes at `data`); `name` is used in
/// messages only. The same limits and errors.
torch::Tensor decode_image(const std::string& name, const uint8_t* data, size_t size, int64_t channels = 0,
                           int64_t height = 0, int64_t width = 0, ResizeMode resize = ResizeMode::kCrop);

// ---- any supported folder --------------------------------------------------------------------------

enum class DataFormat { kImageFolder, kIdx, kCifar10, kCifar100 };
std::string to_string(DataFormat format);

/// What `path` holds: an IDX folder ({train,t10k}-images-idx3-ubyte[.gz]), a CIFAR-10/100 binary
/// folder, or else an image folder. Throws kIo when `path` is not a folder.
DataFormat detect_format(const std::string& path);

/// The part ("train" or "test") of the folder at `path`, in any supported format. Image folders:
/// with a `train/` subfolder, "train" is ROOT/train and "test" is ROOT/test or ROOT/val; without
/// one, both parts are ROOT itself. IDX and CIFAR data are read into memory (a TensorSource).
std::shared_ptr<ImageSource> open_data(const std::string& path, const std::string& part,
                                       const ImageFolderOptions& options = {});
/// Whether `path` has a separate test part (IDX t10k files, CIFAR test file, or ROOT/test|val).
bool has_test_part(const std::string& path);

// ---- label noise and limited data (the paper's Table 4) --------------------------------------------

/// Exactly round(share * N) labels, at positions chosen by a seeded shuffle, replaced by a class
/// drawn uniformly among the other num_classes-1; the rest unchanged.
std::vector<int64_t> noisy_labels(const std::vector<int64_t>& labels, int64_t num_classes, double share,
                                  uint64_t seed);
/// The indices 0..n-1 that remain when exactly round(drop_share * n) of them, chosen by a seeded
/// shuffle, are dropped; in increasing order.
std::vector<int64_t> limited_indices(int64_t n, double drop_share, uint64_t seed);

}  // namespace cff
