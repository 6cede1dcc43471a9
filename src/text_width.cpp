#include "tl/text_width.h"

#include <utf8proc.h>

#include <algorithm>

namespace tl {

size_t display_width(const std::string& text) {
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t width = 0;
  for (size_t i = 0; i < text.size();) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(data + i, static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0) {
      ++width, ++i;
      continue;
    }
    width += static_cast<size_t>(std::max(0, utf8proc_charwidth(c)));
    i += static_cast<size_t>(n);
  }
  return width;
}

std::string pad_left(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return std::string(width > w ? width - w : 0, ' ') + text;
}

std::string pad_right(const std::string& text, size_t width) {
  const size_t w = display_width(text);
  return text + std::string(width > w ? width - w : 0, ' ');
}

}  // namespace tl
