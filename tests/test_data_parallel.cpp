// Data-parallel training on c10d (Gloo) between processes on this machine, loopback only: the
// same weights as one process with the global batch, rank-0-only writes, a killed worker, two
// "hosts" on two loopback addresses, mismatched configs and a port in use. Every run is bounded
// by dist.timeout_s (and the shell's timeout) so that no test can hang.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/script.h>

#include "test_util.h"
#include "tl/errors.h"
#include "tl/json.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::read_text;
using tl::test::run_shell;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::shell_quote;
using tl::test::TrainSetup;
namespace fs = std::filesystem;

// A port nothing listens on now (the kernel's pick on 127.0.0.1).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The largest difference between two checkpoints' parameters.
double max_weight_difference(const fs::path& a, const fs::path& b) {
  torch::jit::Module ma = torch::jit::load(a.string()), mb = torch::jit::load(b.string());
  std::map<std::string, torch::Tensor> pb;
  for (const auto& p : mb.named_parameters()) pb[p.name] = p.value;
  double worst = 0;
  size_t compared = 0;
  for (const auto& p : ma.named_parameters()) {
    EXPECT_TRUE(pb.count(p.name)) << p.name;
    if (!pb.count(p.name)) continue;
    worst = std::max(worst, (p.value - pb[p.name]).abs().max().item<double>());
    ++compared;
  }
  EXPECT_GT(compared, 10u);
  return worst;
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

class DataParallel : public ::testing::Test {
 protected:
  TrainSetup setup{3, 16, 4, 0};  // 48 training images: 3 global batches of 16
  std::string config(const std::string& name, const std::string& extra_model = "") {
    return setup.config(name, ", \"epochs\": 2, \"eval_test\": false", extra_model);
  }
  std::vector<std::string> dp_args(const std::string& config_path, int port) {
    return {"train", "--config", config_path, "--quiet", "--master-port", std::to_string(port),
            "--set", "dist.timeout_s=20"};
  }
};

TEST_F(DataParallel, TwoRanksOfEightEndWithTheWeightsOfOneProcessOfSixteen) {
  struct Case {
    std::string name, freeze;
    std::vector<std::string> one_args, ranks_args;
  };
  const std::vector<std::string> batch16{"--set", "train.batch_size=16"};
  const std::vector<Case> cases{
      {"all", "none", batch16, {"--set", "train.batch_size=8"}},
      {"frozen", "4", batch16, {"--set", "train.batch_size=8"}},  // a frozen prefix: the feature cache
      // Two micro-batches of 4 per step on each rank and buckets of about 20 kB: the gradients
      // that arrive in backward are the sum of both micro-batches, and many buckets go out while
      // backward runs. The reference has the same micro-batch (4) since Adam turns the rounding
      // differences of other batch sizes' kernels into visible ones within a few steps.
      {"accumulated", "none", {"--set", "train.batch_size=4", "--set", "train.accumulate=4"},
       {"--set", "train.batch_size=4", "--set", "train.accumulate=2", "--set", "dist.bucket_mb=0.02"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string model = ", \"freeze\": \"" + c.freeze + "\"";
    RunResult one = run_tl(with({"train", "--config", config("one" + c.name, model), "--quiet"}, c.one_args));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    std::vector<std::string> two_args = with(dp_args(config("two" + c.name, model), free_port()), {"--nproc", "2"});
    RunResult two = run_tl(with(two_args, c.ranks_args), "timeout 300 ");
    ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
    const double difference = max_weight_difference(fs::path(setup.run_dir("one" + c.name)) / "last.pt",
                                                    fs::path(setup.run_dir("two" + c.name)) / "last.pt");
    std::cout << c.name << ": largest weight difference after 2 epochs " << difference << "\n";
    EXPECT_LT(difference, 1e-4);
    tl::test::expect_same_history(setup.history("one" + c.name), setup.history("two" + c.name), 1e-4);
    if (c.name == "accumulated") {  // the overlap happened: buckets were sent while backward ran
      const std::string log = read_text(fs::path(setup.run_dir("two" + c.name)) / "train.log");
      EXPECT_NE(log.find("all-reduces started during backward"), std::string::npos) << log;
      EXPECT_EQ(log.find(" 0 bucket all-reduces started during backward"), std::string::npos) << log;
    }
  }
}

TEST_F(DataParallel, OnlyRankZeroWritesTheRunAndItsCheckpointWorksInOneProcess) {
  const std::string cfg = config("run");
  RunResult r = run_tl(with(dp_args(cfg, free_port()), {"--nproc", "2", "--set", "train.eval_test=true"}), "timeout 300 ");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const fs::path run = setup.run_dir("run");
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(run)) files.insert(e.path().filename().string());
  for (const char* name : {"best.pt", "last.pt", "history.json", "train.log", "train.rank1.log", "config.json",
                           "split.json", "report.html"})
    EXPECT_TRUE(files.count(name)) << name;
  EXPECT_FALSE(files.count("train.rank0.log"));
  EXPECT_EQ(setup.history("run").size(), 2u);
  // The rank-1 log is that worker's own; the run's log says it was data parallel.
  EXPECT_NE(read_text(run / "train.log").find("rank 0 of 2"), std::string::npos);
  EXPECT_NE(read_text(run / "train.rank1.log").find("rank 1 of 2"), std::string::npos);
  RunResult scored = run_tl({"evaluate", "--checkpoint", (run / "best.pt").string(), "--split", "val", "--json"});
  EXPECT_EQ(scored.exit_code, 0) << scored.err;
  // Stopped at an epoch's end, the run goes on in one process: another world size can continue it there.
  RunResult alone = run_tl({"train", "--config", cfg, "--quiet", "--resume", "--set", "train.epochs=3", "--set",
                            "train.eval_test=true"});
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(setup.history("run").size(), 3u);
}

TEST_F(DataParallel, AKilledWorkerEndsTheRunWithinTheTimeoutAndResumeContinues) {
  const std::string cfg = config("killed");
  const int port = free_port();
  const auto started = std::chrono::steady_clock::now();
  RunResult killed = run_tl(with(dp_args(cfg, port), {"--nproc", "2", "--set", "train.epochs=3"}),
                            "TL_TEST_FAULT=KILL@2:1 TL_TEST_FAULT_RANK=1 timeout 120 ");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_NE(killed.exit_code, 0);
  EXPECT_NE(killed.exit_code, 124) << "timed out: " << killed.err;  // ended by itself, not by `timeout`
  EXPECT_LT(seconds, 60);
  EXPECT_NE(killed.err.find("worker rank 1"), std::string::npos) << killed.err;
  const fs::path run = setup.run_dir("killed");
  ASSERT_TRUE(fs::exists(run / "last.pt"));
  EXPECT_EQ(setup.history("killed").size(), 1u);  // epoch 1 was saved whole

  RunResult resumed = run_tl(with(dp_args(cfg, free_port()), {"--nproc", "2", "--set", "train.epochs=3", "--resume"}),
                             "timeout 300 ");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(setup.history("killed").size(), 3u);
}

// Ctrl-C on the launcher (a terminal signals the launcher alone: each worker has its own process
// group): it passes SIGINT on, the workers stop at the same step and save the state within the
// epoch; only the same world size can continue there (one line says so), and it does.
TEST_F(DataParallel, AnInterruptedRunStopsTogetherAndResumesWithItsWorldSize) {
  const std::string cfg = config("interrupted");
  RunResult stopped = run_tl(with(dp_args(cfg, free_port()), {"--nproc", "2"}),
                             "TL_TEST_FAULT=PARENT_INT@1:2 TL_TEST_FAULT_RANK=1 timeout 120 ");
  EXPECT_EQ(stopped.exit_code, tl::kExitInterrupted) << stopped.err;
  const fs::path run = setup.run_dir("interrupted");
  ASSERT_TRUE(fs::exists(run / "last.resume.pt"));

  RunResult alone = run_tl({"train", "--config", cfg, "--quiet", "--resume"});
  EXPECT_EQ(alone.exit_code, tl::kExitConfig) << alone.err;
  EXPECT_NE(alone.err.find("with 2 process(es); resume it with as many (now 1)"), std::string::npos) << alone.err;
  EXPECT_EQ(std::count(alone.err.begin(), alone.err.end(), '\n'), 1) << alone.err;

  RunResult resumed = run_tl(with(dp_args(cfg, free_port()), {"--nproc", "2", "--resume"}), "timeout 300 ");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_EQ(setup.history("interrupted").size(), 2u);
}

TEST_F(DataParallel, TwoHostsOnTwoLoopbackAddressesAsTwoCommands) {
  const std::string cfg = config("hosts");
  const int port = free_port();
  const auto node = [&](int rank, const std::string& local) {
    std::string command = shell_quote(TL_BINARY);
    for (const auto& a : with(dp_args(cfg, port), {"--nnodes", "2", "--node-rank", std::to_string(rank),
                                                    "--master-addr", "127.0.0.1", "--local-addr", local}))
      command += " " + shell_quote(a);
    return "timeout 300 " + command;
  };
  const fs::path rc = setup.dir.path() / "rc";
  RunResult both = run_shell("(" + node(0, "127.0.0.1") + "; echo $? > " + shell_quote(rc.string() + "0") + ") & (" +
                             node(1, "127.0.0.2") + "; echo $? > " + shell_quote(rc.string() + "1") + ") & wait");
  EXPECT_EQ(read_text(rc.string() + "0"), "0\n") << both.err;
  EXPECT_EQ(read_text(rc.string() + "1"), "0\n") << both.err;
  EXPECT_EQ(setup.history("hosts").size(), 2u);
  EXPECT_TRUE(fs::exists(fs::path(setup.run_dir("hosts")) / "train.rank1.log"));
}

TEST_F(DataParallel, MismatchedConfigsAndAPortInUseAreOneLineErrors) {
  // Rank 1 with another seed: both ranks stop, naming the rank.
  const std::string cfg = config("mismatch");
  const int port = free_port();
  const auto node = [&](int rank, const std::string& extra) {
    std::string command = shell_quote(TL_BINARY);
    for (const auto& a : with(dp_args(cfg, port), {"--nnodes", "2", "--node-rank", std::to_string(rank), "--set", extra}))
      command += " " + shell_quote(a);
    return "timeout 120 " + command;
  };
  const fs::path err = setup.dir.path() / "err";
  run_shell("(" + node(0, "train.seed=3") + " 2>" + shell_quote(err.string() + "0") + ") & (" + node(1, "train.seed=4") +
            " 2>" + shell_quote(err.string() + "1") + ") & wait");
  for (const char* r : {"0", "1"}) {
    const std::string text = read_text(err.string() + r);
    EXPECT_NE(text.find("rank(s) 1 have a different config"), std::string::npos) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
  EXPECT_FALSE(fs::exists(fs::path(setup.run_dir("mismatch")) / "history.json"));

  // A port another program holds.
  const int busy_port = free_port();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(uint16_t(busy_port));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(fd, 1);
  RunResult busy = run_tl(with(dp_args(config("busy"), busy_port), {"--nproc", "2", "--set", "dist.timeout_s=5"}),
                          "timeout 120 ");
  ::close(fd);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;
}

}  // namespace
