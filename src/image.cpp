#include "tl/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include <xxhash.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace tl {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kHeadBytes = 32;    // signatures and the fixed-position PNG/BMP/WebP headers
constexpr size_t kTailBytes = 1024;  // end markers may be followed by a little padding

// A read-only regular file; errors become ImageError with the errno text. Opened non-blocking, so
// that a named pipe with an image's name is refused instead of waiting forever for a writer.
class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {
    if (fd_ < 0) throw ImageError(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    const bool stat_ok = ::fstat(fd_, &st) == 0;
    const int stat_errno = errno;
    if (!stat_ok || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw ImageError(!stat_ok               ? std::string("cannot stat: ") + std::strerror(stat_errno)
                       : S_ISFIFO(st.st_mode) ? "not a regular file (a named pipe)"
                                              : "not a regular file");
    }
    size_ = st.st_size;
    device_ = st.st_dev;
    inode_ = st.st_ino;
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int64_t size() const { return size_; }
  uint64_t device() const { return device_; }
  uint64_t inode() const { return inode_; }

  // Up to n bytes starting at offset (fewer near the end of the file).
  Bytes read_at(int64_t offset, size_t n) const {
    offset = std::clamp<int64_t>(offset, 0, size_);
    Bytes out(std::min<int64_t>(static_cast<int64_t>(n), size_ - offset));
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t got = ::pread(fd_, out.data() + done, out.size() - done, offset + static_cast<int64_t>(done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw ImageError(std::string("cannot read: ") + std::strerror(errno));
      if (got == 0) break;  // the file shrank while we read it
      done += static_cast<size_t>(got);
    }
    out.resize(done);
    return out;
  }

  // XXH3 128-bit of the whole file, read in 1 MiB pieces.
  std::string hash() const {
    XXH3_state_t* state = XXH3_createState();
    XXH3_128bits_reset(state);
    for (int64_t offset = 0; offset < size_;) {
      const Bytes piece = read_at(offset, size_t(1) << 20);
      if (piece.empty()) break;
      XXH3_128bits_update(state, piece.data(), piece.size());
      offset += static_cast<int64_t>(piece.size());
    }
    const XXH128_hash_t h = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return hex;
  }

 private:
  int fd_;
  int64_t size_ = 0;
  uint64_t device_ = 0, inode_ = 0;
};

enum class Format { jpeg, png, bmp, webp, tiff };

using Size = std::optional<std::pair<int64_t, int64_t>>;  // (width, height) when known

Size known_size(int64_t width, int64_t height) { return std::pair(width, height); }

struct Header {
  Format format;
  Size size;  // from the file header; unset when the header holds none we can read
};

bool starts_with(const Bytes& b, size_t at, const char* text, size_t n) {
  return b.size() >= at + n && std::memcmp(b.data() + at, text, n) == 0;
}

uint32_t be16(const Bytes& b, size_t at) { return uint32_t(b[at]) << 8 | b[at + 1]; }
uint32_t be32(const Bytes& b, size_t at) { return be16(b, at) << 16 | be16(b, at + 2); }
uint32_t le16(const Bytes& b, size_t at) { return uint32_t(b[at + 1]) << 8 | b[at]; }
uint32_t le24(const Bytes& b, size_t at) { return uint32_t(b[at + 2]) << 16 | le16(b, at); }
uint32_t le32(const Bytes& b, size_t at) { return uint32_t(b[at + 3]) << 24 | le24(b, at); }

Format detect_format(const Bytes& head) {
  if (starts_with(head, 0, "\xFF\xD8\xFF", 3)) return Format::jpeg;
  if (starts_with(head, 0, "\x89PNG\r\n\x1A\n", 8)) return Format::png;
  if (starts_with(head, 0, "BM", 2)) return Format::bmp;
  if (starts_with(head, 0, "RIFF", 4) && starts_with(head, 8, "WEBP", 4)) return Format::webp;
  if (starts_with(head, 0, "II*\0", 4) || starts_with(head, 0, "MM\0*", 4)) return Format::tiff;
  if (starts_with(head, 0, "GIF8", 4)) throw ImageError("GIF images are not supported (OpenCV cannot decode them)");
  throw ImageError("not an image (unrecognised file signature)");
}

bool contains(const Bytes& b, const char* text, size_t n) { return ::memmem(b.data(), b.size(), text, n) != nullptr; }

// OpenCV decodes a truncated JPEG into a half-grey image with only a warning, so look for the
// end markers ourselves.
void check_complete(Format format, const File& file) {
  if (format != Format::jpeg && format != Format::png) return;
  const Bytes tail = file.read_at(file.size() - static_cast<int64_t>(kTailBytes), kTailBytes);
  if (format == Format::jpeg && !contains(tail, "\xFF\xD9", 2))
    throw ImageError("truncated JPEG (no end-of-image marker)");
  if (format == Format::png && !contains(tail, "IEND", 4)) throw ImageError("truncated PNG (no IEND chunk)");
}

bool is_jpeg_frame_marker(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

// Walks the JPEG marker segments up to the first frame header (SOFn), reading each segment's
// first bytes only, so large EXIF/ICC segments cost nothing. Stray bytes between segments are
// skipped up to the next 0xFF, as libjpeg skips them ("Corrupt JPEG data: extraneous bytes"):
// stopping there left the size unchecked while libjpeg still decoded a frame of any size.
Size jpeg_size(const File& file) {
  int64_t pos = 2;  // after SOI
  while (pos < file.size()) {
    const Bytes seg = file.read_at(pos, 9);
    if (seg.size() < 4) break;
    if (seg[0] != 0xFF) {
      const Bytes block = file.read_at(pos, 4096);
      pos += std::find(block.begin(), block.end(), 0xFF) - block.begin();
      continue;
    }
    const uint8_t marker = seg[1];
    if (marker == 0xFF) {  // fill byte before a marker
      ++pos;
      continue;
    }
    if (is_jpeg_frame_marker(marker)) {
      if (seg.size() < 9) break;
      return known_size(be16(seg, 7), be16(seg, 5));
    }
    if (marker == 0xDA || marker == 0xD9) break;  // scan data or end before any frame header
    const bool standalone = marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8);
    pos += standalone ? 2 : 2 + be16(seg, 2);
  }
  return std::nullopt;
}

// ImageWidth (tag 256) and ImageLength (257) from the first image file directory, the one the
// decoder reads; a SHORT or LONG value sits in the entry itself.
Size tiff_size(const File& file, const Bytes& head) {
  const bool little = head[0] == 'I';
  const auto u16 = [&](const Bytes& b, size_t at) { return little ? le16(b, at) : be16(b, at); };
  const auto u32 = [&](const Bytes& b, size_t at) { return little ? le32(b, at) : be32(b, at); };
  if (head.size() < 8) return std::nullopt;
  const int64_t ifd = u32(head, 4);
  const Bytes count = file.read_at(ifd, 2);
  if (count.size() < 2) return std::nullopt;
  const Bytes entries = file.read_at(ifd + 2, 12 * size_t(u16(count, 0)));
  int64_t width = -1, height = -1;
  for (size_t e = 0; e + 12 <= entries.size(); e += 12) {
    const uint32_t tag = u16(entries, e), type = u16(entries, e + 2);
    const int64_t value = type == 3 ? u16(entries, e + 8) : type == 4 ? u32(entries, e + 8) : -1;
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  if (width < 0 || height < 0) return std::nullopt;
  return known_size(width, height);
}

Size header_size(Format format, const File& file, const Bytes& head) {
  switch (format) {
    case Format::jpeg:
      return jpeg_size(file);
    case Format::png:
      if (starts_with(head, 12, "IHDR", 4) && head.size() >= 24) return known_size(be32(head, 16), be32(head, 20));
      break;
    case Format::bmp: {
      if (head.size() < 26) break;
      if (le32(head, 14) == 12) return known_size(le16(head, 18), le16(head, 20));  // OS/2 core header
      // Signed 32-bit fields; a negative height means rows stored top-down.
      const auto field = [&](size_t at) { return std::abs(int64_t(int32_t(le32(head, at)))); };
      return known_size(field(18), field(22));
    }
    case Format::webp:
      if (head.size() < 30) break;
      if (starts_with(head, 12, "VP8 ", 4)) return known_size(le16(head, 26) & 0x3FFF, le16(head, 28) & 0x3FFF);
      if (starts_with(head, 12, "VP8L", 4)) {
        const uint32_t bits = le32(head, 21);  // 14 bits width-1, 14 bits height-1
        return known_size((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
      }
      if (starts_with(head, 12, "VP8X", 4)) return known_size(le24(head, 24) + 1, le24(head, 27) + 1);
      break;
    case Format::tiff:
      return tiff_size(file, head);
  }
  return std::nullopt;
}

void check_pixels(int64_t width, int64_t height, int64_t max_pixels) {
  // uint64: PNG dimensions go up to 2^32 - 1 each.
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (pixels > uint64_t(max_pixels))
    throw ImageError("image is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                     std::to_string(pixels) + " pixels, over the limit of " + std::to_string(max_pixels) +
                     " (data.max_pixels)");
}

Header read_header(const File& file, int64_t max_pixels) {
  if (file.size() == 0) throw ImageError("empty file (0 bytes)");
  const Bytes head = file.read_at(0, kHeadBytes);
  const Format format = detect_format(head);
  check_complete(format, file);
  const Size size = header_size(format, file, head);
  if (size) {
    if (size->first == 0 || size->second == 0) throw ImageError("image header has zero width or height");
    check_pixels(size->first, size->second, max_pixels);
  }
  return {format, size};
}

// IMREAD_COLOR applies EXIF orientation and expands grey, palette and CMYK to BGR and drops alpha
// (as PIL's convert("RGB") does); IMREAD_ANYDEPTH keeps 16-bit samples so they can be scaled
// instead of truncated. Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale by libjpeg (much
// faster) when the shorter side stays >= target_size.
int decode_flags(const Header& header, int64_t target_size) {
  constexpr std::pair<int64_t, int> kReductions[] = {
      {8, cv::IMREAD_REDUCED_COLOR_8}, {4, cv::IMREAD_REDUCED_COLOR_4}, {2, cv::IMREAD_REDUCED_COLOR_2}};
  if (header.format == Format::jpeg && header.size && target_size > 0) {
    const int64_t shorter = std::min(header.size->first, header.size->second);
    for (const auto& [factor, flags] : kReductions)
      if (shorter >= factor * target_size) return flags;
  }
  return cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH;
}

// OpenCV's filter for `area`: area averaging when shrinking (no aliasing), bilinear when enlarging.
cv::Mat area_resized(const cv::Mat& src, int width, int height) {
  const int interpolation = (width <= src.cols && height <= src.rows) ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::Mat dst;
  cv::resize(src, dst, cv::Size(width, height), 0, 0, interpolation);
  return dst;
}

// PIL's NEAREST resize (libImaging ImagingScaleAffine): the source coordinate advances by repeated
// addition, as PIL's does, so rounding at exact halves picks the same pixel.
cv::Mat pil_nearest(const cv::Mat& src, int width, int height) {
  auto table = [](int in, int out) {
    std::vector<int> index(static_cast<size_t>(out));
    const double step = double(in) / out;
    double at = step * 0.5;
    for (int i = 0; i < out; ++i, at += step) index[size_t(i)] = std::min(in - 1, static_cast<int>(at));
    return index;
  };
  const std::vector<int> xs = table(src.cols, width), ys = table(src.rows, height);
  cv::Mat dst(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) dst.at<cv::Vec3b>(y, x) = src.at<cv::Vec3b>(ys[size_t(y)], xs[size_t(x)]);
  return dst;
}

double pil_filter(Interpolation f, double x) {
  x = std::abs(x);
  if (f == Interpolation::Bilinear) return x < 1 ? 1 - x : 0;
  constexpr double a = -0.5;  // PIL's bicubic
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  return x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0;
}

// One output pixel's taps in PIL's resampling (libImaging/Resample.c precompute_coeffs): a filter
// widened by the downscale factor (hence antialiased), normalised, in 22-bit fixed point.
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};
constexpr int kPrecisionBits = 22;

std::vector<Taps> pil_taps(Interpolation f, int in, int out) {
  const double scale = double(in) / out, filter_scale = std::max(scale, 1.0);
  const double support = (f == Interpolation::Bicubic ? 2.0 : 1.0) * filter_scale;
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int i = 0; i < out; ++i) {
    const double centre = (i + 0.5) * scale;
    const int first = std::max(0, static_cast<int>(centre - support + 0.5));
    const int last = std::min(in, static_cast<int>(centre + support + 0.5));
    std::vector<double> w;
    double sum = 0;
    for (int x = first; x < last; ++x) sum += w.emplace_back(pil_filter(f, (x - centre + 0.5) / filter_scale));
    Taps& t = taps[size_t(i)];
    t.first = first;
    for (double k : w) {
      const double fixed = (sum != 0 ? k / sum : k) * (1 << kPrecisionBits);
      t.weights.push_back(static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5));
    }
  }
  return taps;
}

// One PIL pass along x (horizontal) or y, rounding to 8 bits as PIL does between passes.
cv::Mat pil_pass(const cv::Mat& src, Interpolation f, int out, bool horizontal) {
  const std::vector<Taps> taps = pil_taps(f, horizontal ? src.cols : src.rows, out);
  cv::Mat dst(horizontal ? src.rows : out, horizontal ? out : src.cols, CV_8UC3);
  for (int y = 0; y < dst.rows; ++y)
    for (int x = 0; x < dst.cols; ++x) {
      const Taps& t = taps[size_t(horizontal ? x : y)];
      int64_t sum[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const int at = t.first + int(k);
        const cv::Vec3b& p = horizontal ? src.at<cv::Vec3b>(y, at) : src.at<cv::Vec3b>(at, x);
        for (int c = 0; c < 3; ++c) sum[c] += int64_t(p[c]) * t.weights[k];
      }
      for (int c = 0; c < 3; ++c)
        dst.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(std::clamp<int64_t>(sum[c] >> kPrecisionBits, 0, 255));
    }
  return dst;
}

}  // namespace

cv::Mat resample(const cv::Mat& src, int width, int height, Interpolation filter) {
  if (src.cols == width && src.rows == height) return src.clone();
  if (filter == Interpolation::Area) return area_resized(src, width, height);
  if (filter == Interpolation::Nearest) return pil_nearest(src, width, height);
  // PIL resizes horizontally first, then vertically, skipping a pass whose size does not change.
  const cv::Mat across = width != src.cols ? pil_pass(src, filter, width, true) : src;
  return height != src.rows ? pil_pass(across, filter, height, false) : across.clone();
}

ProbeResult probe_image(const std::string& path, int64_t max_pixels, bool hash) {
  const File file(path);
  const Header header = read_header(file, max_pixels);
  ProbeResult result;
  if (header.size) result.width = header.size->first, result.height = header.size->second;
  result.device = file.device();
  result.inode = file.inode();
  if (hash) result.hash = file.hash();
  return result;
}

cv::Mat decode_image(const std::string& path, int64_t max_pixels, int64_t target_size) {
  const File file(path);
  const Header header = read_header(file, max_pixels);
  if (file.size() > std::numeric_limits<int>::max())
    throw ImageError("file is over 2 GiB, more than OpenCV can decode");
  Bytes data = file.read_at(0, static_cast<size_t>(file.size()));
  cv::Mat image;
  try {
    image =
        cv::imdecode(cv::Mat(1, static_cast<int>(data.size()), CV_8U, data.data()), decode_flags(header, target_size));
  } catch (const cv::Exception& e) {
    throw ImageError("cannot decode: " + e.msg);
  }
  if (image.empty()) throw ImageError("cannot decode (corrupt or unsupported image data)");
  check_pixels(image.cols, image.rows, max_pixels);                             // headers without readable dimensions
  if (image.depth() == CV_16U) image.convertTo(image, CV_8U, 255.0 / 65535.0);  // rounds: 32768 -> 128
  if (image.depth() != CV_8U) throw ImageError("unsupported sample type (only 8- and 16-bit images)");
  cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  return image;
}

cv::Mat resize_image(const cv::Mat& rgb, int64_t size, ResizeMode mode, Interpolation filter) {
  if (size <= 0 || rgb.empty()) throw std::invalid_argument("resize_image: needs an image and a size > 0");
  const int s = static_cast<int>(size);
  if (mode == ResizeMode::Stretch) return resample(rgb, s, s, filter);
  // torchvision Resize(size): shorter side to size, longer side int(size * long / short).
  const bool wide = rgb.cols >= rgb.rows;
  const int longer = static_cast<int>(double(size) * std::max(rgb.cols, rgb.rows) / std::min(rgb.cols, rgb.rows));
  const cv::Mat scaled = wide ? resample(rgb, longer, s, filter) : resample(rgb, s, longer, filter);
  // torchvision CenterCrop: offsets round((extent - size) / 2) with Python's round-half-to-even,
  // which std::nearbyint matches in the default rounding mode.
  const int left = static_cast<int>(std::nearbyint((scaled.cols - s) / 2.0));
  const int top = static_cast<int>(std::nearbyint((scaled.rows - s) / 2.0));
  return scaled(cv::Rect(left, top, s, s)).clone();
}

void write_normalized(const cv::Mat& rgb, const Normalization& norm, float* out) {
  if (rgb.type() != CV_8UC3) throw std::invalid_argument("write_normalized: expected an 8-bit 3-channel image");
  if (norm.channel_order != "RGB" && norm.channel_order != "BGR")
    throw std::invalid_argument("unknown channel order '" + norm.channel_order + "'; use RGB or BGR");
  const bool bgr = norm.channel_order == "BGR";
  // Split, then (x * scale - mean) / std as one multiply-add per value written straight into the
  // output planes. OpenCV runs both with the widest SIMD the CPU has (chosen at run time); at
  // 224x224 this took 44 us against 130 us for a single scalar pass over interleaved pixels.
  cv::Mat planes[3];
  cv::split(rgb, planes);
  for (int s = 0; s < 3; ++s) {
    const int c = bgr ? 2 - s : s;  // output channel of source channel s
    cv::Mat plane(rgb.rows, rgb.cols, CV_32F, out + c * rgb.total());
    planes[s].convertTo(plane, CV_32F, norm.scale / norm.std[c], -norm.mean[c] / norm.std[c]);
  }
}

torch::Tensor image_to_tensor(const cv::Mat& rgb, const Normalization& norm) {
  torch::Tensor tensor = torch::empty({1, 3, rgb.rows, rgb.cols}, torch::kFloat32);
  write_normalized(rgb, norm, tensor.data_ptr<float>());
  return tensor;
}

int64_t decode_target(int64_t size, Interpolation filter) {
  // PIL's filters are matched on the full image, so only `area` decodes JPEGs at reduced scale.
  return filter == Interpolation::Area ? size : 0;
}

cv::Mat load_image(const std::string& path, int64_t size, ResizeMode resize_mode, int64_t max_pixels,
                   Interpolation filter) {
  return resize_image(decode_image(path, max_pixels, decode_target(size, filter)), size, resize_mode, filter);
}

}  // namespace tl
