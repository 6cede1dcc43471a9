// What the README promises, held to the letter through the tl-train binary: frozen splits, odd
// files, run records, messages (issues found by a held-out try and an audit).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "image_fixtures.h"
#include "test_util.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/json.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TrainSetup;
using tl::test::write_text;
namespace fs = std::filesystem;

Json read_json(const fs::path& path) { return tl::parse_json(tl::test::read_text(path)); }

// The test images an evaluation scored, from its misclassified list and the split record.
int64_t scored(const fs::path& eval_dir) { return read_json(eval_dir / "metrics.json")["total"].get<int64_t>(); }

// ---- frozen splits ----

TEST(FrozenSplit, EvaluateAndResumeUseTheRunsSplitWhateverTheFolderHoldsNow) {
  TrainSetup s(3, 0, 0, 0);
  const fs::path root = s.dir.path() / "classes";
  tl::test::write_class_tree(root, {{"a", 20}, {"b", 20}, {"c", 20}});
  const std::string config = s.config("run", R"(, "epochs": 1)");
  const std::vector<std::string> data = {"--set", "data.root=" + root.string(), "--set", "data.layout=folder"};
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--config", config};
    args.insert(args.end(), data.begin(), data.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tl(args);
  };
  ASSERT_EQ(train({}).exit_code, 0);
  const Json split = read_json(s.dir.path() / "run/split.json");
  // One more image in class a used to re-permute it: 14 of 70 later test images had been trained on.
  tl::test::write_image(root / "a" / "img_new.png", 999);
  ASSERT_TRUE(fs::remove(root / split["test"][0]["path"].get<std::string>()));
  RunResult eval = run_tl({"evaluate", "--checkpoint", s.run_dir("run") + "/best.pt", "--out", s.dir.str("eval")});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.err.find("1 image file(s) added since the split"), std::string::npos) << eval.err;
  EXPECT_NE(eval.err.find("1 file(s) of the split"), std::string::npos) << eval.err;
  EXPECT_EQ(scored(s.dir.path() / "eval"), int64_t(split["test"].size()) - 1);
  // A resume that changes a split-defining key is refused, and writes nothing.
  const std::string before = tl::test::read_text(s.dir.path() / "run/config.json");
  RunResult reseeded = train({"--resume", "--set", "train.epochs=2", "--set", "data.seed=7"});
  EXPECT_EQ(reseeded.exit_code, tl::kExitConfig) << reseeded.err;
  EXPECT_NE(reseeded.err.find("'data.seed' changed from 42 to 7"), std::string::npos) << reseeded.err;
  EXPECT_EQ(tl::test::read_text(s.dir.path() / "run/config.json"), before);
  // A plain resume trains on the recorded split: the new image is not in it, the split file unchanged.
  RunResult resumed = train({"--resume", "--set", "train.epochs=2"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_json(s.dir.path() / "run/split.json"), split);
  EXPECT_NE(resumed.out.find("added since the split"), std::string::npos) << resumed.out;
}

// A dataset that moved: evaluate --data NEWROOT finds the run's files there.
TEST(FrozenSplit, EvaluateFollowsAMovedDataset) {
  TrainSetup s;
  ASSERT_EQ(run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)")}).exit_code, 0);
  const std::string moved = s.dir.str("moved");
  fs::rename(s.data, moved);
  RunResult r = run_tl({"evaluate", "--checkpoint", s.run_dir("run") + "/best.pt", "--data", moved, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["total"], 12);
  RunResult lost = run_tl({"evaluate", "--checkpoint", s.run_dir("run") + "/best.pt"});
  EXPECT_EQ(lost.exit_code, tl::kExitData) << lost.err;
  EXPECT_NE(lost.err.find("--data"), std::string::npos) << lost.err;
}

// ---- layouts and odd files ----

TEST(Layouts, AStraySubfolderDoesNotTurnFlatFood11IntoOneClass) {
  TrainSetup s;
  tl::test::write_image(fs::path(s.data) / "training" / "@eaDir" / "thumb.png");
  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)"), "--set", "data.layout=auto"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 classes, 36 train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ignored 1 sub-folder"), std::string::npos) << r.out;
}

TEST(Layouts, FolderWithOnlyTrainGetsATestSplit) {
  TrainSetup s;
  const fs::path root = s.dir.path() / "tree";
  tl::test::write_class_tree(root / "train", {{"cat", 10}, {"dog", 10}});
  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)"), "--set", "data.root=" + root.string(),
                        "--set", "data.layout=folder"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(read_json(s.dir.path() / "run/split.json")["test"].size(), 0u);
  EXPECT_TRUE(fs::exists(s.dir.path() / "run/eval_test/metrics.json"));
}

TEST(OddFiles, ANamedPipeIsSkippedNeverWaitedOn) {
  TrainSetup s;
  const fs::path fifo = fs::path(s.data) / "training" / "0_pipe.png";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  RunResult r = tl::test::run_shell("timeout 120 " + tl::test::shell_quote(TL_BINARY) + " train --config " +
                                    tl::test::shell_quote(s.config("run", R"(, "epochs": 1)")));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("skipping '" + fifo.string() + "': not a regular file (a named pipe)"), std::string::npos)
      << r.out;
  const std::string ok = (fs::path(s.data) / "evaluation" / "0_0.png").string();
  RunResult p = tl::test::run_shell("timeout 60 " + tl::test::shell_quote(TL_BINARY) + " predict --checkpoint " +
                                    tl::test::shell_quote(s.run_dir("run") + "/best.pt") + " " +
                                    tl::test::shell_quote(fifo.string()) + " " + tl::test::shell_quote(ok));
  EXPECT_EQ(p.exit_code, tl::kExitPredict) << p.err;
  EXPECT_NE(p.out.find(ok), std::string::npos) << p.out;
  EXPECT_NE(p.err.find("named pipe"), std::string::npos) << p.err;
}

// File and class names are bytes on Linux: kept as bytes, written to JSON as \udcXX
// (Python's surrogateescape) and to CSV and the console as \xXX.
TEST(OddFiles, NonUtf8NamesTrainEvaluateAndPredict) {
  TrainSetup s;
  const fs::path root = s.dir.path() / "tree";
  tl::test::write_class_tree(root, {{"Pok\xe9mon", 8}, {"caf\xc3\xa9", 8}});
  tl::test::write_image(root / "caf\xc3\xa9" / "caf\xe9.png", 77);
  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)"), "--set", "data.root=" + root.string(),
                        "--set", "data.layout=folder"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string split_text = tl::test::read_text(s.dir.path() / "run/split.json");
  EXPECT_NE(split_text.find("Pok\\udce9mon"), std::string::npos);
  EXPECT_NE(split_text.find("caf\\udce9.png"), std::string::npos);
  EXPECT_EQ(read_json(s.dir.path() / "run/split.json")["classes"][0], "Pok\xe9mon");  // read back as the bytes
  RunResult p = run_tl({"predict", "--checkpoint", s.run_dir("run") + "/best.pt", root.string(), "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), 17);  // every image, one JSON line each
  EXPECT_NE(p.out.find("caf\\udce9.png"), std::string::npos) << p.out;
  for (std::istringstream lines(p.out); !lines.eof();) {
    std::string line;
    if (std::getline(lines, line) && !line.empty()) EXPECT_NO_THROW(tl::parse_json(line)) << line;
  }
  // The Python that reads it gets the bytes back with os.fsencode.
  const std::string python = tl::test::python_with_torch();
  ASSERT_FALSE(python.empty());
  RunResult back =
      tl::test::run_shell(python +
                          " -c 'import json, os, sys; print(os.fsencode(json.load(open(sys.argv[1]))[\"classes\"][0]) "
                          "== b\"Pok\\xe9mon\")' " +
                          tl::test::shell_quote(s.run_dir("run") + "/split.json"));
  EXPECT_EQ(back.out, "True\n") << back.err;
}

// ---- run records ----

TEST(RunRecords, OverwriteRemovesEveryOutputAndResumeFinishesTheLastEpochsFiles) {
  TrainSetup s;
  const std::string config = s.config("run", R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", config}).exit_code, 0);
  ASSERT_TRUE(fs::exists(s.dir.path() / "run/eval_test"));
  RunResult again = run_tl({"train", "--config", config, "--overwrite", "--set", "train.eval_test=false"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_FALSE(fs::exists(s.dir.path() / "run/eval_test"));
  EXPECT_EQ(again.out.find("eval_test"), std::string::npos) << again.out;  // the Done line lists what exists
  // As if killed between the resume state and the history: --resume writes them.
  fs::remove(s.dir.path() / "run/history.csv");
  fs::remove(s.dir.path() / "run/curves.png");
  RunResult resumed = run_tl({"train", "--config", config, "--resume", "--set", "train.eval_test=false"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(s.dir.path() / "run/history.csv"));
  EXPECT_TRUE(fs::exists(s.dir.path() / "run/curves.png"));
}

TEST(RunRecords, ARefusedResumeNamesTheKeyAndWritesNothing) {
  TrainSetup s;
  const std::string config = s.config("run", R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", config}).exit_code, 0);
  const std::string before = tl::test::read_text(s.dir.path() / "run/config.json");
  RunResult r =
      run_tl({"train", "--config", config, "--resume", "--set", "train.epochs=2", "--set", "model.freeze=all"});
  EXPECT_EQ(r.exit_code, tl::kExitConfig) << r.err;
  EXPECT_NE(r.err.find("'model.freeze' is \"all\" but the run"), std::string::npos) << r.err;
  EXPECT_EQ(tl::test::read_text(s.dir.path() / "run/config.json"), before);
}

TEST(RunRecords, ErrorsFoundWithTheDataComeBeforeAnythingIsWritten) {
  TrainSetup s;
  const std::string config = s.config("run", R"(, "epochs": 1)");
  RunResult weights = run_tl({"train", "--config", config, "--set", "train.class_weights=[1, 2]"});
  EXPECT_EQ(weights.exit_code, tl::kExitConfig) << weights.err;
  EXPECT_NE(weights.err.find("train.class_weights has 2 weights but the dataset has 3 classes"), std::string::npos);
  RunResult drop =
      run_tl({"train", "--config", config, "--set", "data.drop_last=true", "--set", "train.batch_size=64"});
  EXPECT_EQ(drop.exit_code, tl::kExitConfig) << drop.err;
  EXPECT_NE(drop.err.find("drops all 36 training images"), std::string::npos) << drop.err;
  RunResult thaw = run_tl({"train", "--config", config, "--set", R"(model.unfreeze_at={"5": "block9_conv1"})"});
  EXPECT_EQ(thaw.exit_code, tl::kExitConfig) << thaw.err;
  EXPECT_NE(thaw.err.find("model.unfreeze_at.5 \"block9_conv1\" is not a layer"), std::string::npos) << thaw.err;
  EXPECT_FALSE(fs::exists(s.run_dir("run")));
}

// train.log is the record of the whole run: the dataset table, the warnings before the log file
// opened, and the error that ended it.
TEST(RunRecords, TrainLogHoldsTheWholeRunAndItsFinalError) {
  TrainSetup s;
  const std::string config = s.config("run", R"(, "epochs": 1)");
  RunResult r = run_tl({"train", "--config", config, "--set", "train.class_weights=[0, 0, 0]"});
  EXPECT_EQ(r.exit_code, tl::kExitTraining) << r.err;
  const std::string log = tl::test::read_text(s.dir.path() / "run/train.log");
  EXPECT_NE(log.find("class | train |   val |  test"), std::string::npos) << log;
  EXPECT_NE(log.find("Dataset: layout food11"), std::string::npos) << log;
  EXPECT_NE(log.find("error: loss became NaN at epoch 1, batch 1"), std::string::npos) << log;
}

TEST(RunRecords, ASecondProcessInTheSameRunDirectoryIsRefused) {
  TrainSetup s;
  const std::string config = s.config("run", R"(, "epochs": 30)");
  const fs::path out = s.dir.path() / "first";
  RunResult second;
  {
    // The first run holds the lock while it trains; the second starts once the first has written its config.
    const std::string first = tl::test::shell_quote(TL_BINARY) + " train --config " + tl::test::shell_quote(config) +
                              " >" + tl::test::shell_quote(out.string()) + " 2>&1 & pid=$!; while [ ! -e " +
                              tl::test::shell_quote(s.run_dir("run") + "/config.json") + " ]; do sleep 0.05; done; " +
                              tl::test::shell_quote(TL_BINARY) + " train --config " + tl::test::shell_quote(config) +
                              " --resume; code=$?; kill $pid; wait $pid; exit $code";
    second = tl::test::run_shell(first);
  }
  EXPECT_EQ(second.exit_code, tl::kExitUsage) << second.err;
  EXPECT_NE(second.err.find("is in use by another tl-train process (PID "), std::string::npos) << second.err;
}

// ---- messages ----

TEST(Messages, CommandLineMistakesNameTheWord) {
  RunResult typo = run_tl({"evalute", "--checkpoint", "x.pt"});
  EXPECT_EQ(typo.exit_code, tl::kExitUsage);
  EXPECT_NE(typo.err.find("unknown command 'evalute' (did you mean 'evaluate'?)"), std::string::npos) << typo.err;
  RunResult version = run_tl({"version"});
  EXPECT_NE(version.err.find("did you mean '--version'?"), std::string::npos) << version.err;
  RunResult both = run_tl(
      {"train", "--config", std::string(TL_SOURCE_DIR) + "/configs/demo_fashion.json", "--resume", "--overwrite"});
  EXPECT_EQ(both.exit_code, tl::kExitUsage);
  EXPECT_NE(both.err.find("--resume excludes --overwrite"), std::string::npos) << both.err;
  RunResult help = run_tl({"predict", "--help"});
  EXPECT_NE(help.out.find("(default 5)"), std::string::npos) << help.out;  // the top-k default
  EXPECT_NE(help.out.find("-q,--quiet"), std::string::npos);
  EXPECT_NE(run_tl({"train", "--help"}).out.find("last.resume.pt"), std::string::npos);
}

TEST(Messages, EpochLinesAndFallbacksReadWell) {
  TrainSetup s(3, 8, 0, 0);
  RunResult r =
      run_tl({"train", "--config", s.config("run", R"(, "epochs": 2)"), "--set", "optim.schedule.warmup_epochs=3",
              "--set", "train.feature_cache_bytes=0", "--set", "model.freeze=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("loss improved from inf to "), std::string::npos) << r.out;
  const std::string fallback = "no validation split: monitoring 'loss' instead of 'val_loss'";
  EXPECT_EQ(r.out.find(fallback), r.out.rfind(fallback)) << r.out;  // said once
  EXPECT_NE(r.out.find("the learning rate never reaches optim.lr"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Feature cache: off (needs "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("needs 0 MiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("over train.feature_cache_bytes (0 B)"), std::string::npos) << r.out;
}

TEST(Messages, CheckpointMistakesGiveTheRightAdvice) {
  TrainSetup s;
  ASSERT_EQ(run_tl({"train", "--config", s.config("run", R"(, "epochs": 1)")}).exit_code, 0);
  const std::string image = (fs::path(s.data) / "evaluation" / "0_0.png").string();
  RunResult resume_state = run_tl({"predict", "--checkpoint", s.run_dir("run") + "/last.resume.pt", image});
  EXPECT_EQ(resume_state.exit_code, tl::kExitModel);
  EXPECT_NE(resume_state.err.find("is a resume state"), std::string::npos) << resume_state.err;
  write_text(s.dir.path() / "random.pt", std::string(1000, 'x'));
  RunResult random = run_tl({"evaluate", "--checkpoint", s.dir.str("random.pt")});
  EXPECT_EQ(random.exit_code, tl::kExitModel);
  EXPECT_EQ(random.err.find("export_vgg16.py"), std::string::npos) << random.err;
  EXPECT_NE(random.err.find("tl-train train"), std::string::npos) << random.err;
  // An --out that cannot be made is a write error naming it.
  write_text(s.dir.path() / "file", "x");
  RunResult out = run_tl({"evaluate", "--checkpoint", s.run_dir("run") + "/best.pt", "--out", s.dir.str("file/sub")});
  EXPECT_EQ(out.exit_code, tl::kExitIo) << out.err;
  EXPECT_NE(out.err.find(s.dir.str("file/sub")), std::string::npos) << out.err;
}

TEST(Messages, VggHeadOnAnEmptyClassifierIsAModelError) {
  TrainSetup s;
  const std::string python = tl::test::python_with_torch();
  ASSERT_FALSE(python.empty());
  const std::string path = s.dir.str("empty_classifier.pt");
  RunResult made = tl::test::run_shell(
      python +
      " -c 'import sys, torch, torchvision; m = torchvision.models.vgg.VGG.__new__(torchvision.models.vgg.VGG); "
      "torch.nn.Module.__init__(m); m.features = torchvision.models.vgg.make_layers([4, \"M\"]); "
      "m.avgpool = torch.nn.AdaptiveAvgPool2d(7); m.classifier = torch.nn.Sequential(); "
      "torch.jit.script(m).save(sys.argv[1])' " +
      tl::test::shell_quote(path));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  RunResult r = run_tl({"summary", "--config", s.config("run"), "--set", "model.backbone=" + path, "--set",
                        "model.head.pool=vgg", "--set", "model.head.hidden=[]", "--set", "model.head.dropout=0"});
  EXPECT_EQ(r.exit_code, tl::kExitModel) << r.err;
  EXPECT_NE(r.err.find("classifier has no layers 0 and 3"), std::string::npos) << r.err;
}

}  // namespace
