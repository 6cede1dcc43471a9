#pragma once
// Text in the PNG reports. Class names are UTF-8 (CJK, accents), which OpenCV's Hershey fonts
// draw as one '?' per byte, so text goes through FreeType with a font that covers Latin and CJK.
// Without a loadable font the Hershey font is used (ASCII only) rather than failing the run.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace cv::freetype {
class FreeType2;
}

namespace tl {

// The font file tried when $TL_FONT is unset (Debian's fonts-wqy-microhei).
inline constexpr const char* kDefaultFontFile = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

// Pixel extent of a line of text; y grows downwards from the baseline.
struct TextExtent {
  int width = 0;
  int cap_height = 0;  // height of capital letters: text is centred vertically on their middle
  int ascent = 0;      // room above the baseline for the tallest glyphs (CJK, accents)
  int descent = 0;     // room below the baseline (g, y, p)
};

class TextRenderer {
 public:
  // Uses the first of `font_files` that FreeType can load; none: the Hershey font.
  explicit TextRenderer(const std::vector<std::string>& font_files);
  ~TextRenderer();

  bool has_font() const { return static_cast<bool>(font_); }
  const std::string& font_file() const { return font_file_; }  // empty with the Hershey font

  // `scale` is a Hershey font scale (1.0: capitals ~22 px) so both fonts draw at about one size.
  // Bytes that are not valid UTF-8 are drawn as \xXX (see printable()).
  TextExtent measure(const std::string& text, double scale, int thickness = 1) const;
  // Draws `text` starting at `origin`, a point on its baseline.
  void draw(cv::Mat& img, const std::string& text, cv::Point origin, double scale, const cv::Scalar& colour,
            int thickness = 1) const;

 private:
  cv::Ptr<cv::freetype::FreeType2> font_;
  std::string font_file_;
  mutable std::mutex mutex_;  // a FreeType face is not safe to use from two threads at once
};

// The renderer the reports share: $TL_FONT if set, else kDefaultFontFile; loaded on first use.
// Logs one warning when no font loads.
const TextRenderer& text_renderer();

}  // namespace tl
