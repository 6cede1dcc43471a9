// libFuzzer target: arbitrary bytes as a config file, plus --set overrides, through load_config.
// The input up to its first NUL byte is the file; each NUL-separated piece after it is one
// override. Success or a tl::ConfigError are the only acceptable outcomes: anything else escapes
// and libFuzzer reports it (as do ASan's memory errors).
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "tl/config.h"
#include "tl/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/tl_fuzz_config_" + std::to_string(::getpid()) + ".json";
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) parts.emplace_back();
    else parts.back() += static_cast<char>(data[i]);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << parts[0];
  try {
    tl::load_config(path, std::vector<std::string>(parts.begin() + 1, parts.end()));
  } catch (const tl::ConfigError&) {
  }
  return 0;
}
