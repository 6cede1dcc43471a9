#include "tl/launcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tl/errors.h"

namespace tl {
namespace {

std::atomic<int> g_forward{0};  // a signal for the workers, not yet passed on

extern "C" void on_launcher_signal(int sig) { g_forward.store(sig); }

// This process's own argv, to start the workers with exactly the same command.
std::vector<std::string> own_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  return args;
}

std::string own_executable() {
  std::vector<char> path(4096);
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) throw Error("cannot find the tl-train executable (/proc/self/exe) to start the workers", kExitFailure);
  return std::string(path.data(), size_t(n));
}

struct Worker {
  int rank = 0;
  pid_t pid = 0;
  bool running = true;
};

pid_t start_worker(const std::string& exe, const std::vector<std::string>& args, const CliOptions& o, int local_rank) {
  const int world = o.nnodes * o.nproc;
  const int rank = o.node_rank * o.nproc + local_rank;
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot start worker " + std::to_string(rank) + ": fork failed", kExitFailure);
  if (pid > 0) return pid;
  // The worker: its own process group, so that a terminal's Ctrl-C reaches it once, through us.
  ::setpgid(0, 0);
  ::setenv("RANK", std::to_string(rank).c_str(), 1);
  ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
  ::setenv("LOCAL_RANK", std::to_string(local_rank).c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
  ::setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
  ::setenv("MASTER_PORT", std::to_string(o.master_port).c_str(), 1);
  ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
  if (!o.local_addr.empty()) ::setenv("TL_LOCAL_ADDR", o.local_addr.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  ::_exit(127);
}

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string how_it_ended(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

int run_local_workers(const CliOptions& o) {
  if (o.node_rank >= o.nnodes)
    throw UsageError("--node-rank " + std::to_string(o.node_rank) + " must be below --nnodes " +
                     std::to_string(o.nnodes));
  const std::string exe = own_executable();
  const std::vector<std::string> args = own_arguments();

  struct sigaction action {};
  action.sa_handler = on_launcher_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::vector<Worker> workers;
  for (int local = 0; local < o.nproc; ++local)
    workers.push_back({o.node_rank * o.nproc + local, start_worker(exe, args, o, local), true});

  int result = 0;
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at{};
  for (size_t running = workers.size(); running > 0;) {
    if (const int sig = g_forward.exchange(0); sig != 0) {
      for (const auto& w : workers)
        if (w.running) ::kill(w.pid, sig);
      if (result == 0) result = 128 + sig;
    }
    if (stopping && std::chrono::steady_clock::now() > kill_at)
      for (const auto& w : workers)
        if (w.running) ::kill(w.pid, SIGKILL);
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    for (auto& w : workers) {
      if (w.pid != pid || !w.running) continue;
      w.running = false, --running;
      const int code = exit_code_of(status);
      if (code == 0 || stopping) break;
      if (result == 0 || result == 128 + SIGINT || result == 128 + SIGTERM) result = code;
      if (code == 128 + SIGINT || code == 128 + SIGTERM) break;  // asked to stop: the others stop too
      // A worker that exited with a code has said why itself; one killed by a signal could not.
      if (WIFSIGNALED(status) || code == 127)
        std::cerr << "tl-train: error: worker rank " << w.rank << " (pid " << pid << ") " << how_it_ended(status)
                  << "; stopping the other workers\n";
      stopping = true;
      kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      for (const auto& other : workers)
        if (other.running) ::kill(other.pid, SIGTERM);
      break;
    }
  }
  return result;
}

}  // namespace tl
