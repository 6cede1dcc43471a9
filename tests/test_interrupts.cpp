// Interrupted runs: SIGKILL at chosen instants (also while checkpoints are being written), SIGINT
// and SIGTERM at chosen batches (through the TL_TEST_FAULT hook, no timing windows), a full disk
// and a file-size limit. The previous checkpoints must always load, no temporary file may outlive
// the next start, and --resume must end with the history of an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "train_fixtures.h"

namespace {

using tl::test::expect_same_history;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TrainSetup;
namespace fs = std::filesystem;

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(".tmp-") != std::string::npos) found.push_back(it->path().string());
  return found;
}

// best.pt and last.pt, when present, are whole checkpoints.
void expect_checkpoints_load(const fs::path& run) {
  for (const char* name : {"best.pt", "last.pt"}) {
    if (!fs::exists(run / name)) continue;
    EXPECT_NO_THROW(tl::load_checkpoint((run / name).string(), torch::kCPU)) << name;
  }
}

const char* const kRun = R"(, "epochs": 3)";

// tl-train with a deterministic fault (see fault_injection.h): no timing windows.
RunResult run_with_fault(const std::string& fault, const std::vector<std::string>& args) {
  std::string command = "TL_TEST_FAULT=" + fault + " exec " + tl::test::shell_quote(TL_BINARY);
  for (const auto& a : args) command += " " + tl::test::shell_quote(a);
  return tl::test::run_shell(command);
}

// SIGKILL in the middle of each kind of write (the temporary file written, not yet renamed) and
// between batches, one after the other on the same run: every checkpoint on disk always loads,
// and the resumed run ends with the history of an uninterrupted one.
TEST(Interrupt, SigkillAtChosenInstantsNeverLosesTheRun) {
  TrainSetup s(3, 16, 4, 4);
  ASSERT_EQ(run_tl({"train", "--config", s.config("whole", kRun)}).exit_code, 0);
  const std::string config = s.config("killed", kRun);
  const fs::path run = s.run_dir("killed");
  // A fresh run writes config.json (1), split.json (2), then per epoch best.pt, last.pt,
  // last.resume.pt, history.json, history.csv, curves.png; a resumed one starts with config.json.
  const char* const faults[] = {"KILL@write:4", "KILL@1:3",     "KILL@write:3", "KILL@write:4",
                                "KILL@write:5", "KILL@write:6", "KILL@2:4",     "KILL@write:8"};
  std::set<std::string> interrupted;
  for (const char* fault : faults) {
    SCOPED_TRACE(fault);
    RunResult r = run_with_fault(fault, {"train", "--config", config, "--resume"});
    EXPECT_EQ(r.signal, SIGKILL) << r.out << r.err;
    for (const auto& f : temp_files(run))
      interrupted.insert(fs::path(f).filename().string().substr(0, fs::path(f).filename().string().find(".tmp-")));
    expect_checkpoints_load(run);
  }
  EXPECT_GE(interrupted.size(), 4u) << "the kills hit too few kinds of file";
  RunResult rest = run_tl({"train", "--config", config, "--resume"});
  ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;
  EXPECT_EQ(temp_files(run), std::vector<std::string>{});
  expect_checkpoints_load(run);
  expect_same_history(s.history("whole"), s.history("killed"), 1e-6);
  EXPECT_TRUE(fs::exists(run / "eval_test/metrics.json"));
}

TEST(Interrupt, SigintAndSigtermSaveTheStateExitWithTheirCodesAndResume) {
  TrainSetup s(3, 16, 4, 4);
  ASSERT_EQ(run_tl({"train", "--config", s.config("whole", kRun)}).exit_code, 0);
  for (const auto& [fault, code, name, where] :
       {std::tuple{"INT@1:2", tl::kExitInterrupted, "SIGINT", "during epoch 1 after batch 2"},
        std::tuple{"TERM@2:5", tl::kExitTerminated, "SIGTERM", "during epoch 2 after batch 5"}}) {
    SCOPED_TRACE(name);
    const std::string config = s.config(name, kRun);
    const fs::path run = s.run_dir(name);
    RunResult r = run_with_fault(fault, {"train", "--config", config});
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;  // an exit, not a death by the signal: the message below
    EXPECT_NE(r.out.find(std::string("interrupted by ") + name + " " + where), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(run / "last.resume.pt"));
    EXPECT_EQ(temp_files(run), std::vector<std::string>{});
    expect_checkpoints_load(run);
    RunResult rest = run_tl({"train", "--config", config, "--resume"});
    ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;
    EXPECT_NE(rest.out.find("Resuming"), std::string::npos) << rest.out;
    expect_same_history(s.history("whole"), s.history(name), 1e-6);
  }
}

// One epoch into `out`, then a resume to two epochs run by `command_prefix` (a shell snippet that
// limits the disk) whose checkpoint save must fail cleanly, leaving the first epoch's files whole.
void expect_failed_save_keeps_the_previous_checkpoint(TrainSetup& s, const fs::path& out, const std::string& limit,
                                                      const std::string& reason) {
  const std::string config =
      tl::test::write_train_config(s.dir.path() / "disk.json", s.data, s.backbone, out.string(), R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", config}).exit_code, 0);
  std::map<std::string, std::string> before;
  for (const char* name : {"best.pt", "last.pt", "last.resume.pt", "history.json"})
    before[name] = tl::test::read_text(out / name);

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
  TrainSetup s(3, 8, 2, 0);
  // ulimit -f counts 512-byte blocks in /bin/sh: 64 KiB holds the logs and the history, not a
  // checkpoint. Without SIGXFSZ ignored the process would die at the first write over the limit.
  expect_failed_save_keeps_the_previous_checkpoint(s, s.dir.path() / "run", "ulimit -f 128", "File too large");
}

TEST(Interrupt, UnwritableLogFileWarnsOnceAndTrainingGoesOn) {
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
