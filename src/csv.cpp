#include "tl/csv.h"

#include "tl/json.h"

namespace tl {

std::string csv_field(const std::string& text) {
  const std::string s = printable(text);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace tl
