#include <gtest/gtest.h>

#include "tl/logging.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  tl::init_logging(/*to_stderr=*/true, /*quiet=*/false);
  return RUN_ALL_TESTS();
}
