// tl-train check-data on a dataset with one of each problem the scan knows: a link to the root
// inside a class, a hard link across classes, a copy leaking from train into test, an unusable file
// and a tiny image. It reports all of them and exits as training would.
#include <unistd.h>

#include <gtest/gtest.h>

#include "image_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/json.h"

namespace {

namespace fs = std::filesystem;
using tl::Json;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TempDir;

struct FlawedDataset {
  TempDir dir;
  fs::path root = dir.path() / "data";
  std::string config = dir.str("check.json");

  FlawedDataset() {
    tl::test::write_class_tree(root / "train", {{"cat", 4}, {"dog", 4}});
    tl::test::write_class_tree(root / "test", {{"cat", 2}, {"dog", 2}});
    fs::create_directory_symlink("../..", root / "train" / "cat" / "loop");  // the root, inside a class
    fs::create_hard_link(root / "train" / "cat" / "img_0.png", root / "train" / "dog" / "same.png");  // two labels
    fs::copy_file(root / "train" / "dog" / "img_1.png", root / "test" / "dog" / "copy.png");          // train -> test
    tl::test::write_text(root / "train" / "cat" / "broken.png", "not an image");
    tl::test::write_image(root / "train" / "dog" / "tiny.png", 7, 4, 4);
    tl::test::write_text(config, R"({"data": {"root": ")" + root.string() + R"(", "layout": "folder"},
                                     "model": {"input_size": 64}})");
  }
  RunResult check(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"check-data", "--config", config};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tl(args);
  }
};

TEST(CheckData, ReportsEveryProblemAndExitsAsTrainingWould) {
  FlawedDataset d;
  RunResult r = d.check({"--json"});
  EXPECT_EQ(r.exit_code, tl::kExitData) << r.err;  // a label conflict with data.on_conflict = "fail"
  const Json j = Json::parse(r.out);
  EXPECT_FALSE(j["would_train"].get<bool>());
  EXPECT_EQ(j["exit_code"], tl::kExitData);
  EXPECT_NE(j["error"].get<std::string>().find("carry two labels"), std::string::npos) << j["error"];
  ASSERT_EQ(j["conflicts"].size(), 1u) << j.dump(1);
  EXPECT_TRUE(j["conflicts"][0]["same_file"].get<bool>());
  ASSERT_EQ(j["refused_links"].size(), 1u);
  EXPECT_EQ(j["refused_links"][0], (d.root / "train" / "cat" / "loop").string());
  ASSERT_EQ(j["unusable"].size(), 1u);
  EXPECT_EQ(j["unusable"][0]["path"], (d.root / "train" / "cat" / "broken.png").string());
  EXPECT_EQ(j["leaked"], 1);
  bool tiny_noted = false;
  for (const auto& o : j["odd_sizes"]) tiny_noted |= o["path"] == (d.root / "train" / "dog" / "tiny.png").string();
  EXPECT_TRUE(tiny_noted) << j["odd_sizes"];
  EXPECT_EQ(j["classes"], (std::vector<std::string>{"cat", "dog"}));
  // Nothing was written: check-data is read-only.
  EXPECT_FALSE(fs::exists(d.dir.path() / "runs"));
}

TEST(CheckData, TextReportAndAConfigThatLetsTrainingStart) {
  FlawedDataset d;
  RunResult refused = d.check();
  EXPECT_EQ(refused.exit_code, tl::kExitData);
  EXPECT_NE(refused.out.find("Label conflicts: 1"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("Training would not start (exit 4)"), std::string::npos) << refused.out;
  EXPECT_NE(refused.err.find("data.on_conflict"), std::string::npos) << refused.err;  // the way out

  RunResult ok = d.check({"--set", "data.on_conflict=skip"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Duplicates across splits"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Unusable files: 1"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("Training would start with this data."), std::string::npos) << ok.out;

  RunResult strict = d.check({"--set", "data.on_conflict=skip", "--set", "data.duplicates=fail", "--json"});
  EXPECT_EQ(strict.exit_code, tl::kExitData);
  EXPECT_NE(Json::parse(strict.out)["error"].get<std::string>().find("data.duplicates"), std::string::npos)
      << strict.out;
}

}  // namespace
