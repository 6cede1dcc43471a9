// Interrupted runs: SIGKILL at random instants (also while checkpoints are being written),
// SIGINT and SIGTERM, a full disk and a file-size limit. The previous checkpoints must always load,
// no temporary file may outlive the next start, and --resume must end with the history of an
// uninterrupted run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "test_util.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "train_fixtures.h"

namespace {

using tl::test::RunResult;
using tl::test::run_tl;
using tl::test::TrainSetup;
using tl::test::expect_same_history;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A tl-train process in the background, so that the test can signal it.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& log_base) : out_(log_base.string() + ".out"), err_(log_base.string() + ".err") {
    std::vector<std::string> all = {TL_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (!done_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  bool running() {
    if (done_) return false;
    done_ = ::waitpid(pid_, &status_, WNOHANG) == pid_;
    return !done_;
  }
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  RunResult wait() {
    if (!done_) ::waitpid(pid_, &status_, 0);
    done_ = true;
    RunResult r;
    if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
    if (WIFSIGNALED(status_)) r.signal = WTERMSIG(status_);
    r.out = tl::test::read_text(out_);
    r.err = tl::test::read_text(err_);
    return r;
  }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool done_ = false;
};

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(".tmp-") != std::string::npos) found.push_back(it->path().string());
  return found;
}

// Waits until `ready()` or the process ends; false on the latter (or after 120 s).
bool wait_until(Process& p, const std::function<bool()>& ready) {
  for (auto start = Clock::now(); Clock::now() - start < std::chrono::seconds(120);) {
    if (ready()) return true;
    if (!p.running()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

// best.pt and last.pt, when present, are whole checkpoints.
void expect_checkpoints_load(const fs::path& run) {
  for (const char* name : {"best.pt", "last.pt"}) {
    if (!fs::exists(run / name)) continue;
    EXPECT_NO_THROW(tl::load_checkpoint((run / name).string(), torch::kCPU)) << name;
  }
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

const char* const kRun = R"(, "epochs": 4)";

TEST(Interrupt, SigkillAtRandomInstantsNeverLosesTheRun) {
  REQUIRE_PYTHON_TORCH();
  TrainSetup s(3, 16, 4, 4);
  const auto start = Clock::now();
  ASSERT_EQ(run_tl({"train", "--config", s.config("whole", kRun)}).exit_code, 0);
  const double whole_seconds = seconds_since(start);

  const std::string config = s.config("killed", kRun);
  const fs::path run = s.run_dir("killed");
  std::mt19937 rng(20240611);
  std::set<std::string> phases;
  for (int k = 0; k < 8; ++k) {
    Process p({"train", "--config", config, "--resume"}, s.dir.path() / ("kill" + std::to_string(k)));
    if (k % 2 == 0) {
      // Right after the n-th temporary file appears: in the middle of writing a checkpoint, the
      // resume state, the history or the curves.
      const size_t n = std::uniform_int_distribution<size_t>(1, 8)(rng);
      std::set<std::string> seen;
      wait_until(p, [&] {
        for (auto& f : temp_files(run)) seen.insert(f);
        return seen.size() >= n;
      });
      for (const auto& f : seen) {
        const std::string name = fs::path(f).filename().string();
        phases.insert(name.substr(0, name.find(".tmp-")));
      }
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::uniform_real_distribution<double>(0.1, 1.0)(rng) * whole_seconds));
    }
    p.signal(SIGKILL);
    RunResult r = p.wait();
    if (r.exit_code == 0) break;  // the run finished before the kill
    EXPECT_EQ(r.signal, SIGKILL) << r.out << r.err;
    expect_checkpoints_load(run);
  }
  EXPECT_GE(phases.size(), 2u) << "kills landed while writing too few kinds of file";

  RunResult rest = run_tl({"train", "--config", config, "--resume"});
  ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;
  EXPECT_EQ(temp_files(run), std::vector<std::string>{});
  expect_checkpoints_load(run);
  expect_same_history(s.history("whole"), s.history("killed"), 1e-6);
  EXPECT_TRUE(fs::exists(run / "eval_test/metrics.json"));
}

TEST(Interrupt, SigintAndSigtermSaveTheStateExitWithTheirCodesAndResume) {
  REQUIRE_PYTHON_TORCH();
  TrainSetup s(3, 16, 4, 4);
  ASSERT_EQ(run_tl({"train", "--config", s.config("whole", kRun)}).exit_code, 0);
  const double epoch_seconds = s.history("whole")[1]["seconds"].get<double>();
  std::mt19937 rng(7);
  for (const auto& [sig, code, name] : {std::tuple{SIGINT, tl::kExitInterrupted, "SIGINT"}, std::tuple{SIGTERM, tl::kExitTerminated, "SIGTERM"}}) {
    SCOPED_TRACE(name);
    const std::string config = s.config(name, kRun);
    const fs::path run = s.run_dir(name);
    const fs::path log = s.dir.path() / name;
    Process p({"train", "--config", config}, log);
    if (sig == SIGINT) {
      // Just before the first batch: the run stops inside epoch 1, with no checkpoint yet.
      ASSERT_TRUE(wait_until(p, [&] { return tl::test::read_text(log.string() + ".out").find("Feature cache:") != std::string::npos; }));
    } else {
      // After the first epoch, at a random point of the second.
      ASSERT_TRUE(wait_until(p, [&] { return fs::exists(run / "last.resume.pt"); }));
      std::this_thread::sleep_for(std::chrono::duration<double>(std::uniform_real_distribution<double>(0, 0.8)(rng) * epoch_seconds));
    }
    p.signal(sig);
    RunResult r = p.wait();
    EXPECT_EQ(r.signal, 0);
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    if (sig == SIGINT) EXPECT_NE(r.out.find("interrupted by SIGINT during epoch 1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("interrupted"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(run / "last.resume.pt"));
    EXPECT_EQ(temp_files(run), std::vector<std::string>{});
    expect_checkpoints_load(run);
    RunResult rest = run_tl({"train", "--config", config, "--resume"});
    ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;
    expect_same_history(s.history("whole"), s.history(name), 1e-6);
  }
}

// One epoch into `out`, then a resume to two epochs run by `command_prefix` (a shell snippet that
// limits the disk) whose checkpoint save must fail cleanly, leaving the first epoch's files whole.
void expect_failed_save_keeps_the_previous_checkpoint(TrainSetup& s, const fs::path& out, const std::string& limit,
                                                      const std::string& reason) {
  const std::string config = tl::test::write_train_config(s.dir.path() / "disk.json", s.data, s.backbone, out.string(),
                                                          R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", config}).exit_code, 0);
  std::map<std::string, std::string> before;
  for (const char* name : {"best.pt", "last.pt", "last.resume.pt", "history.json"}) before[name] = tl::test::read_text(out / name);

  RunResult r = tl::test::run_shell(limit + "; exec " + tl::test::shell_quote(TL_BINARY) + " train --config " +
                                    tl::test::shell_quote(config) + " --resume --set train.epochs=2");
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exit_code, tl::kExitIo) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(out.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  for (const auto& [name, bytes] : before) EXPECT_TRUE(tl::test::read_text(out / name) == bytes) << name << " changed";
  expect_checkpoints_load(out);
  EXPECT_EQ(temp_files(out), std::vector<std::string>{});
}

TEST(Interrupt, FullDiskFailsTheSaveAndKeepsThePreviousCheckpoint) {
  REQUIRE_PYTHON_TORCH();
  TrainSetup s(3, 8, 2, 0);
  const fs::path disk = s.dir.path() / "disk";
  fs::create_directories(disk);
  if (tl::test::run_shell("mount -t tmpfs -o size=4m tmpfs " + tl::test::shell_quote(disk.string())).exit_code != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (not root?); FileSizeLimit covers the failed write";
  struct Unmount {
    std::string dir;
    ~Unmount() { tl::test::run_shell("umount " + tl::test::shell_quote(dir)); }
  } unmount{disk.string()};
  // Fill the disk to within 16 KiB once the first epoch is written: enough for log lines, not for a checkpoint.
  const std::string fill = "f=" + tl::test::shell_quote((disk / "filler").string()) +
                           "; avail=$(df -k --output=avail " + tl::test::shell_quote(disk.string()) +
                           " | tail -1); head -c $(( (avail - 16) * 1024 )) /dev/zero > \"$f\"";
  expect_failed_save_keeps_the_previous_checkpoint(s, disk / "run", fill, "No space left on device");
  // With space again, the run continues from where it was.
  fs::remove(disk / "filler");
  RunResult rest = run_tl({"train", "--config", s.dir.str("disk.json"), "--resume", "--set", "train.epochs=2"});
  EXPECT_EQ(rest.exit_code, 0) << rest.out << rest.err;
  EXPECT_EQ(tl::Json::parse(tl::test::read_text(disk / "run/history.json")).size(), 2u);
}

TEST(Interrupt, FileSizeLimitFailsTheSaveAndKeepsThePreviousCheckpoint) {
  REQUIRE_PYTHON_TORCH();
  TrainSetup s(3, 8, 2, 0);
  // ulimit -f counts 512-byte blocks in /bin/sh: 64 KiB holds the logs and the history, not a
  // checkpoint. Without SIGXFSZ ignored the process would die at the first write over the limit.
  expect_failed_save_keeps_the_previous_checkpoint(s, s.dir.path() / "run", "ulimit -f 128", "File too large");
}

TEST(Interrupt, UnwritableLogFileWarnsOnceAndTrainingGoesOn) {
  REQUIRE_PYTHON_TORCH();
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TrainSetup s(3, 4, 2, 0);
  fs::create_directories(s.run_dir("run"));
  fs::create_symlink("/dev/full", s.run_dir("run") + "/train.log");  // every write: No space left on device
  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 2)"), "--resume"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("train.log: No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(s.history("run").size(), 2u);
}

TEST(Interrupt, ResumeOfAFinishedRunRedoesAMissingTestEvaluation) {
  REQUIRE_PYTHON_TORCH();
  TrainSetup s(3, 4, 2, 2);
  const std::string config = s.config("run", R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", config}).exit_code, 0);
  // As if killed during the final test evaluation.
  fs::remove_all(s.dir.path() / "run/eval_test");
  RunResult r = run_tl({"train", "--config", config, "--resume"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Nothing left to do"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(s.dir.path() / "run/eval_test/metrics.json"));
}

}  // namespace
