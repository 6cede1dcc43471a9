#include "tl/history.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace tl {
namespace {

struct Field {
  const char* name;
  double EpochRecord::*member;
};
const Field kFields[] = {
    {"loss", &EpochRecord::loss},       {"acc", &EpochRecord::acc}, {"val_loss", &EpochRecord::val_loss},
    {"val_acc", &EpochRecord::val_acc}, {"lr", &EpochRecord::lr},   {"seconds", &EpochRecord::seconds}};

// The shortest text that reads back to exactly `v`, like Python's repr (0.0003, 1e-05).
std::string shortest(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general).ptr);
}

}  // namespace

Json history_to_json(const std::vector<EpochRecord>& history) {
  Json out = Json::array();
  for (const auto& record : history) {
    Json row = {{"epoch", record.epoch}};
    for (const auto& f : kFields) {
      const double v = record.*f.member;
      row[f.name] = std::isfinite(v) ? Json(v) : Json(nullptr);
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<EpochRecord> history_from_json(const Json& json) {
  if (!json.is_array()) throw std::invalid_argument("history: expected a JSON array of epoch records");
  std::vector<EpochRecord> history;
  try {
    for (const auto& row : json) {
      EpochRecord record;
      record.epoch = row.at("epoch").get<int>();
      for (const auto& f : kFields) {
        const Json& v = row.at(f.name);
        record.*f.member = v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
      }
      history.push_back(record);
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("history: record ") + std::to_string(history.size() + 1) + ": " + e.what());
  }
  return history;
}

std::string history_to_csv(const std::vector<EpochRecord>& history) {
  std::string out = "epoch";
  for (const auto& f : kFields) out += std::string(",") + f.name;
  out += '\n';
  for (const auto& record : history) {
    out += std::to_string(record.epoch);
    for (const auto& f : kFields) out += "," + shortest(record.*f.member);
    out += '\n';
  }
  return out;
}

}  // namespace tl
