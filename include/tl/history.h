#pragma once
// The epoch history of a run: one record per epoch, written as history.csv and history.json.
#include <string>
#include <vector>

#include "tl/json.h"

namespace tl {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double loss = 0, acc = 0, val_loss = 0, val_acc = 0;
  double lr = 0;
  double seconds = 0;
};

// JSON has no NaN: non-finite values are written as null and read back as NaN.
Json history_to_json(const std::vector<EpochRecord>& history);
// Throws std::invalid_argument when `json` is not an array of records with every field.
std::vector<EpochRecord> history_from_json(const Json& json);
// Header `epoch,loss,acc,val_loss,val_acc,lr,seconds`; numbers in the shortest form that reads
// back exactly ("nan" for a missing value).
std::string history_to_csv(const std::vector<EpochRecord>& history);

}  // namespace tl
