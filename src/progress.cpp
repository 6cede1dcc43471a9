#include "tl/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include <spdlog/spdlog.h>

namespace tl {
namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string significant(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string lr_text(double lr) {
  std::ostringstream s;
  s << std::scientific << std::setprecision(2) << lr;
  return s.str();
}

std::string bytes_text(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  std::ostringstream s;
  s << std::setprecision(v < 10 && u > 0 ? 2 : 3) << v << " " << units[u];
  return s.str();
}

Progress::Progress(int epoch, int epochs, int64_t batches)
    : epoch_(epoch), epochs_(epochs), batches_(batches), tty_(::isatty(1)), start_(Clock::now()), last_print_(start_) {}

void Progress::update(int64_t done, int64_t images, double loss, double acc) {
  const auto now = Clock::now();
  const double elapsed = seconds_between(start_, now);
  const double rate = elapsed > 0 ? images / elapsed : 0;
  const double eta = done > 0 ? elapsed / done * (batches_ - done) : 0;
  std::ostringstream line;
  line << "  " << done << "/" << batches_ << " - " << fixed(rate, 1) << " img/s - ETA " << static_cast<int>(eta)
       << "s - loss: " << fixed(loss) << " - acc: " << fixed(acc);
  if (tty_) {
    const int width = 20;
    const int filled = batches_ ? static_cast<int>(width * done / batches_) : width;
    const std::string bar = "[" + std::string(filled, '=') + (filled < width ? ">" : "") +
                            std::string(std::max(0, width - filled - 1), '.') + "]";
    std::fprintf(stdout, "\r\033[K%s%s", bar.c_str(), line.str().c_str());
    std::fflush(stdout);
  } else if (seconds_between(last_print_, now) > 30 || (done == batches_ && elapsed > 30)) {
    spdlog::info("Epoch {}/{}{}", epoch_, epochs_, line.str());
    last_print_ = now;
  }
}

void Progress::finish() {
  if (tty_) std::fprintf(stdout, "\r\033[K"), std::fflush(stdout);
}

}  // namespace tl
