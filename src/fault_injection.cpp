#include "tl/fault_injection.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "tl/interrupts.h"

namespace tl {
namespace {

struct Fault {
  int signal = 0;
  int epoch = -1;
  int64_t batch = -1;
  int write = -1;  // the N-th atomic write
  bool to_parent = false;  // the signal goes to the parent process (the --nproc launcher)
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
  std::string name = spec.substr(0, at);
  const std::string where = spec.substr(at + 1);
  if (name.rfind("PARENT_", 0) == 0) f.to_parent = true, name = name.substr(7);
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
  if (!f.signal || f.epoch != epoch || f.batch != batch) return;
  if (!f.to_parent) {
    std::raise(f.signal);
    return;
  }
  // The launcher passes the signal back to every worker; wait (up to 10 s) until it is here, so
  // that this batch, not a later one, is where the run stops.
  ::kill(::getppid(), f.signal);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stop_signal() == 0 && std::chrono::steady_clock::now() < until) ::usleep(10000);
}

void fault_before_rename() {
  static std::atomic<int> writes{0};
  const Fault& f = fault();
  if (f.signal && f.write > 0 && ++writes == f.write) std::raise(f.signal);
}

}  // namespace tl
