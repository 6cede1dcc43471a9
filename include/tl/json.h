#pragma once
// JSON as tl-train reads and writes it, and text that may hold any bytes. File names on Linux are
// bytes, not always UTF-8; they are kept as bytes in memory and written:
// - to JSON by dump_json: each byte that is not part of valid UTF-8 as the escape \udcXX, Python's
//   "surrogateescape" form (so os.fsencode(json.load(f)["path"]) gives the original bytes back);
//   parse_json reads it back into the same bytes;
// - to CSV and messages by printable(): such bytes as \xXX, Python's "backslashreplace" form.
#include <string>

#include <nlohmann/json.hpp>

namespace tl {

using Json = nlohmann::ordered_json;

// Like Json::dump, but never throws on invalid UTF-8 (see above). indent < 0: one line.
std::string dump_json(const Json& value, int indent = -1);

// Like Json::parse, also accepting the \udcXX escapes dump_json writes. Throws Json::exception.
Json parse_json(const std::string& text);

bool is_valid_utf8(const std::string& bytes);

// `bytes` with every byte that is not part of valid UTF-8 written as \xXX.
std::string printable(const std::string& bytes);

}  // namespace tl
