#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "image_fixtures.h"
#include "test_util.h"
#include "tl/dataset.h"
#include "tl/errors.h"
#include "tl/split_record.h"
#include "tl/text_width.h"

namespace tl {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_class_tree;
using test::write_garbage;
using test::write_image;
using test::write_text;

DataConfig config_for(const std::string& root, Layout layout = Layout::Auto) {
  DataConfig data = default_config().data;
  data.root = root;
  data.layout = layout;
  return data;
}

// Number of samples per label in a split.
std::vector<int> per_class(const std::vector<Sample>& split, size_t num_classes) {
  std::vector<int> counts(num_classes, 0);
  for (const auto& s : split) ++counts.at(size_t(s.label));
  return counts;
}

std::vector<std::string> paths(const std::vector<Sample>& split) {
  std::vector<std::string> out;
  for (const auto& s : split) out.push_back(s.path);
  return out;
}

// The message of the DataError `f` throws ("" when it throws nothing).
template <typename F>
std::string data_error(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(Dataset, FolderOfClassesIsSplitStratified) {
  TempDir dir;
  write_class_tree(dir.path(), {{"b", 11}, {"a", 20}, {"c", 7}});
  const DatasetIndex index = scan_dataset(config_for(dir.str()));
  EXPECT_EQ(index.layout, Layout::Folder);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"a", "b", "c"}));
  // n_val = n_test = round(0.15 n): 20 -> 3, 11 -> 2, 7 -> 1.
  EXPECT_EQ(per_class(index.train, 3), (std::vector<int>{14, 7, 5}));
  EXPECT_EQ(per_class(index.val, 3), (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(per_class(index.test, 3), (std::vector<int>{3, 2, 1}));

  std::set<std::string> all;
  for (const auto* split : {&index.train, &index.val, &index.test})
    for (const auto& s : *split) {
      EXPECT_TRUE(all.insert(s.path).second) << "in two splits: " << s.path;
      EXPECT_EQ(fs::path(s.path).parent_path().filename().string(), index.classes[size_t(s.label)]);
    }
  EXPECT_EQ(all.size(), 38u);
  auto train = paths(index.train);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
}

TEST(Dataset, SplitIsDeterministicAndFollowsTheSeed) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 30}, {"b", 30}});
  DataConfig data = config_for(dir.str());
  const Json first = split_record(scan_dataset(data), data);
  EXPECT_EQ(split_record(scan_dataset(data), data), first);
  data.seed = 7;
  const Json other = split_record(scan_dataset(data), data);
  EXPECT_NE(other["test"], first["test"]);
  EXPECT_EQ(other["test"].size(), first["test"].size());
}

TEST(Dataset, SeededPermutationIsPinned) {
  // Golden values (also computed by a Python splitmix64 + Fisher-Yates): identical on every machine.
  EXPECT_EQ(seeded_permutation(10, 42), (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  auto perm = seeded_permutation(1000, 5);
  std::sort(perm.begin(), perm.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(perm[size_t(i)], i);
  EXPECT_TRUE(seeded_permutation(0, 1).empty());
}

TEST(Dataset, SmallClassesKeepATrainingImage) {
  TempDir dir;
  write_class_tree(dir.path(), {{"one", 1}, {"two", 2}, {"many", 40}});
  DataConfig data = config_for(dir.str());
  data.split = {0.2, 0.4, 0.4};
  const DatasetIndex index = scan_dataset(data);
  // classes: many, one, two. two: val round(0.8) = 1, test capped at 0 to keep one for training.
  EXPECT_EQ(per_class(index.train, 3), (std::vector<int>{8, 1, 1}));
  EXPECT_EQ(per_class(index.val, 3), (std::vector<int>{16, 0, 1}));
  EXPECT_EQ(per_class(index.test, 3), (std::vector<int>{16, 0, 0}));
}

TEST(Dataset, Caltech101ExcludesBackgroundAndListedClasses) {
  TempDir dir;
  const fs::path root = dir.path() / "101_ObjectCategories";
  write_class_tree(root, {{"BACKGROUND_Google", 3}, {"accordion", 4}, {"airplanes", 4}, {"anchor", 4}});
  DataConfig data = config_for(root.string());
  DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(index.layout, Layout::Caltech101);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"accordion", "airplanes", "anchor"}));

  data.layout = Layout::Caltech101;
  data.exclude = {"BACKGROUND_Google", "anchor"};
  index = scan_dataset(data);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"accordion", "airplanes"}));
  EXPECT_EQ(index.train.size() + index.val.size() + index.test.size(), 8u);
}

void write_food11_flat(const fs::path& root, int num_classes) {
  for (int label = 0; label < num_classes; ++label) {
    write_image(root / "training" / (std::to_string(label) + "_0.jpg"), label);
    write_image(root / "training" / (std::to_string(label) + "_1.jpg"), label + 50);
    write_image(root / "validation" / (std::to_string(label) + "_0.jpg"), label + 100);
    write_image(root / "evaluation" / (std::to_string(label) + "_0.jpg"), label + 150);
  }
}

TEST(Dataset, Food11FlatUsesFood11NamesForElevenClasses) {
  TempDir dir;
  write_food11_flat(dir.path(), 11);
  write_image(dir.path() / "training" / "not_a_label.jpg");  // skipped with a warning
  const DatasetIndex index = scan_dataset(config_for(dir.str()));
  EXPECT_EQ(index.layout, Layout::Food11);
  ASSERT_EQ(index.classes.size(), 11u);
  EXPECT_EQ(index.classes[0], "Bread");
  EXPECT_EQ(index.classes[10], "Vegetable/Fruit");
  EXPECT_EQ(index.train.size(), 22u);
  EXPECT_EQ(index.val.size(), 11u);
  EXPECT_EQ(index.test.size(), 11u);
  for (const auto& s : index.train)
    EXPECT_EQ(fs::path(s.path).filename().string().rfind(std::to_string(s.label) + "_", 0), 0u) << s.path;
}

TEST(Dataset, Food11ClassNamesFromClassesTxtConfigOrNumbers) {
  TempDir dir;
  write_food11_flat(dir.path(), 3);
  EXPECT_EQ(scan_dataset(config_for(dir.str())).classes, (std::vector<std::string>{"0", "1", "2"}));

  write_text(dir.path() / "classes.txt", "cat\r\ndog\nbird\n\n");
  EXPECT_EQ(scan_dataset(config_for(dir.str())).classes, (std::vector<std::string>{"cat", "dog", "bird"}));

  DataConfig data = config_for(dir.str(), Layout::Food11);
  data.class_names = {"x", "y", "z"};
  EXPECT_EQ(scan_dataset(data).classes, data.class_names);
  data.class_names = {"x", "y", "z", "w"};  // a name without images is a class that cannot be learnt
  EXPECT_NE(data_error([&] { scan_dataset(data); }).find("'w'"), std::string::npos);
  data.class_names = {"x", "y"};
  EXPECT_NE(data_error([&] { scan_dataset(data); }).find("label 2"), std::string::npos);
}

TEST(Dataset, Food11WithClassFolders) {
  TempDir dir;
  write_class_tree(dir.path() / "training", {{"Soup", 3}, {"Bread", 3}});
  write_class_tree(dir.path() / "validation", {{"Soup", 1}, {"Bread", 2}});
  write_class_tree(dir.path() / "evaluation", {{"Soup", 2}, {"Bread", 1}});
  const DatasetIndex index = scan_dataset(config_for(dir.str()));
  EXPECT_EQ(index.layout, Layout::Food11);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"Bread", "Soup"}));
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{3, 3}));
  EXPECT_EQ(per_class(index.val, 2), (std::vector<int>{2, 1}));
  EXPECT_EQ(per_class(index.test, 2), (std::vector<int>{1, 2}));
}

TEST(Dataset, Fruits360CarvesValidationFromTrainingOrUsesTest) {
  TempDir dir;
  write_class_tree(dir.path() / "Training", {{"Apple Braeburn", 20}, {"Banana", 10}});
  write_class_tree(dir.path() / "Test", {{"Apple Braeburn", 4}, {"Banana", 3}});
  DataConfig data = config_for(dir.str());
  data.val_fraction = 0.25;
  DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(index.layout, Layout::Fruits360);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"Apple Braeburn", "Banana"}));
  EXPECT_EQ(per_class(index.val, 2), (std::vector<int>{5, 3}));  // round(0.25 n)
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{15, 7}));
  EXPECT_EQ(per_class(index.test, 2), (std::vector<int>{4, 3}));

  data.val_from = ValFrom::Test;
  index = scan_dataset(data);
  EXPECT_EQ(index.train.size(), 30u);
  EXPECT_EQ(paths(index.val), paths(index.test));
}

TEST(Dataset, FolderWithSplitFolders) {
  TempDir dir;
  write_class_tree(dir.path() / "train", {{"cat", 4}, {"dog", 5}});
  write_class_tree(dir.path() / "validation", {{"cat", 1}, {"dog", 2}});
  write_class_tree(dir.path() / "testing", {{"cat", 3}, {"dog", 1}});
  DatasetIndex index = scan_dataset(config_for(dir.str()));
  EXPECT_EQ(index.layout, Layout::Folder);
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{4, 5}));
  EXPECT_EQ(per_class(index.val, 2), (std::vector<int>{1, 2}));
  EXPECT_EQ(per_class(index.test, 2), (std::vector<int>{3, 1}));

  // Without val/ and test/: val carved from train by val_fraction, test by data.split's test
  // fraction (as the layouts table promises), every class keeping a training image.
  fs::remove_all(dir.path() / "validation");
  fs::remove_all(dir.path() / "testing");
  DataConfig data = config_for(dir.str());
  data.val_fraction = 0.5;
  index = scan_dataset(data);
  EXPECT_EQ(per_class(index.val, 2), (std::vector<int>{2, 3}));   // round(2.0), round(2.5) = 3
  EXPECT_EQ(per_class(index.test, 2), (std::vector<int>{1, 1}));  // round(0.15 n), capped to leave one for train
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{1, 1}));
  data.split = {0.85, 0.15, 0.0};
  EXPECT_TRUE(scan_dataset(data).test.empty());
}

TEST(Dataset, AmbiguousOrUnknownRootIsAnError) {
  TempDir dir;
  write_class_tree(dir.path() / "training", {{"a", 2}});
  write_class_tree(dir.path() / "validation", {{"a", 2}});
  write_class_tree(dir.path() / "train", {{"a", 2}});
  std::string message = data_error([&] { detect_layout(dir.str(), Layout::Auto); });
  EXPECT_NE(message.find("'food11', 'folder'"), std::string::npos) << message;
  EXPECT_NE(message.find("data.layout"), std::string::npos) << message;
  EXPECT_EQ(detect_layout(dir.str(), Layout::Food11), Layout::Food11);

  TempDir partial;
  write_class_tree(partial.path() / "Training", {{"a", 2}});
  message = data_error([&] { detect_layout(partial.str(), Layout::Auto); });
  EXPECT_NE(message.find("fruits360 expects Training/ and Test/"), std::string::npos) << message;

  TempDir empty;
  EXPECT_NE(data_error([&] { scan_dataset(config_for(empty.str())); }), "");
}

TEST(Dataset, SplitJsonListsEverySample) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 8}, {"b", 8}});
  const DataConfig data = config_for(dir.str());
  const DatasetIndex index = scan_dataset(data);
  const Json j = split_record(index, data);
  EXPECT_EQ(j["root"], dir.str());
  EXPECT_EQ(j["layout"], "folder");
  EXPECT_EQ(j["classes"], Json::array({"a", "b"}));
  ASSERT_EQ(j["train"].size(), index.train.size());
  EXPECT_EQ(j["val"].size(), index.val.size());
  EXPECT_EQ(j["test"].size(), index.test.size());
  EXPECT_EQ(dir.path() / j["train"][0]["path"].get<std::string>(),
            fs::path(index.train[0].path));  // relative to the root
  EXPECT_EQ(j["train"][0]["label"], index.train[0].label);
  EXPECT_EQ(j["train"][0]["class"], index.classes[size_t(index.train[0].label)]);
}

TEST(Dataset, HiddenFilesIgnoredAndExtensionsAnyCase) {
  TempDir dir;
  write_image(dir.path() / "a" / "one.PNG");
  write_image(dir.path() / "a" / "two.JPG");
  write_image(dir.path() / "a" / "three.jpeg");
  write_image(dir.path() / "a" / ".hidden.png");
  write_image(dir.path() / "a" / ".thumbs" / "x.png");
  write_image(dir.path() / ".cache" / "y.png");
  write_text(dir.path() / "a" / "notes.txt", "not an image");
  write_image(dir.path() / "b" / "nested" / "deep.bmp");
  DataConfig data = config_for(dir.str());
  data.split = {1.0, 0.0, 0.0};
  const DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(index.classes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{3, 1}));
  EXPECT_TRUE(has_image_extension("x.TIFF"));
  EXPECT_TRUE(has_image_extension("x.webp"));
  EXPECT_FALSE(has_image_extension("x.gif"));
  EXPECT_FALSE(has_image_extension("jpg"));
}

TEST(Dataset, SymlinkLoopIsWalkedOnce) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 3}, {"b", 3}});
  fs::create_directory_symlink(dir.path() / "a", dir.path() / "a" / "loop");
  DataConfig data = config_for(dir.str());
  data.split = {1.0, 0.0, 0.0};
  const DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(index.train.size(), 6u);
  EXPECT_EQ(index.report.refused_links, std::vector<std::string>{dir.str("a/loop")});
}

// ---- one label per file, no leakage through duplicates ----

// A link to the dataset root inside a class folder must not pull the other classes' files into it.
TEST(Dataset, LinkToTheRootInsideAClassRelabelsNothing) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 4}, {"b", 5}, {"c", 6}});
  fs::create_directory_symlink("..", dir.path() / "a" / "loop");
  DataConfig data = config_for(dir.str(), Layout::Folder);
  data.split = {1.0, 0.0, 0.0};
  data.val_fraction = 0;
  const DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(per_class(index.train, 3), (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(index.report.refused_links, std::vector<std::string>{dir.str("a/loop")});
  EXPECT_TRUE(index.report.conflicts.empty());
}

TEST(Dataset, AHardLinkAcrossClassesIsAConflictThatFailsOrIsSkipped) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 4}, {"b", 4}});
  fs::create_hard_link(dir.path() / "a" / "img_0.png", dir.path() / "b" / "twin.png");
  DataConfig data = config_for(dir.str(), Layout::Folder);
  const std::string message = data_error([&] { scan_dataset(data); });
  EXPECT_NE(message.find(dir.str("a/img_0.png")), std::string::npos) << message;
  EXPECT_NE(message.find(dir.str("b/twin.png")), std::string::npos) << message;
  EXPECT_NE(message.find("data.on_conflict"), std::string::npos) << message;

  data.on_conflict = ConflictPolicy::Skip;
  data.split = {1.0, 0.0, 0.0};
  data.val_fraction = 0;
  const DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(per_class(index.train, 2), (std::vector<int>{3, 4}));  // both copies dropped
  ASSERT_EQ(index.report.conflicts.size(), 1u);
  EXPECT_TRUE(index.report.conflicts[0].same_file);
  EXPECT_EQ(index.report.dropped_conflicts, 2);
  const Json record = split_record(index, data);
  ASSERT_EQ(record["conflicts"].size(), 1u);
}

TEST(Dataset, IdenticalContentUnderTwoClassesIsAConflict) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 4}, {"b", 4}});
  fs::copy_file(dir.path() / "a" / "img_1.png", dir.path() / "b" / "copy.png");
  DataConfig data = config_for(dir.str(), Layout::Folder);
  EXPECT_NE(data_error([&] { scan_dataset(data); }).find("identical images"), std::string::npos);
  data.on_conflict = ConflictPolicy::Skip;
  const DatasetIndex index = scan_dataset(data);
  ASSERT_EQ(index.report.conflicts.size(), 1u);
  EXPECT_FALSE(index.report.conflicts[0].same_file);
}

// Copies inside a class go to one split together, for every seed, and the split stays stratified.
TEST(Dataset, CopiesStayInOneSplitForEverySeed) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 20}, {"b", 20}});
  for (int g = 0; g < 4; ++g)
    for (int k = 1; k <= 2; ++k)
      fs::copy_file(dir.path() / "a" / ("img_" + std::to_string(g) + ".png"),
                    dir.path() / "a" / ("copy_" + std::to_string(g) + "_" + std::to_string(k) + ".png"));
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE(seed);
    DataConfig data = config_for(dir.str(), Layout::Folder);
    data.seed = seed;
    const DatasetIndex index = scan_dataset(data);
    ASSERT_EQ(index.report.duplicates.size(), 4u);
    for (const auto& group : index.report.duplicates) {
      ASSERT_EQ(group.files.size(), 3u);
      for (const auto& file : group.files) EXPECT_EQ(file.second, group.files.front().second) << file.first;
    }
    const size_t total = index.train.size() + index.val.size() + index.test.size();
    EXPECT_EQ(total, 48u);
    EXPECT_NEAR(double(index.test.size()) / total, 0.15, 0.08);
    EXPECT_EQ(per_class(index.test, 2)[0] > 0 && per_class(index.test, 2)[1] > 0, true);
  }
}

// Fixed splits (train/ and test/ folders): a copy of a training image in test is leakage.
TEST(Dataset, LeakageAcrossFixedSplitsWarnsDropsOrFails) {
  TempDir dir;
  write_class_tree(dir.path() / "train", {{"a", 5}, {"b", 5}});
  write_class_tree(dir.path() / "test", {{"a", 2}, {"b", 2}});
  fs::copy_file(dir.path() / "train" / "b" / "img_3.png", dir.path() / "test" / "b" / "leak.png");
  DataConfig data = config_for(dir.str(), Layout::Folder);
  const DatasetIndex warned = scan_dataset(data);
  EXPECT_EQ(warned.report.leaked, 1);
  EXPECT_EQ(warned.test.size(), 5u);  // warn keeps it
  ASSERT_EQ(warned.report.duplicates.size(), 1u);
  EXPECT_EQ(split_record(warned, data)["duplicate_groups"].size(), 1u);

  data.duplicates = DuplicatePolicy::Drop;
  const DatasetIndex dropped = scan_dataset(data);
  EXPECT_EQ(dropped.test.size(), 4u);  // the copy in the later split goes
  EXPECT_EQ(dropped.report.dropped_duplicates, 1);
  for (const auto& s : dropped.test) EXPECT_EQ(s.path.find("leak.png"), std::string::npos);

  data.duplicates = DuplicatePolicy::Fail;
  const std::string message = data_error([&] { scan_dataset(data); });
  EXPECT_NE(message.find("leak.png"), std::string::npos) << message;
  EXPECT_NE(message.find("data.duplicates"), std::string::npos) << message;
}

TEST(Dataset, BadFilesAreSkippedOrFail) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 6}, {"b", 6}});
  const fs::path empty = dir.path() / "a" / "empty.jpg";
  const fs::path text = dir.path() / "b" / "text.jpg";
  write_text(empty, "");
  write_garbage(text);
  DataConfig data = config_for(dir.str());
  data.split = {1.0, 0.0, 0.0};
  const DatasetIndex index = scan_dataset(data);
  EXPECT_EQ(index.train.size(), 12u);
  ASSERT_EQ(index.report.skipped.size(), 2u);
  EXPECT_EQ(index.report.skipped[0].path, empty.string());
  EXPECT_EQ(index.report.skipped[1].path, text.string());
  EXPECT_EQ(index.report.skipped[0].split, "train");
  EXPECT_FALSE(index.report.skipped[0].reason.empty());

  data.on_bad_image = BadImagePolicy::Fail;
  const std::string message = data_error([&] { scan_dataset(data); });
  EXPECT_NE(message.find(empty.string()), std::string::npos) << message;
  EXPECT_NE(message.find("set data.on_bad_image to \"skip\""), std::string::npos) << message;
}

TEST(Dataset, SplitWithOnlyBadFilesIsAnError) {
  TempDir dir;
  write_class_tree(dir.path() / "train", {{"a", 3}});
  write_garbage(dir.path() / "val" / "a" / "x.png");
  write_text(dir.path() / "val" / "a" / "y.jpg", "");
  const std::string message = data_error([&] { scan_dataset(config_for(dir.str())); });
  EXPECT_NE(message.find("val split"), std::string::npos) << message;
  EXPECT_NE(message.find("no usable image"), std::string::npos) << message;
}

TEST(Dataset, MissingRootEmptyClassAndMismatchedNamesAreErrors) {
  TempDir dir;
  std::string message = data_error([&] { scan_dataset(config_for(dir.str("nope"))); });
  EXPECT_NE(message.find("data.root '" + dir.str("nope") + "' does not exist"), std::string::npos) << message;

  write_class_tree(dir.path(), {{"a", 3}});
  fs::create_directories(dir.path() / "empty");
  write_text(dir.path() / "empty" / "readme.txt", "no images here");
  message = data_error([&] { scan_dataset(config_for(dir.str())); });
  EXPECT_NE(message.find(dir.str("empty")), std::string::npos) << message;
  EXPECT_NE(message.find("data.exclude"), std::string::npos) << message;

  fs::remove_all(dir.path() / "empty");
  DataConfig data = config_for(dir.str());
  data.class_names = {"a", "b"};
  message = data_error([&] { scan_dataset(data); });
  EXPECT_NE(message.find("'a', 'b'"), std::string::npos) << message;
}

TEST(Dataset, UnreadableDirectoryIsAnError) {
  TempDir dir;
  write_class_tree(dir.path(), {{"a", 3}, {"b", 3}});
  fs::permissions(dir.path() / "b", fs::perms::none);
  const std::string message = [&] {
    test::WithoutPermissionOverride as_a_user;  // root could read it anyway
    return data_error([&] { scan_dataset(config_for(dir.str())); });
  }();
  fs::permissions(dir.path() / "b", fs::perms::owner_all);
  EXPECT_NE(message.find("cannot read directory '" + dir.str("b") + "'"), std::string::npos) << message;
}

TEST(Dataset, CountTableAndBalanceWarnings) {
  DatasetIndex index;
  index.classes = {"big", "small"};
  for (int i = 0; i < 44; ++i) index.train.push_back({"b" + std::to_string(i), 0});
  for (int i = 0; i < 4; ++i) index.train.push_back({"s" + std::to_string(i), 1});
  index.val = {{"v", 0}};
  const std::string table = class_count_table(index);
  EXPECT_NE(table.find("class | train |   val |  test"), std::string::npos) << table;
  EXPECT_NE(table.find("big   |    44 |     1 |     0"), std::string::npos) << table;
  EXPECT_NE(table.find("total |    48 |     1 |     0"), std::string::npos) << table;
  const auto warnings = balance_warnings(index);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("more than 10x"), std::string::npos);
  EXPECT_NE(warnings[1].find("'small'"), std::string::npos);
}

TEST(Dataset, CountTableAlignsWideAndInvalidNames) {
  // "猫咪" takes 4 terminal columns in 6 bytes; "bad\xff" prints as bad\xff, 7 columns in 4 bytes.
  DatasetIndex index;
  index.classes = {"猫咪", "bad\xff", "cat"};
  for (int label = 0; label < 3; ++label) index.train.push_back({"f" + std::to_string(label), label});
  const std::string table = class_count_table(index);
  std::istringstream in(table);
  std::vector<std::vector<size_t>> bars;  // display columns of each row's " | "
  for (std::string line; std::getline(in, line);) {
    if (line.find(" | ") == std::string::npos) continue;  // the rule
    std::vector<size_t> columns;
    for (size_t at = line.find(" | "); at != std::string::npos; at = line.find(" | ", at + 1))
      columns.push_back(display_width(line.substr(0, at)));
    bars.push_back(columns);
  }
  ASSERT_EQ(bars.size(), 5u) << table;  // header, 3 classes, total
  for (const auto& row : bars) EXPECT_EQ(row, bars[0]) << table;
  EXPECT_NE(table.find("bad\\xff"), std::string::npos) << table;
}

TEST(Dataset, ListImages) {
  TempDir dir;
  write_image(dir.path() / "b.png");
  write_image(dir.path() / "sub" / "a.JPG");
  write_text(dir.path() / "notes.txt", "x");
  EXPECT_EQ(list_images(dir.str()), (std::vector<std::string>{dir.str("b.png"), dir.str("sub/a.JPG")}));
  EXPECT_EQ(list_images(dir.str("notes.txt")), (std::vector<std::string>{dir.str("notes.txt")}));
  EXPECT_THROW(list_images(dir.str("missing")), DataError);
}

}  // namespace
}  // namespace tl
