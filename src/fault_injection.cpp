#include "tl/fault_injection.h"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

namespace tl {
namespace {

struct Fault {
  int signal = 0;
  int epoch = -1;
  int64_t batch = -1;
  int write = -1;  // the N-th atomic write
};

Fault parse_fault() {
  Fault f;
  const char* text = std::getenv("TL_TEST_FAULT");
  if (!text) return f;
  // TL_TEST_FAULT_RANK=R: only the data-parallel worker of rank R has the fault.
  if (const char* only = std::getenv("TL_TEST_FAULT_RANK")) {
    const char* rank = std::getenv("RANK");
    if (!rank || std::string(rank) != only) return f;
  }
  const std::string spec = text;
  const auto at = spec.find('@');
  if (at == std::string::npos) return f;
  const std::string name = spec.substr(0, at), where = spec.substr(at + 1);
  f.signal = name == "INT" ? SIGINT : name == "TERM" ? SIGTERM : name == "KILL" ? SIGKILL : 0;
  try {
    if (where.rfind("write:", 0) == 0) {
      f.write = std::stoi(where.substr(6));
    } else {
      const auto colon = where.find(':');
      f.epoch = std::stoi(where.substr(0, colon));
      f.batch = std::stoll(where.substr(colon + 1));
    }
  } catch (const std::exception&) {
    f = Fault{};
  }
  return f;
}

const Fault& fault() {
  static const Fault f = parse_fault();
  return f;
}

}  // namespace

void fault_after_batch(int epoch, int64_t batch) {
  const Fault& f = fault();
  if (f.signal && f.epoch == epoch && f.batch == batch) std::raise(f.signal);
}

void fault_before_rename() {
  static std::atomic<int> writes{0};
  const Fault& f = fault();
  if (f.signal && f.write > 0 && ++writes == f.write) std::raise(f.signal);
}

}  // namespace tl
