// libFuzzer target: arbitrary bytes as an image file through probe_image, decode_image and the
// resize + normalisation that training applies. Only tl::ImageError may come out; a decoded image
// must be 3-channel 8-bit RGB within the pixel limit. The small limit keeps a header that claims a
// huge size from being decoded at all (a decode over it would show as an out-of-memory report).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "tl/config.h"
#include "tl/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = 1 << 22;
  constexpr int64_t kSize = 32;
  static const std::string path = "/tmp/tl_fuzz_image_" + std::to_string(::getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  bool probed = true;
  try {
    tl::probe_image(path, kMaxPixels);
  } catch (const tl::ImageError&) {
    probed = false;
  }
  try {
    const cv::Mat rgb = tl::decode_image(path, kMaxPixels, kSize);
    if (!probed || rgb.type() != CV_8UC3 || rgb.total() > static_cast<size_t>(kMaxPixels)) std::abort();
    for (const char* mode : {"stretch", "shorter_center_crop"}) {
      const cv::Mat resized = tl::resize_image(rgb, kSize, mode);
      std::vector<float> out(3 * kSize * kSize);
      tl::write_normalized(resized, tl::normalization_preset("imagenet"), out.data());
    }
  } catch (const tl::ImageError&) {
  }
  return 0;
}
