// What helps users choose and understand: the learning-rate range test (lr-find), Grad-CAM
// explanations (predict --explain) and the one-page run report (report.html), end to end on tiny
// models, plus the pure parts (the suggestion rules, base64, CSV lines) as unit tests.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <random>
#include <regex>
#include <sstream>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/grad_cam.h"
#include "tl/html_report.h"
#include "tl/json.h"
#include "tl/lr_finder.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::read_text;
using tl::test::run_shell;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TempDir;
using tl::test::TrainSetup;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---- the LR finder's arithmetic ----

std::vector<tl::LrFindPoint> curve(const tl::LrFindOptions& o, double (*loss_at)(double log_lr)) {
  std::vector<tl::LrFindPoint> points;
  for (int step = 1; step <= o.steps; ++step) {
    const double lr = tl::lr_at_step(o, step);
    points.push_back({step, lr, loss_at(std::log10(lr)), loss_at(std::log10(lr))});
  }
  return points;
}

TEST(LrFinderRules, RatesGrowGeometricallyFromStartToEnd) {
  tl::LrFindOptions o;
  o.start_lr = 1e-6, o.end_lr = 1, o.steps = 7;
  EXPECT_DOUBLE_EQ(tl::lr_at_step(o, 1), 1e-6);
  EXPECT_NEAR(tl::lr_at_step(o, 7), 1.0, 1e-12);
  for (int s = 2; s <= 7; ++s) EXPECT_NEAR(tl::lr_at_step(o, s) / tl::lr_at_step(o, s - 1), 10.0, 1e-9);
}

TEST(LrFinderRules, SteepestDescentAndMinimumOverTen) {
  tl::LrFindOptions o;
  o.start_lr = 1e-7, o.end_lr = 10, o.steps = 81;  // 10 points a decade
  // Falls fastest at 1e-3, lowest at 1e-1, then climbs.
  const auto points = curve(o, [](double x) { return 2 - std::tanh(2 * (x + 3)) + (x > -1 ? 3 * (x + 1) * (x + 1) : 0); });
  const tl::LrSuggestion s = tl::suggest_learning_rate(points, o.steps);
  EXPECT_NEAR(std::log10(s.steepest), -3, 0.051);
  EXPECT_NEAR(std::log10(s.minimum_tenth), -2, 0.051);
  EXPECT_EQ(points[size_t(s.steepest_step - 1)].lr, s.steepest);
}

TEST(LrFinderRules, SteepestIsLookedForBeforeTheMinimumOnly) {
  tl::LrFindOptions o;
  o.start_lr = 1e-5, o.end_lr = 1, o.steps = 51;
  // A gentle fall to a minimum at 1e-2, then a cliff upwards: the steepest *descent* is before it.
  const auto points = curve(o, [](double x) { return x < -2 ? 1 - 0.1 * (x + 5) : 0.7 + 5 * (x + 2); });
  const tl::LrSuggestion s = tl::suggest_learning_rate(points, o.steps);
  EXPECT_LT(s.steepest, 1e-2);
  EXPECT_NEAR(std::log10(s.minimum_tenth), -3, 0.09);
}

// The first tenth of the steps (a smoothed loss still settling) and the last 5 points are not
// looked at, as in fastai: a plunge there is no suggestion.
TEST(LrFinderRules, TheFirstTenthAndTheLastFivePointsAreSkipped) {
  tl::LrFindOptions o;
  o.start_lr = 1e-7, o.end_lr = 10, o.steps = 81;
  auto points = curve(o, [](double x) { return 2 - std::tanh(2 * (x + 3)); });  // steepest at 1e-3
  points[1].smoothed -= 5;  // a plunge at the second step
  points.back().smoothed -= 5;  // and at the last
  const tl::LrSuggestion s = tl::suggest_learning_rate(points, o.steps);
  EXPECT_NEAR(std::log10(s.steepest), -3, 0.051);
  EXPECT_GT(s.steepest_step, 8);
  EXPECT_LT(s.minimum_tenth, points[points.size() - 5].lr);
}

TEST(LrFinderRules, TooFewPointsGiveNoSuggestionAndBadOptionsNameTheFlag) {
  tl::LrFindOptions o;
  o.steps = 4;
  EXPECT_TRUE(std::isnan(tl::suggest_learning_rate(curve(o, [](double x) { return -x; }), o.steps).steepest));
  try {
    tl::check_lr_find_options(o);
    FAIL() << "accepted 4 steps";
  } catch (const tl::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--steps"), std::string::npos) << e.what();
  }
  o.steps = 100, o.end_lr = o.start_lr / 2;
  EXPECT_THROW(tl::check_lr_find_options(o), tl::ConfigError);
}

// ---- the report's pieces ----

TEST(ReportParts, Base64AndEscapingAndCsvLines) {
  EXPECT_EQ(tl::base64({}), "");
  EXPECT_EQ(tl::base64({'M'}), "TQ==");
  EXPECT_EQ(tl::base64({'M', 'a'}), "TWE=");
  EXPECT_EQ(tl::base64({'M', 'a', 'n', 0xff}), "TWFu/w==");
  EXPECT_EQ(tl::html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  const auto f = tl::parse_csv_line("\"a,b\",\"say \"\"hi\"\"\",plain,0.5\r");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], "a,b");
  EXPECT_EQ(f[1], "say \"hi\"");
  EXPECT_EQ(f[3], "0.5");
}

// ---- lr-find end to end ----

class LrFind : public ::testing::Test {};

TEST_F(LrFind, WritesCsvAndPlotSuggestsARateAndTouchesNoRunDirectory) {
  TrainSetup setup;
  const std::string config = setup.config("find");
  const std::string out = setup.dir.str("lr");
  RunResult r = run_tl({"lr-find", "--config", config, "--steps", "30", "--out", out, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(setup.run_dir("find"))) << "lr-find made the run directory";

  const auto rows = lines_of(read_text(fs::path(out) / "lr_find.csv"));
  ASSERT_GE(rows.size(), 6u);
  EXPECT_EQ(rows[0], "step,lr,loss,smoothed");
  EXPECT_LE(rows.size(), 31u);
  double previous = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto f = tl::parse_csv_line(rows[i]);
    ASSERT_EQ(f.size(), 4u) << rows[i];
    EXPECT_EQ(std::stoi(f[0]), int(i));
    EXPECT_GT(std::stod(f[1]), previous);
    previous = std::stod(f[1]);
    EXPECT_TRUE(std::isfinite(std::stod(f[2])) && std::isfinite(std::stod(f[3]))) << rows[i];
  }
  EXPECT_NEAR(std::stod(tl::parse_csv_line(rows[1])[1]), 1e-7, 1e-12);
  const cv::Mat png = cv::imread((fs::path(out) / "lr_find.png").string());
  ASSERT_FALSE(png.empty());
  EXPECT_GT(png.cols, 400);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("--set optim\\.lr=([0-9.e+-]+)"))) << r.out;
  const double suggested = std::stod(m[1]);
  EXPECT_GT(suggested, 1e-7);
  EXPECT_LT(suggested, 10);
  EXPECT_NE(r.out.find("steepest descent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("minimum / 10"), std::string::npos) << r.out;
}

TEST_F(LrFind, UsesTheFeatureCacheWithAFrozenBackboneAndWorksWithSgd) {
  TrainSetup setup;
  const std::string config = setup.config("find", "", ", \"freeze\": \"all\"");
  const std::string out = setup.dir.str("lr");
  RunResult r = run_tl({"lr-find", "--config", config, "--steps", "20", "--out", out, "--set", "optim.name=\"sgd\"",
                        "--set", "train.accumulate=2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("frozen features computed once"), std::string::npos) << r.out;
  EXPECT_GE(lines_of(read_text(fs::path(out) / "lr_find.csv")).size(), 6u);
  RunResult bad = run_tl({"lr-find", "--config", config, "--start-lr", "1", "--end-lr", "0.1", "--out", out});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--end-lr"), std::string::npos) << bad.err;
  EXPECT_EQ(lines_of(bad.err).size(), 1u) << bad.err;
}

// ---- Grad-CAM ----

// The peak lands on the original image's pixels: x is the column, y the row; with shorter-side
// resize and centre crop, only the centred square the model saw carries the map.
TEST(CamOverlayGeometry, PeakInOriginalPixelsAndNoneForAnEmptyMap) {
  torch::Tensor map = torch::zeros({4, 4});
  map[1][3] = 1.0;  // row 1, column 3
  const cv::Mat wide(40, 80, CV_8UC3, cv::Scalar(90, 90, 90));
  const tl::CamOverlay stretched = tl::cam_overlay(wide, map, tl::ResizeMode::Stretch);
  ASSERT_TRUE(stretched.peak.has_value());
  EXPECT_NEAR(stretched.peak->x, 70, 3);  // column 3 of 4 across 80 px
  EXPECT_NEAR(stretched.peak->y, 15, 3);  // row 1 of 4 down 40 px
  EXPECT_EQ(stretched.bgr.size(), wide.size());
  const tl::CamOverlay cropped = tl::cam_overlay(wide, map, tl::ResizeMode::ShorterCenterCrop);
  ASSERT_TRUE(cropped.peak.has_value());
  EXPECT_NEAR(cropped.peak->x, 20 + 35, 3);  // the seen square starts at x 20
  EXPECT_NEAR(cropped.peak->y, 15, 3);
  EXPECT_EQ(cropped.bgr.at<cv::Vec3b>(20, 5), cv::Vec3b(90, 90, 90));  // outside the seen square
  EXPECT_FALSE(tl::cam_overlay(wide, torch::zeros({4, 4}), tl::ResizeMode::Stretch).peak.has_value());
}

// 64 px images of grey noise with two 22 px squares at random places: a flat grey one in every
// image, and a red (class 0) or a blue (class 1) one that decides the class; class 2 has none.
// The grey square and the empty class keep the model from learning a class as "no texture here"
// or "not the other colour", evidence that lies nowhere and that Grad-CAM cannot show.
struct ObjectImage {
  cv::Mat bgr;
  cv::Rect box;         // the square that decides the class (none for class 2)
  cv::Rect distractor;  // the grey square
};

ObjectImage object_image(int label, std::mt19937& rng) {
  constexpr int kSide = 22;
  std::normal_distribution<double> noise(0, 18);
  std::uniform_int_distribution<int> place(0, 64 - kSide);
  ObjectImage out{cv::Mat(64, 64, CV_8UC3), {}, {}};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) out.bgr.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uchar>(128 + noise(rng));
  do {
    out.box = cv::Rect(place(rng), place(rng), kSide, kSide);
    out.distractor = cv::Rect(place(rng), place(rng), kSide, kSide);
  } while ((out.box & out.distractor).area() > 0);
  out.bgr(out.distractor).setTo(cv::Scalar(128, 128, 128));
  if (label < 2) out.bgr(out.box).setTo(label == 0 ? cv::Scalar(30, 30, 230) : cv::Scalar(230, 60, 30));
  return out;
}

// Trains a model on such images (dir/run/best.pt); fills `test_images` with 30 red or blue ones.
std::string train_on_objects(const TempDir& dir, std::map<std::string, ObjectImage>& test_images,
                             const std::string& model_extra = "") {
  std::mt19937 rng(11);
  const std::pair<const char*, int> splits[] = {{"training", 80}, {"validation", 6}, {"evaluation", 0}};
  for (const auto& [split, count] : splits) {
    fs::create_directories(dir.path() / "data" / split);
    for (int label = 0; label < 3; ++label)
      for (int i = 0; i < count; ++i)
        cv::imwrite((dir.path() / "data" / split / (std::to_string(label) + "_" + std::to_string(i) + ".png")).string(),
                    object_image(label, rng).bgr);
  }
  fs::create_directories(dir.path() / "test");
  for (int i = 0; i < 30; ++i) {
    ObjectImage img = object_image(i % 2, rng);
    const std::string path = (dir.path() / "test" / ("img" + std::to_string(i) + ".png")).string();
    cv::imwrite(path, img.bgr);
    test_images[path] = std::move(img);
  }
  // A linear head on globally averaged features: the class score is a sum over places.
  const std::string config = tl::test::write_train_config(
      dir.path() / "run.json", dir.str("data"), tl::test::tiny_backbone(16, true), dir.str("run"),
      ", \"epochs\": 15, \"eval_test\": false",
      ", \"input_size\": 64, \"head\": {\"pool\": \"avg\", \"hidden\": [], \"dropout\": 0.0}" + model_extra);
  RunResult r = run_tl({"train", "--config", config, "--quiet"});
  if (r.exit_code != 0) throw std::runtime_error("training failed: " + r.out + r.err);
  return dir.str("run/best.pt");
}

class GradCam : public ::testing::Test {};

TEST_F(GradCam, ThePeakFallsOnTheObjectThatDecidesTheClass) {
  TempDir dir;
  std::map<std::string, ObjectImage> images;
  const std::string ckpt = train_on_objects(dir, images);
  const std::string cams = dir.str("cams");
  // The default layer, features.29: a 4 x 4 map at 64 px, so a peak can be no closer than half a
  // cell (8 px) to where the evidence is.
  RunResult r = run_tl({"predict", "--checkpoint", ckpt, dir.str("test"), "--json", "--explain", cams, "--batch", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int on_object = 0, on_distractor = 0, correct = 0, lines = 0;
  // Pixels from p to the square (0 inside it).
  const auto distance = [](const cv::Rect& box, const cv::Point& p) {
    const int dx = std::max({box.x - p.x, 0, p.x - (box.x + box.width - 1)});
    const int dy = std::max({box.y - p.y, 0, p.y - (box.y + box.height - 1)});
    return std::hypot(dx, dy);
  };
  for (const auto& line : lines_of(r.out)) {
    const Json j = Json::parse(line);
    ++lines;
    ASSERT_TRUE(j.contains("cam")) << line;
    const ObjectImage& image = images.at(j["path"].get<std::string>());
    const cv::Mat overlay = cv::imread(j["cam"]["png"].get<std::string>());
    ASSERT_FALSE(overlay.empty()) << line;
    EXPECT_EQ(overlay.size(), cv::Size(64, 64));  // the original image's pixels
    correct += j["top"][0]["label"] == (image.bgr.at<cv::Vec3b>(image.box.tl())[2] > 200 ? "0" : "1");
    if (j["cam"]["peak"].is_null()) continue;
    const cv::Point peak(j["cam"]["peak"][0].get<int>(), j["cam"]["peak"][1].get<int>());
    const double to_object = distance(image.box, peak), to_distractor = distance(image.distractor, peak);
    on_object += to_object <= 8 && to_object <= to_distractor;
    on_distractor += to_distractor <= 8 && to_distractor < to_object;
  }
  EXPECT_EQ(lines, 30);
  std::cout << "Grad-CAM peak on the object for " << on_object << " of " << lines << " images (on the grey square "
            << on_distractor << ", classified right " << correct << ")\n";
  EXPECT_GE(correct, 27);
  // Most peaks on the object (or within half a cell of it), far more often than on the grey
  // square of the same size; a peak is counted for the nearer square only.
  EXPECT_GT(on_object, lines / 2);
  EXPECT_GE(on_object, 2 * on_distractor);
}

TEST_F(GradCam, FrozenBackboneDefaultLayerTextOutputBadImagesAndUnknownLayers) {
  TempDir dir;
  std::map<std::string, ObjectImage> images;
  const std::string ckpt = train_on_objects(dir, images, ", \"freeze\": \"all\"");
  tl::test::write_text(dir.path() / "test" / "broken.png", "not an image");
  const std::string cams = dir.str("cams");
  RunResult r = run_tl({"predict", "--checkpoint", ckpt, dir.str("test"), "--explain", cams, "--top-k", "1"});
  EXPECT_NE(r.exit_code, 0);  // the broken file
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;
  size_t overlays = 0;
  for (const auto& entry : fs::directory_iterator(cams)) {
    ++overlays;
    const cv::Mat overlay = cv::imread(entry.path().string());
    EXPECT_EQ(overlay.size(), cv::Size(64, 64)) << entry.path();
  }
  EXPECT_EQ(overlays, 30u);
  EXPECT_NE(r.out.find("Grad-CAM: "), std::string::npos) << r.out;
  // The heatmap is there: the overlay differs from the image it was made from.
  const std::string first = images.begin()->first;
  const cv::Mat original = cv::imread(first), overlay = cv::imread(cams + "/" + fs::path(first).stem().string() + "_cam.png");
  ASSERT_FALSE(overlay.empty());
  EXPECT_GT(cv::norm(original, overlay, cv::NORM_L1) / (64 * 64 * 3), 10.0);

  // An --explain path that is a file: one line naming the flag to change.
  RunResult on_file = run_tl({"predict", "--checkpoint", ckpt, first, "--explain", first});
  EXPECT_EQ(on_file.exit_code, tl::kExitIo) << on_file.err;
  EXPECT_NE(on_file.err.find("--explain"), std::string::npos) << on_file.err;
  EXPECT_EQ(lines_of(on_file.err).size(), 1u) << on_file.err;

  // A convolution (followed by an in-place ReLU), by its Keras name.
  RunResult conv = run_tl({"predict", "--checkpoint", ckpt, first, "--json", "--explain", cams, "--explain-layer", "block5_conv3"});
  EXPECT_EQ(conv.exit_code, 0) << conv.err;
  EXPECT_NE(conv.out.find("\"cam\""), std::string::npos) << conv.out;

  RunResult unknown = run_tl({"predict", "--checkpoint", ckpt, first, "--explain", cams, "--explain-layer", "layer9"});
  EXPECT_EQ(unknown.exit_code, tl::kExitModel) << unknown.err;
  EXPECT_EQ(lines_of(unknown.err).size(), 1u) << unknown.err;
  EXPECT_NE(unknown.err.find("features.29"), std::string::npos) << unknown.err;  // the names it takes
}

// The other backbone families: a rate found, a map drawn (ResNet layer4, the last block of the
// others), a report written.
TEST_F(GradCam, EveryBackboneFamilyFindsARateExplainsAndReports) {
  TrainSetup setup(2, 6, 2, 2);
  for (const char* arch : {"resnet18_w16", "efficientnet_b0_w16", "mobilenet_v3_large_w16", "convnext_tiny_w16"}) {
    SCOPED_TRACE(arch);
    const std::string model = ", \"backbone\": \"" + tl::test::backbone_fixture(arch) + "\", \"input_size\": 64";
    const std::string config = setup.config(arch, ", \"epochs\": 1", model);
    RunResult found = run_tl({"lr-find", "--config", config, "--steps", "20", "--out", setup.dir.str(std::string("lr_") + arch), "-q"});
    EXPECT_EQ(found.exit_code, 0) << found.err;
    EXPECT_NE(found.out.find("--set optim.lr="), std::string::npos) << found.out;
    RunResult trained = run_tl({"train", "--config", config, "--quiet"});
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    EXPECT_TRUE(fs::exists(fs::path(setup.run_dir(arch)) / "report.html"));
    const fs::path cams = setup.dir.path() / (std::string("cams_") + arch);
    RunResult explained = run_tl({"predict", "--checkpoint", setup.run_dir(arch) + "/best.pt",
                                  setup.data + "/evaluation", "--json", "--explain", cams.string()});
    ASSERT_EQ(explained.exit_code, 0) << explained.err;
    for (const auto& line : lines_of(explained.out)) {
      const Json j = Json::parse(line);
      ASSERT_TRUE(j.contains("cam")) << line;
      EXPECT_FALSE(cv::imread(j["cam"]["png"].get<std::string>()).empty()) << line;
    }
    EXPECT_EQ(lines_of(explained.out).size(), 4u);
  }
}

// ---- report.html ----

class RunReport : public ::testing::Test {};

// Every src= and href= in the page is inline (data:) or an anchor: nothing is fetched.
void expect_self_contained(const std::string& html) {
  const std::regex reference("(src|href)\\s*=\\s*\"([^\"]{0,40})");
  int images = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[2];
    EXPECT_TRUE(target.rfind("data:", 0) == 0 || target.rfind("#", 0) == 0) << "external reference: " << target;
    images += target.rfind("data:image/png;base64,", 0) == 0;
  }
  EXPECT_GE(images, 3);  // curves, confusion matrix, a mistake at least
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

TEST_F(RunReport, TrainingWritesIt_ReportRewritesIt_AndChromiumShowsIt) {
  TrainSetup setup(3, 10, 3, 5);
  // Two epochs at a rate too low to learn much: the test split has mistakes to show.
  RunResult r =
      run_tl({"train", "--config", setup.config("run", ", \"epochs\": 2"), "--quiet", "--set", "optim.lr=0.00001"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path run = setup.run_dir("run");
  const std::string html = read_text(run / "report.html");
  ASSERT_FALSE(html.empty());
  expect_self_contained(html);
  const Json metrics = Json::parse(read_text(run / "eval_test" / "metrics.json"));
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * metrics["accuracy"].get<double>());
  EXPECT_NE(html.find(accuracy), std::string::npos) << "no " << accuracy;
  for (const char* part : {"Training curves", "Per class", "Worst mistakes", "Dataset", "Model", "Configuration",
                           "trainable", "weighted average"})
    EXPECT_NE(html.find(part), std::string::npos) << part;
  EXPECT_NE(html.find("<td>2</td>"), std::string::npos);  // class "2" in the tables

  // A run from before the report existed: no report.html, no confusion_matrix.png.
  fs::remove(run / "report.html");
  fs::remove(run / "eval_test" / "confusion_matrix.png");
  RunResult again = run_tl({"report", run.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("report.html"), std::string::npos);
  expect_self_contained(read_text(run / "report.html"));

  // Rendered by a real browser: the page's header band and its pictures, not an error or a blank.
  const fs::path shot = setup.dir.path() / "shot.png";
  RunResult browser = run_shell("timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                                "--window-size=1100,1400 --screenshot=" + tl::test::shell_quote(shot.string()) + " " +
                                tl::test::shell_quote("file://" + (run / "report.html").string()));
  if (browser.exit_code == 127) FAIL() << "chromium is not installed; scripts/install_deps.sh installs it";
  if (!fs::exists(shot)) GTEST_SKIP() << "chromium could not start here: " << browser.err.substr(0, 300);
  const cv::Mat page = cv::imread(shot.string());
  ASSERT_FALSE(page.empty());
  const cv::Vec3b header = page.at<cv::Vec3b>(5, 500);  // #1f3a5f, BGR
  EXPECT_NEAR(header[0], 95, 6);
  EXPECT_NEAR(header[1], 58, 6);
  EXPECT_NEAR(header[2], 31, 6);
  cv::Mat gray, ink;
  cv::cvtColor(page(cv::Rect(0, 120, page.cols, page.rows - 120)), gray, cv::COLOR_BGR2GRAY);
  cv::threshold(gray, ink, 240, 255, cv::THRESH_BINARY_INV);
  const double inked = cv::countNonZero(ink) / double(ink.total());
  EXPECT_GT(inked, 0.03) << "the page below the header is nearly blank";
  // The training curves' colours (matplotlib's blue and orange) are on screen: the images decoded.
  cv::Mat blue, orange;
  cv::inRange(page, cv::Scalar(170, 109, 21), cv::Scalar(190, 129, 41), blue);
  cv::inRange(page, cv::Scalar(4, 117, 245), cv::Scalar(24, 137, 255), orange);
  EXPECT_GT(cv::countNonZero(blue), 50);
  EXPECT_GT(cv::countNonZero(orange), 50);
}

TEST_F(RunReport, AFolderWithoutARunIsOneLineAndNothingIsWritten) {
  TempDir dir;
  RunResult r = run_tl({"report", dir.str()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("no tl-train run"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "report.html"));
}

}  // namespace
