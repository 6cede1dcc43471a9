#pragma once
// What a user watches during training: a progress bar with images/s and ETA within an epoch on a
// terminal (a plain line every 30 s otherwise, for CI logs), and numbers as Keras prints them.
#include <chrono>
#include <cstdint>
#include <string>

namespace tl {

std::string fixed(double v, int digits = 4);  // 0.1235
std::string lr_text(double lr);               // 1.00e-05
std::string significant(double v, int digits);  // %.<digits>g: 0.0012, 3.5e-07
std::string bytes_text(int64_t bytes);        // 312 KiB, 1.5 GiB

class Progress {
 public:
  Progress(int epoch, int epochs, int64_t batches);
  void update(int64_t done, int64_t images, double loss, double acc);
  void finish();  // clears the bar

 private:
  using Clock = std::chrono::steady_clock;
  int epoch_, epochs_;
  int64_t batches_;
  bool tty_;
  Clock::time_point start_, last_print_;
};

}  // namespace tl
