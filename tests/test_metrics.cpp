#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tl/metrics.h"
#include "tl/text_width.h"

namespace {

using tl::ConfusionMatrix;

void add_n(ConfusionMatrix& cm, int64_t truth, int64_t predicted, int n) {
  for (int i = 0; i < n; ++i) cm.add(truth, predicted);
}

// Rows true, columns predicted:
//            cat  dog  bird | support
//   cat        5    1     0 |  6
//   dog        2    3     1 |  6
//   bird       1    1     2 |  4
//   predicted  8    5     3 | 16, correct 5+3+2 = 10
ConfusionMatrix three_class_example() {
  ConfusionMatrix cm({"cat", "dog", "bird"});
  const int counts[3][3] = {{5, 1, 0}, {2, 3, 1}, {1, 1, 2}};
  for (int t = 0; t < 3; ++t)
    for (int p = 0; p < 3; ++p) add_n(cm, t, p, counts[t][p]);
  return cm;
}

// Minimal RFC 4180 reader: quoted fields may hold commas and doubled quotes.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += text[++i];
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',' || c == '\n') {
      rows.back().push_back(field);
      field.clear();
      if (c == '\n') rows.emplace_back();
    } else {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

void expect_metrics(const tl::ClassMetrics& m, const std::string& name, double precision, double recall, double f1,
                    int64_t support) {
  SCOPED_TRACE(name);
  EXPECT_EQ(m.name, name);
  EXPECT_NEAR(m.precision, precision, 1e-12);
  EXPECT_NEAR(m.recall, recall, 1e-12);
  EXPECT_NEAR(m.f1, f1, 1e-12);
  EXPECT_EQ(m.support, support);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Metrics, CountsCorrectTotalAccuracy) {
  ConfusionMatrix cm = three_class_example();
  EXPECT_EQ(cm.at(1, 0), 2);
  EXPECT_EQ(cm.at(0, 2), 0);
  EXPECT_EQ(cm.total(), 16);
  EXPECT_EQ(cm.correct(), 10);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 10.0 / 16);
}

TEST(Metrics, HandComputedThreeClassExample) {
  // precision = tp / predicted, recall = tp / support, f1 = 2tp / (2tp + fp + fn):
  //   cat : p = 5/8, r = 5/6, f1 = 10/14 = 5/7,  support 6
  //   dog : p = 3/5, r = 3/6, f1 = 6/11,         support 6
  //   bird: p = 2/3, r = 2/4, f1 = 4/7,          support 4
  const auto rows = three_class_example().per_class();
  ASSERT_EQ(rows.size(), 3u);
  expect_metrics(rows[0], "cat", 5.0 / 8, 5.0 / 6, 5.0 / 7, 6);
  expect_metrics(rows[1], "dog", 3.0 / 5, 1.0 / 2, 6.0 / 11, 6);
  expect_metrics(rows[2], "bird", 2.0 / 3, 1.0 / 2, 4.0 / 7, 4);
}

TEST(Metrics, MacroAndWeightedAverages) {
  ConfusionMatrix cm = three_class_example();
  // macro: p = (5/8 + 3/5 + 2/3) / 3 = 227/360, r = (5/6 + 1/2 + 1/2) / 3 = 11/18,
  //        f1 = (5/7 + 6/11 + 4/7) / 3 = 47/77
  expect_metrics(cm.macro_average(), "macro avg", 227.0 / 360, 11.0 / 18, 47.0 / 77, 16);
  // weighted by support 6, 6, 4 of 16: p = (6*5/8 + 6*3/5 + 4*2/3) / 16 = 601/960,
  //   r = (5 + 3 + 2) / 16 = 5/8 (always the accuracy), f1 = (6*5/7 + 6*6/11 + 4*4/7) / 16 = 379/616
  expect_metrics(cm.weighted_average(), "weighted avg", 601.0 / 960, 5.0 / 8, 379.0 / 616, 16);
}

TEST(Metrics, ZeroDivisionGivesZeroLikeSklearn) {
  // a: 1 right; b: 1 sample, predicted as c and never predicted itself; c: predicted once, no support.
  ConfusionMatrix cm({"a", "b", "c"});
  cm.add(0, 0);
  cm.add(1, 2);
  const auto rows = cm.per_class();
  EXPECT_EQ(rows[0].precision, 1.0);
  EXPECT_EQ(rows[0].recall, 1.0);
  EXPECT_EQ(rows[1].precision, 0.0);  // never predicted: 0/0
  EXPECT_EQ(rows[1].recall, 0.0);
  EXPECT_EQ(rows[1].f1, 0.0);
  EXPECT_EQ(rows[2].precision, 0.0);  // predicted once, wrongly
  EXPECT_EQ(rows[2].recall, 0.0);     // no support: 0/0
  EXPECT_EQ(rows[2].f1, 0.0);
  EXPECT_EQ(rows[2].support, 0);
  // The macro average still counts the class without support, as sklearn does with labels=.
  EXPECT_NEAR(cm.macro_average().precision, 1.0 / 3, 1e-12);
  EXPECT_NEAR(cm.weighted_average().precision, 0.5, 1e-12);
}

TEST(Metrics, EmptyMatrixIsAllZero) {
  ConfusionMatrix cm({"a", "b"});
  EXPECT_EQ(cm.total(), 0);
  EXPECT_EQ(cm.accuracy(), 0.0);
  EXPECT_EQ(cm.macro_average().f1, 0.0);
  EXPECT_EQ(cm.weighted_average().f1, 0.0);
}

TEST(Metrics, OutOfRangeAddThrowsWithTheIndex) {
  ConfusionMatrix cm({"a", "b", "c"});
  try {
    cm.add(0, 3);
    FAIL() << "expected std::out_of_range";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cm.add(-1, 0), std::out_of_range);
  EXPECT_THROW(cm.at(0, 7), std::out_of_range);
  EXPECT_EQ(cm.total(), 0);
}

TEST(Metrics, CsvQuotesNamesAndParsesBack) {
  ConfusionMatrix cm({"plain", "with, comma", "say \"hi\""});
  cm.add(1, 2);
  cm.add(2, 2);
  const auto rows = parse_csv(cm.to_csv());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"true/predicted", "plain", "with, comma", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"with, comma", "0", "0", "1"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"say \"hi\"", "0", "0", "1"}));
}

TEST(Metrics, TextTableIsAlignedWithNames) {
  ConfusionMatrix cm = three_class_example();
  add_n(cm, 0, 0, 995);  // a four-digit count widens every column
  const auto lines = lines_of(cm.to_text());
  ASSERT_EQ(lines.size(), 5u);  // title, header, 3 rows
  EXPECT_NE(lines[1].find("cat"), std::string::npos);
  EXPECT_NE(lines[1].find("bird"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("cat", 0), 0u);
  EXPECT_EQ(lines[4].rfind("bird", 0), 0u);
  for (size_t i = 2; i < lines.size(); ++i) EXPECT_EQ(lines[i].size(), lines[1].size()) << lines[i];
  EXPECT_NE(lines[2].find("1000"), std::string::npos);
  // Right-aligned columns: each header name ends where the numbers below it end.
  EXPECT_EQ(lines[1].find("bird") + 4, lines[4].size());
}

TEST(Metrics, TextTableWithManyClassesUsesIndexColumns) {
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back("a_rather_long_class_name_" + std::to_string(i));
  ConfusionMatrix cm(names);
  cm.add(19, 3);
  const auto lines = lines_of(cm.to_text());
  ASSERT_EQ(lines.size(), 22u);
  EXPECT_NE(lines[0].find("index"), std::string::npos);
  EXPECT_LT(lines[1].size(), 140u);  // stays terminal-sized
  EXPECT_NE(lines[1].find(" 19"), std::string::npos);
  EXPECT_EQ(lines[21].rfind("19 a_rather_long", 0), 0u) << lines[21];  // rows are the legend
  for (size_t i = 2; i < lines.size(); ++i) EXPECT_EQ(lines[i].size(), lines[1].size()) << lines[i];
}

TEST(Metrics, ClassificationReportMatchesSklearnLayout) {
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "         cat     0.6250    0.8333    0.7143         6\n"
      "         dog     0.6000    0.5000    0.5455         6\n"
      "        bird     0.6667    0.5000    0.5714         4\n"
      "\n"
      "    accuracy                         0.6250        16\n"
      "   macro avg     0.6306    0.6111    0.6104        16\n"
      "weighted avg     0.6260    0.6250    0.6153        16\n";
  EXPECT_EQ(tl::classification_report(three_class_example()), expected);
}

// Display columns (text_width) where each space-separated token of `line` ends, after `skip` tokens.
std::vector<size_t> token_ends(const std::string& line, size_t skip) {
  std::vector<size_t> ends;
  size_t tokens = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const bool ends_here = line[i] != ' ' && (i + 1 == line.size() || line[i + 1] == ' ');
    if (ends_here && tokens++ >= skip) ends.push_back(tl::display_width(line.substr(0, i + 1)));
  }
  return ends;
}

TEST(Metrics, TextTableAlignsCjkNames) {
  // CJK characters take two terminal columns: padding by code points or bytes misaligns them.
  ConfusionMatrix cm({"猫咪", "狗", "bird", "café"});
  add_n(cm, 0, 0, 12);
  add_n(cm, 1, 2, 3);
  add_n(cm, 3, 1, 7);
  const auto lines = lines_of(cm.to_text());
  ASSERT_EQ(lines.size(), 6u);
  const auto header = token_ends(lines[1], 0);
  ASSERT_EQ(header.size(), 4u) << lines[1];
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_EQ(token_ends(lines[i], 1), header) << lines[1] << "\n" << lines[i];  // right-aligned counts
    EXPECT_EQ(tl::display_width(lines[i]), tl::display_width(lines[1])) << lines[i];
  }
  EXPECT_EQ(lines[2].rfind("猫咪", 0), 0u);
}

TEST(Metrics, TextTableShortensWideNamesByColumns) {
  // 12 classes of 8 CJK characters: named columns are abbreviated to fit, by display width.
  std::vector<std::string> names;
  const std::string chars[] = {"猫", "狗", "鸟", "鱼", "马", "牛", "羊", "猪", "鸡", "鸭", "兔", "虎"};
  for (const auto& c : chars) names.push_back(c + c + c + c + c + c + c + c);
  ConfusionMatrix cm(names);
  cm.add(0, 1);
  const auto lines = lines_of(cm.to_text());
  ASSERT_EQ(lines.size(), 14u);
  const auto header = token_ends(lines[1], 0);
  ASSERT_EQ(header.size(), 12u) << lines[1];
  for (size_t i = 2; i < lines.size(); ++i) EXPECT_EQ(token_ends(lines[i], 1), header) << lines[i];
  EXPECT_LE(tl::display_width(lines[1]), 120u) << lines[1];
}

TEST(Metrics, ClassificationReportAlignsCjkNames) {
  ConfusionMatrix cm({"猫咪", "dog", "狗"});
  add_n(cm, 0, 0, 4);
  add_n(cm, 1, 2, 2);
  add_n(cm, 2, 2, 5);
  const auto lines = lines_of(tl::classification_report(cm));
  ASSERT_EQ(lines.size(), 9u);
  const size_t width = tl::display_width(lines[0]);
  for (size_t i : {2u, 3u, 4u, 6u, 7u, 8u}) {
    EXPECT_EQ(tl::display_width(lines[i]), width) << lines[i];
    EXPECT_EQ(token_ends(lines[i], lines[i].find("avg") == std::string::npos ? 1 : 2).back(), width) << lines[i];
  }
  // Names are right-aligned: each ends where "weighted avg" ends.
  const size_t name_end = tl::display_width(std::string("weighted avg"));
  for (size_t i : {2u, 3u, 4u}) EXPECT_EQ(token_ends(lines[i], 0).front(), name_end) << lines[i];
}

}  // namespace
