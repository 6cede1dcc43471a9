#include "tl/json.h"

#include <utf8proc.h>

#include <cstdio>

namespace tl {
namespace {

// An invalid byte b travels through nlohmann (which insists on UTF-8) as the code point
// U+10FF00 + b, at the end of plane 16's private use area, which file names do not use.
constexpr char32_t kByteBase = 0x10FF00;

std::string utf8_of(char32_t c) {
  utf8proc_uint8_t buf[4];
  return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(utf8proc_encode_char(c, buf)));
}

// Calls on_char(code point, text) for each valid UTF-8 character and on_byte(b) for each byte
// that is not part of one.
template <typename OnChar, typename OnByte>
void walk_utf8(const std::string& s, OnChar on_char, OnByte on_byte) {
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(data + i, static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    if (n > 0) {
      on_char(static_cast<char32_t>(c), s.substr(i, static_cast<size_t>(n)));
      i += static_cast<size_t>(n);
    } else {
      on_byte(static_cast<unsigned char>(s[i]));
      ++i;
    }
  }
}

std::string to_placeholders(const std::string& s) {
  if (is_valid_utf8(s)) return s;
  std::string out;
  walk_utf8(
      s, [&](char32_t, const std::string& text) { out += text; },
      [&](unsigned char b) { out += utf8_of(kByteBase + b); });
  return out;
}

std::string from_placeholders(const std::string& s) {
  std::string out;
  walk_utf8(
      s,
      [&](char32_t c, const std::string& text) {
        if (c >= kByteBase + 0x80 && c <= kByteBase + 0xFF)
          out += static_cast<char>(c - kByteBase);
        else
          out += text;
      },
      [&](unsigned char b) { out += static_cast<char>(b); });
  return out;
}

// Applies `f` to every string and key in `value`.
template <typename F>
Json map_strings(const Json& value, F f) {
  if (value.is_string()) return f(value.get_ref<const std::string&>());
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& item : value) out.push_back(map_strings(item, f));
    return out;
  }
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& item : value.items()) out[f(item.key())] = map_strings(item.value(), f);
    return out;
  }
  return value;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The 4-hex-digit value of a \uXXXX escape at text[i] ('\\'), or -1.
int escape_value(const std::string& text, size_t i) {
  if (i + 5 >= text.size() + 0 || text[i + 1] != 'u') return -1;
  for (size_t k = 2; k < 6; ++k)
    if (!is_hex(text[i + k])) return -1;
  return std::stoi(text.substr(i + 2, 4), nullptr, 16);
}

}  // namespace

bool is_valid_utf8(const std::string& bytes) {
  bool valid = true;
  walk_utf8(
      bytes, [](char32_t, const std::string&) {}, [&](unsigned char) { valid = false; });
  return valid;
}

std::string printable(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  std::string out;
  walk_utf8(
      bytes, [&](char32_t, const std::string& text) { out += text; },
      [&](unsigned char b) {
        char buf[5];
        std::snprintf(buf, sizeof buf, "\\x%02x", b);
        out += buf;
      });
  return out;
}

std::string dump_json(const Json& value, int indent) {
  const std::string text = map_strings(value, to_placeholders).dump(indent);
  // Placeholders of bytes 0x80-0xFF are F4 8F BE/BF xx in the UTF-8 output: write them as \udcXX.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    if (i + 3 < text.size() && byte(0) == 0xF4 && byte(1) == 0x8F && (byte(2) == 0xBE || byte(2) == 0xBF)) {
      const unsigned b = ((byte(2) & 0x3F) << 6 | (byte(3) & 0x3F)) & 0xFF;
      char buf[7];
      std::snprintf(buf, sizeof buf, "\\udc%02x", b);
      out += buf;
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

Json parse_json(const std::string& text) {
  // nlohmann refuses a lone low surrogate: turn \udcXX (XX >= 80, not after a high surrogate)
  // into the placeholder's surrogate pair \udbff\udfXX first.
  std::string in;
  in.reserve(text.size());
  bool after_high = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      in += text[i];
      after_high = false;
      continue;
    }
    const int value = escape_value(text, i);
    if (value >= 0xDC80 && value <= 0xDCFF && !after_high) {
      char buf[13];
      std::snprintf(buf, sizeof buf, "\\udbff\\udf%02x", value & 0xFF);
      in += buf;
      i += 5;
      after_high = false;
      continue;
    }
    after_high = value >= 0xD800 && value <= 0xDBFF;
    in += text.substr(i, value >= 0 ? 6 : 2);  // the escape as written
    i += value >= 0 ? 5 : 1;
  }
  return map_strings(Json::parse(in), from_placeholders);
}

}  // namespace tl
