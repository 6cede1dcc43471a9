#pragma once
// CSV fields as RFC 4180 writes them (quoted when they hold a comma, quote or line break); bytes
// that are not UTF-8 (file names) as \xXX, see json.h.
#include <string>

namespace tl {

std::string csv_field(const std::string& text);

}  // namespace tl
