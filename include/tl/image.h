#pragma once
// Decoding (OpenCV) of any input into 8-bit RGB, resizing, and conversion into normalised tensors.
#include <cstdint>
#include <string>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "tl/config.h"

namespace tl {

// A file that cannot be used as an image; what() says why (e.g. "truncated JPEG (no end-of-image marker)").
struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What probing a file learnt.
struct ProbeResult {
  int64_t width = 0, height = 0;   // from the header; 0 when it holds no size we read
  uint64_t device = 0, inode = 0;  // the file's identity: links and hard links to it share it
  std::string hash;                // 128-bit xxHash (XXH3) of the bytes, 32 hex digits, when asked
};

// Cheap check without decoding pixels: a regular file (never blocks on a named pipe), readable,
// non-empty, a known image signature, a complete JPEG (end-of-image marker) or PNG (IEND chunk),
// header dimensions within max_pixels (parsed for JPEG, PNG, BMP, WebP and TIFF; a header without
// them is checked after decoding). With `hash`, also hashes the whole file. Throws ImageError.
ProbeResult probe_image(const std::string& path, int64_t max_pixels, bool hash = false);

// Decodes any supported file into a 3-channel 8-bit RGB image: grayscale, palette, 16-bit (scaled,
// not truncated) and CMYK inputs are converted, alpha is dropped (not composited, as PIL's
// convert("RGB") does), EXIF orientation is honoured. A JPEG at least 2x `target_size` on its
// shorter side is decoded at 1/2, 1/4 or 1/8 scale (IMREAD_REDUCED_*), the smallest that keeps
// that side >= target_size. Throws ImageError.
cv::Mat decode_image(const std::string& path, int64_t max_pixels, int64_t target_size = 0);

// Resamples to width x height with `filter`: Area is OpenCV's INTER_AREA (INTER_LINEAR when
// enlarging); Nearest, Bilinear and Bicubic reproduce PIL's Image.resize bit for bit (NEAREST, and
// the antialiased BILINEAR and BICUBIC that torchvision's Resize uses on PIL images).
cv::Mat resample(const cv::Mat& rgb, int width, int height, Interpolation filter);

// Resizes to size x size: Stretch (Keras load_img target_size) or ShorterCenterCrop (torchvision
// Resize(size) + CenterCrop(size)), resampling with `filter`.
cv::Mat resize_image(const cv::Mat& rgb, int64_t size, ResizeMode mode, Interpolation filter = Interpolation::Area);

// The decode_image target_size for images resized to `size`: reduced-scale JPEG decoding only for
// Area (PIL's filters are matched on the full-resolution image, as PIL sees it).
int64_t decode_target(int64_t size, Interpolation filter);

// Writes the RGB uint8 image into `out` (3*H*W floats, CHW), applying the normalisation:
// channel order, then x * scale, then (x - mean) / std per channel.
void write_normalized(const cv::Mat& rgb, const Normalization& norm, float* out);

// Convenience: a 1 x 3 x H x W float tensor.
torch::Tensor image_to_tensor(const cv::Mat& rgb, const Normalization& norm);

// decode + resize in one step, as training and prediction use it.
cv::Mat load_image(const std::string& path, int64_t size, ResizeMode resize_mode, int64_t max_pixels,
                   Interpolation filter = Interpolation::Area);

}  // namespace tl
