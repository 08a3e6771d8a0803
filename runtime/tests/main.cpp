//===- main.cpp - ds-runtime-tests entry point ----------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
