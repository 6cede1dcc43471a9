#include "tl/text_render.h"

#include "tl/json.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <opencv2/freetype.hpp>
#include <opencv2/imgproc.hpp>

namespace tl {
namespace {

constexpr int kHershey = cv::FONT_HERSHEY_SIMPLEX;

// FreeType sizes are in pixels per em; 31 px per unit of Hershey scale gives capitals of the same
// height (WenQuanYi's capitals are 0.7 em, Hershey's 22 px at scale 1).
int pixel_height(double scale) { return std::max(1, static_cast<int>(std::lround(scale * 31))); }

}  // namespace

TextRenderer::TextRenderer(const std::vector<std::string>& font_files) {
  for (const auto& file : font_files) {
    std::error_code ec;
    if (file.empty() || !std::filesystem::is_regular_file(file, ec)) continue;
    try {
      auto font = cv::freetype::createFreeType2();
      font->loadFontData(file, 0);  // throws cv::Exception when FreeType cannot read the file
      font_ = font;
      font_file_ = file;
      return;
    } catch (const cv::Exception&) {
    }
  }
}

TextRenderer::~TextRenderer() = default;

TextExtent TextRenderer::measure(const std::string& text, double scale, int thickness) const {
  const std::string shown = printable(text);
  if (!font_) {
    int baseline = 0;
    const cv::Size size = cv::getTextSize(shown, kHershey, scale, thickness, &baseline);
    return {size.width, size.height, size.height, baseline};
  }
  const int px = pixel_height(scale);
  TextExtent extent;
  extent.cap_height = static_cast<int>(std::lround(0.7 * px));
  extent.ascent = static_cast<int>(std::ceil(0.9 * px));
  extent.descent = static_cast<int>(std::ceil(0.25 * px));
  if (shown.empty()) return extent;
  std::lock_guard<std::mutex> lock(mutex_);
  extent.width = font_->getTextSize(shown, px, -1, nullptr).width + 2 * std::max(0, thickness - 1);
  return extent;
}

void TextRenderer::draw(cv::Mat& img, const std::string& text, cv::Point origin, double scale, const cv::Scalar& colour,
                        int thickness) const {
  const std::string shown = printable(text);
  if (shown.empty()) return;
  if (!font_ || img.type() != CV_8UC3) {  // FreeType draws only into 8-bit BGR images
    cv::putText(img, shown, origin, kHershey, scale, colour, thickness, cv::LINE_AA);
    return;
  }
  const int px = pixel_height(scale);
  std::lock_guard<std::mutex> lock(mutex_);
  font_->putText(img, shown, origin, px, colour, -1, cv::LINE_AA, true);  // -1: filled glyphs
  // Bold (Hershey thickness 2+): outline the filled glyphs.
  if (thickness > 1) font_->putText(img, shown, origin, px, colour, thickness - 1, cv::LINE_AA, true);
}

const TextRenderer& text_renderer() {
  const char* env = std::getenv("TL_FONT");
  const std::string requested = env ? env : "";
  static const TextRenderer renderer({requested, kDefaultFontFile});
  static const bool warned = [&] {  // once per process, not once per label
    if (!requested.empty() && renderer.font_file() != requested)
      spdlog::warn("TL_FONT '{}' could not be loaded as a font; using {}", requested,
                   renderer.has_font() ? renderer.font_file() : "OpenCV's Hershey font");
    if (!renderer.has_font())
      spdlog::warn(
          "no font for the PNG reports (install fonts-wqy-microhei or set TL_FONT to a .ttf/.ttc file); "
          "class names that are not ASCII are drawn as '?'");
    return true;
  }();
  (void)warned;
  return renderer;
}

}  // namespace tl
