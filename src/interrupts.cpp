#include "tl/interrupts.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace tl {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_interrupt(int sig) {
  if (g_signal.exchange(sig) != 0) ::_exit(128 + sig);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_signal.load(); }

}  // namespace tl
