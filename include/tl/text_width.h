#pragma once
// Text in terminal columns: East Asian wide characters take two, combining marks none (utf8proc's
// widths); a byte that is not valid UTF-8 counts as one. Tables pad and cut by these widths.
#include <string>

namespace tl {

size_t display_width(const std::string& text);
std::string pad_left(const std::string& text, size_t width);
std::string pad_right(const std::string& text, size_t width);

}  // namespace tl
