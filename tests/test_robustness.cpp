// Bad inputs of every kind, fed to the tl-train binary. Usable odd images train; unusable ones are
// skipped by name or fail the run; every failure ends with one line on stderr naming the file or
// key and the fix, the documented exit code, no abort trace, never a signal, and no change to the
// run directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "backbone_fixtures.h"
#include "image_fixtures.h"
#include "test_util.h"
#include "tl/config.h"
#include "tl/errors.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::bytes_of;
using tl::test::encode;
using tl::test::noise;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TrainSetup;
using tl::test::write_text;
namespace fs = std::filesystem;

// What an uncaught exception, an abort or a sanitizer report leaves on the terminal.
const char* const kAbortTraces[] = {"terminate called",   "Aborted",     "c10::Error",       "Exception raised from",
                                    "Segmentation fault", "core dumped", "AddressSanitizer", "runtime error:"};

// OpenCV's PNG decoder lets libpng print its own errors ("libpng error: ...") on stderr; tl-train's
// report of the file comes in addition to that line.
bool from_image_library(const std::string& line) { return line.rfind("libpng ", 0) == 0; }

// A clean failure: exited (not killed) with `exit_code`, `lines` lines of tl-train's own on stderr,
// every one of `mentions` in them, no abort trace on either stream.
::testing::AssertionResult fails_cleanly(const RunResult& r, int exit_code, const std::vector<std::string>& mentions,
                                         size_t lines = 1) {
  auto failure = [&] {
    return ::testing::AssertionFailure() << "\nstderr:\n" << r.err << "stdout:\n" << r.out << "\n";
  };
  if (r.signal != 0) return failure() << "ended by signal " << r.signal;
  if (r.exit_code != exit_code) return failure() << "exit code " << r.exit_code << ", expected " << exit_code;
  std::istringstream err(r.err);
  size_t own = 0;
  for (std::string line; std::getline(err, line);) {
    if (from_image_library(line)) continue;
    if (line.rfind("tl-train: ", 0) != 0) return failure() << "not a tl-train line: " << line;
    ++own;
  }
  if (own != lines) return failure() << own << " stderr lines, expected " << lines;
  for (const auto& m : mentions)
    if (r.err.find(m) == std::string::npos) return failure() << "stderr does not mention '" << m << "'";
  for (const char* trace : kAbortTraces)
    if (r.err.find(trace) != std::string::npos || r.out.find(trace) != std::string::npos)
      return failure() << "abort trace '" << trace << "'";
  return ::testing::AssertionSuccess();
}

// Every entry under `dir` with its size and modification time: equal snapshots mean nothing was
// written (an absent directory gives an empty one).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const bool regular = it->is_regular_file();
    entries[it->path().lexically_relative(dir).string()] =
        std::to_string(regular ? it->file_size() : 0) + "@" +
        std::to_string(fs::last_write_time(it->path()).time_since_epoch().count());
  }
  return entries;
}

// Usable images that are not plain 8-bit RGB: each must become 3-channel RGB and train.
std::vector<std::pair<std::string, std::string>> odd_usable_images() {
  cv::Mat rgba = noise(16, 16, CV_8UC4), deep(16, 16, CV_16UC3);
  cv::randu(deep, 0, 65536);
  return {{"grey.png", encode(".png", noise(16, 16, CV_8UC1))},
          {"grey.jpg", encode(".jpg", noise(16, 16, CV_8UC1))},
          {"cmyk.jpg", bytes_of(tl::test::kCmykJpeg, sizeof tl::test::kCmykJpeg)},
          {"deep.png", encode(".png", deep)},
          {"rgba.png", encode(".png", rgba)},
          {"palette.png", bytes_of(tl::test::kPalettePng, sizeof tl::test::kPalettePng)},
          {"one_pixel.png", encode(".png", noise(1, 1))},
          {"one_pixel.jpg", encode(".jpg", noise(1, 1))}};
}

// Unusable files with an image extension, and a word of the reason each is refused with. All but
// the last are caught by the header probe during the dataset scan; corrupt.png only when decoded.
std::vector<std::array<std::string, 3>> unusable_images() {
  const std::string jpeg = encode(".jpg", noise(32, 32));
  std::string huge = encode(".png", noise(1, 1));
  tl::test::put_be32(huge, 16, 100000);  // IHDR width and height
  tl::test::put_be32(huge, 20, 100000);
  std::string corrupt = encode(".png", noise(32, 32));
  for (size_t i = corrupt.find("IDAT") + 4, end = i + 64; i < end; ++i)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5A);
  return {{"truncated.jpg", jpeg.substr(0, jpeg.size() / 2), "truncated JPEG"},
          {"empty.jpg", "", "empty file"},
          {"text.jpg", "just some text\n", "not an image"},
          {"page.png", "<!DOCTYPE html><html><body>404 Not Found</body></html>\n", "not an image"},
          {"huge.png", huge, "data.max_pixels"},
          {"corrupt.png", corrupt, "cannot decode"}};
}

// ---- images in a training run ----

TEST(RobustImages, OddImagesTrainAndUnusableOnesAreSkippedByName) {
  TrainSetup s(3, 6, 2, 0);
  const fs::path train = fs::path(s.data) / "training";
  std::vector<std::string> usable, unusable;
  int n = 0;  // spreads the files over the three labels
  auto add = [&](std::vector<std::string>& list, const std::string& name, const std::string& bytes) {
    list.push_back((train / (std::to_string(n++ % 3) + "_" + name)).string());
    write_text(list.back(), bytes);
  };
  for (const auto& [name, bytes] : odd_usable_images()) add(usable, name, bytes);
  for (const auto& [name, bytes, reason] : unusable_images()) add(unusable, name, bytes);
  unusable.push_back((fs::path(s.data) / "validation" / "1_truncated.jpg").string());
  write_text(unusable.back(), encode(".jpg", noise(16, 16)).substr(0, 100));
  unusable.push_back((train / "2_locked.png").string());
  write_text(unusable.back(), encode(".png", noise(16, 16)));
  ASSERT_EQ(::chmod(unusable.back().c_str(), 0), 0);

  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)")},
                       tl::test::without_permission_override_prefix());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& path : unusable)
    EXPECT_NE(r.out.find("skipping '" + path + "'"), std::string::npos) << path << "\n" << r.out;
  EXPECT_NE(r.out.find("skipped unusable images: train"), std::string::npos) << r.out;
  const std::string split = tl::test::read_text(fs::path(s.run_dir("run")) / "split.json");
  for (const auto& path : usable)  // split.json holds paths relative to data.root
    EXPECT_NE(split.find(fs::path(path).lexically_relative(s.data).string()), std::string::npos)
        << path << " was not used";
  EXPECT_EQ(s.history("run").size(), 1u);
}

TEST(RobustImages, EachUnusableImageFailsTheRunWhenOnBadImageIsFail) {
  TrainSetup s(2, 3, 1, 0);
  const std::string config = s.config("run", R"(, "epochs": 1)");
  for (const auto& [name, bytes, reason] : unusable_images()) {
    SCOPED_TRACE(name);
    const fs::path bad = fs::path(s.data) / "training" / ("1_" + name);
    write_text(bad, bytes);
    RunResult r = run_tl({"train", "--config", config, "--set", "data.on_bad_image=fail"});
    EXPECT_TRUE(fails_cleanly(r, tl::kExitData, {bad.string(), reason, "data.on_bad_image"}));
    // Found by the scan, before anything is written; a file that only fails to decode stops the
    // run in its first epoch, after the run directory was made.
    if (name != "corrupt.png") EXPECT_FALSE(fs::exists(s.run_dir("run")));
    fs::remove(bad);
    fs::remove_all(s.run_dir("run"));
  }
  // With "skip", a split left without any usable image is an error too.
  for (const auto& entry : fs::directory_iterator(fs::path(s.data) / "validation")) write_text(entry.path(), "");
  RunResult r = run_tl({"train", "--config", config});
  EXPECT_TRUE(fails_cleanly(r, tl::kExitData, {"val split", "no usable image"}));
  EXPECT_FALSE(fs::exists(s.run_dir("run")));
}

TEST(RobustImages, EmptyClassFolderAndUnreadableDirectoryAreNamed) {
  TrainSetup s;
  const fs::path root = s.dir.path() / "classes";
  tl::test::write_class_tree(root, {{"cat", 3}, {"dog", 3}});
  fs::create_directories(root / "empty");
  const std::string config = s.config("run", R"(, "epochs": 1)");
  const std::vector<std::string> sets = {"--set", "data.root=" + root.string(), "--set", "data.layout=folder"};
  auto train = [&] {
    std::vector<std::string> args = {"train", "--config", config};
    args.insert(args.end(), sets.begin(), sets.end());
    return run_tl(args, tl::test::without_permission_override_prefix());  // root could read chmod 000 anyway
  };
  EXPECT_TRUE(fails_cleanly(train(), tl::kExitData, {(root / "empty").string(), "data.exclude"}));
  EXPECT_FALSE(fs::exists(s.run_dir("run")));
  fs::remove(root / "empty");
  ASSERT_EQ(::chmod((root / "dog").c_str(), 0), 0);
  EXPECT_TRUE(fails_cleanly(train(), tl::kExitData, {(root / "dog").string(), "permission"}));
  EXPECT_FALSE(fs::exists(s.run_dir("run")));
  ::chmod((root / "dog").c_str(), 0755);
}

// ---- configurations and model files ----

// A state_dict saved by Python's torch.save: a zip archive like TorchScript, but without code.
std::string write_state_dict(const fs::path& path) {
  const std::string python = tl::test::python_with_torch();
  if (python.empty()) return "";
  RunResult r = tl::test::run_shell(
      python + " -c 'import sys, torch; torch.save(torch.nn.Linear(2, 2).state_dict(), sys.argv[1])' " +
      tl::test::shell_quote(path.string()));
  return r.exit_code == 0 ? path.string() : "";
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

// Model files that cannot be used, and a word of the message each gives.
std::vector<std::array<std::string, 2>> bad_model_files(const TrainSetup& s) {
  const std::string backbone = tl::test::read_text(s.backbone);
  write_text(s.dir.path() / "random.pt", random_bytes(4096, 1));
  write_text(s.dir.path() / "truncated.pt", backbone.substr(0, backbone.size() / 2));
  std::vector<std::array<std::string, 2>> files = {{s.dir.str("random.pt"), "not a TorchScript archive"},
                                                   {s.dir.str("truncated.pt"), "not a TorchScript archive"},
                                                   {s.dir.str("missing.pt"), "no such file"}};
  const std::string state_dict = write_state_dict(s.dir.path() / "state_dict.pt");
  if (!state_dict.empty()) files.push_back({state_dict, "state_dict"});
  return files;
}

struct ConfigCase {
  std::string what;
  std::vector<std::string> sets;  // --set overrides
  int exit_code;
  std::vector<std::string> mentions;
  size_t lines = 1;
};

TEST(RobustConfigs, EachBadConfigFailsCleanlyInTrainAndSummaryAndWritesNothing) {
  TrainSetup s(2, 3, 1, 0);
  std::vector<ConfigCase> cases = {
      {"lr 0", {"optim.lr=0"}, tl::kExitConfig, {"'optim.lr' is 0; it must be > 0"}},
      {"lr < 0", {"optim.lr=-0.1"}, tl::kExitConfig, {"'optim.lr'"}},
      {"batch 0", {"train.batch_size=0"}, tl::kExitConfig, {"'train.batch_size' is 0; it must be >= 1"}},
      {"split", {"data.split=[0.5, 0.3, 0.1]"}, tl::kExitConfig, {"'data.split'", "sum to 1"}},
      {"wrong type", {"train.epochs=\"3\""}, tl::kExitConfig, {"'train.epochs' must be an integer, got a string"}},
      {"unknown key",
       {"train.epoch=3"},
       tl::kExitConfig,
       {"'train.epoch' is not a known key", "did you mean 'train.epochs'"}},
      {"freeze 14", {"model.freeze=14"}, tl::kExitConfig, {"model.freeze", "14", "beyond"}},
      {"freeze name", {"model.freeze=block6_conv1"}, tl::kExitConfig, {"model.freeze", "block6_conv1"}},
      {"two problems", {"optim.lr=0", "train.batch_size=0"}, tl::kExitConfig, {"'optim.lr'", "'train.batch_size'"}, 2},
      {"step 2^32",
       {"optim.schedule.name=step", "optim.schedule.step_size=4294967296"},
       tl::kExitConfig,
       {"'optim.schedule.step_size' is 4294967296"}},  // was narrowed to 0: SIGFPE in training
      {"non-UTF-8 --set",
       {"train.out=run\xff"},
       tl::kExitConfig,
       {"'train.out=...' is not UTF-8"}},  // was an uncaught type_error
      {"missing data root", {"data.root=" + s.dir.str("nowhere")}, tl::kExitData, {"data.root", s.dir.str("nowhere")}},
  };
  for (const auto& [file, words] : bad_model_files(s))
    cases.push_back({"backbone " + file, {"model.backbone=" + file}, tl::kExitModel, {file, words, "export"}});

  const std::string config = s.config("run", R"(, "epochs": 1)");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    for (const std::string command : {"train", "summary"}) {
      std::vector<std::string> args = {command, "--config", config};
      for (const auto& set : c.sets) args.insert(args.end(), {"--set", set});
      EXPECT_TRUE(fails_cleanly(run_tl(args), c.exit_code, c.mentions, c.lines)) << command;
    }
    EXPECT_FALSE(fs::exists(s.run_dir("run")));
  }
}

// Found while writing the config fuzz target: numbers past an int were narrowed before the range
// check (UB; a step_size of 2^32 became 0 and training died of SIGFPE), a long unfreeze_at epoch
// escaped as std::out_of_range ("stoi", exit 1), a huge hidden width failed in the allocator.
TEST(RobustConfigs, HugeNumbersAreRangeErrorsReportedAsWritten) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"train": {"epochs": 1e300}})", "'train.epochs' is 1e+300; it must be >= 1 and <= 1000000"},
      {R"({"data": {"max_pixels": 1e19}})", "'data.max_pixels' is 1e+19; it must be >= 1"},
      {R"({"optim": {"schedule": {"step_size": 4294967296}}})",
       "'optim.schedule.step_size' is 4294967296; it must be >= 1"},
      {R"({"train": {"early_stopping": {"patience": 4294967296}}})", "'train.early_stopping.patience' is 4294967296"},
      {R"({"model": {"unfreeze_at": {"99999999999": "none"}}})",
       "'model.unfreeze_at.99999999999' key must be an epoch number"},
      {R"({"model": {"head": {"hidden": [10000000000]}}})",
       "'model.head.hidden' must be a list of layer widths from 1 to 65536"},
  };
  for (const auto& [json, message] : cases) {
    try {
      tl::parse_config(Json::parse(json), "x.json");
      ADD_FAILURE() << json << " was accepted";
    } catch (const tl::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

TEST(RobustConfigs, BrokenConfigFilesAreReportedWithLineAndColumn) {
  TrainSetup s(2, 3, 1, 0);
  std::string text = tl::test::read_text(s.config("run"));
  const size_t comma = text.find(',', text.find("\"threads\":"));
  write_text(s.dir.path() / "no_comma.json", text.erase(comma, 1));  // line 2 loses its comma
  write_text(s.dir.path() / "random.json", random_bytes(512, 2));
  write_text(s.dir.path() / "empty.json", "");
  write_text(s.dir.path() / "list.json", "[1, 2]");
  write_text(s.dir.path() / "overflow.json", R"({"train": {"epochs": 1e400}})");  // was exit 1, no file named
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"no_comma.json", {"no_comma.json:3:", "invalid JSON"}},
      {"random.json", {"random.json:1:", "invalid JSON"}},
      {"empty.json", {"empty.json:1:", "invalid JSON"}},
      {"list.json", {"list.json", "JSON object"}},
      {"overflow.json", {"overflow.json", "number overflow", "double"}}};
  for (const auto& [name, mentions] : cases)
    for (const std::string command : {"train", "summary"})
      EXPECT_TRUE(fails_cleanly(run_tl({command, "--config", s.dir.str(name)}), tl::kExitConfig, mentions)) << name;
  EXPECT_TRUE(fails_cleanly(run_tl({"train", "--config", s.dir.str("none.json")}), tl::kExitUsage, {"none.json"}));
  EXPECT_FALSE(fs::exists(s.run_dir("run")));
}

// One trained checkpoint, then every command that reads one given bad checkpoints, mismatched
// datasets and bad images.
TEST(RobustCheckpoints, EvaluatePredictAndResumeRefuseBadInputsCleanly) {
  TrainSetup s(3, 4, 2, 3);
  ASSERT_EQ(run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)")}).exit_code, 0);
  const std::string best = s.run_dir("run") + "/best.pt";

  auto bad_checkpoints = bad_model_files(s);
  bad_checkpoints.push_back({s.backbone, "not a tl-train checkpoint"});
  const std::string image = s.dir.str("cat.png");
  write_text(image, encode(".png", noise(16, 16)));
  for (const auto& [file, words] : bad_checkpoints) {
    SCOPED_TRACE(file);
    const bool exists = fs::exists(file);  // a missing file is a usage error (checked by the parser)
    const int code = exists ? tl::kExitModel : tl::kExitUsage;
    const std::vector<std::string> mentions =
        exists ? std::vector<std::string>{file, words} : std::vector<std::string>{file};
    EXPECT_TRUE(fails_cleanly(run_tl({"evaluate", "--checkpoint", file}), code, mentions));
    EXPECT_TRUE(fails_cleanly(run_tl({"predict", "--checkpoint", file, image}), code, mentions));
  }

  // A dataset with another class count: evaluate refuses it, and so does --resume of the run.
  const std::string other = s.dir.str("other");
  tl::test::write_food11_dataset(other, 2, 3, 1, 1);
  const auto before = snapshot(s.run_dir("run"));
  EXPECT_TRUE(fails_cleanly(run_tl({"evaluate", "--checkpoint", best, "--data", other}), tl::kExitData,
                            {other, "checkpoint was trained on", "--data"}));
  RunResult resumed = run_tl({"train", "--config", s.dir.str("run.json"), "--resume", "--set", "data.root=" + other,
                              "--set", "train.epochs=2"});
  EXPECT_TRUE(fails_cleanly(resumed, tl::kExitData, {other, s.run_dir("run")}));
  EXPECT_EQ(snapshot(s.run_dir("run")), before);

  // A damaged resume state is named, with the way out.
  const std::string resume_state = s.run_dir("run") + "/last.resume.pt";
  const std::string saved = tl::test::read_text(resume_state);
  write_text(resume_state, saved.substr(0, saved.size() / 2));
  EXPECT_TRUE(fails_cleanly(run_tl({"train", "--config", s.dir.str("run.json"), "--resume", "--set", "train.epochs=2"}),
                            tl::kExitModel, {resume_state, "--overwrite"}));
  write_text(resume_state, saved);

  // Test images of the run that went bad since: evaluate skips them by name; predict names each and exits 8.
  std::vector<std::string> bad;
  int next = 0;
  for (const auto& [name, bytes, reason] : unusable_images()) {
    bad.push_back(
        (fs::path(s.data) / "evaluation" / (std::to_string(next % 3) + "_" + std::to_string(next / 3) + ".png"))
            .string());
    write_text(bad.back(), bytes);
    ++next;
  }
  RunResult eval = run_tl({"evaluate", "--checkpoint", best, "--out", s.dir.str("eval")});
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  for (const auto& path : bad)
    EXPECT_NE(eval.err.find("skipping '" + path + "'"), std::string::npos) << path << eval.err;

  std::vector<std::string> predict = {"predict", "--checkpoint", best};
  predict.insert(predict.end(), bad.begin(), bad.end());
  for (const auto& [name, bytes] : odd_usable_images()) {
    predict.push_back(s.dir.str(name));
    write_text(predict.back(), bytes);
  }
  RunResult p = run_tl(predict);
  EXPECT_TRUE(fails_cleanly(p, tl::kExitPredict, bad, bad.size() + 1));
  for (const auto& [name, bytes] : odd_usable_images())
    EXPECT_NE(p.out.find(s.dir.str(name) + "\n"), std::string::npos) << name;
}

}  // namespace
