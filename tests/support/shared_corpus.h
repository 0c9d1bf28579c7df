// Where the unit tests find the external corpus (conformance cases, the seed, docs), which is not
// part of the repository. One setting for every test, C++ and Python alike: the environment
// variable HALYARD_SHARED_DIR, read when the test runs (CTest passes its own environment on), and
// when unset the directory `shared` next to the repository (compiled in as
// HALYARD_DEFAULT_SHARED_DIR). A clone without the corpus must still pass, so a test that needs it
// starts with HALYARD_REQUIRE_SHARED_CORPUS(), which skips it with a message naming the setting.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace halyard::corpus {

inline std::string sharedDir() {
  const char* env = std::getenv("HALYARD_SHARED_DIR");
  return env != nullptr && *env != '\0' ? std::string(env)
                                        : std::string(HALYARD_DEFAULT_SHARED_DIR);
}

// A path inside the corpus; `relative` starts without a slash ("seed", "conformance/istio").
inline std::string sharedPath(std::string_view relative) {
  return sharedDir() + "/" + std::string(relative);
}

// Only a missing corpus directory skips: a corpus that is there but lacks a file the test reads
// is a broken corpus, and the test fails on it.
inline bool sharedCorpusPresent() {
  std::error_code ec;
  return std::filesystem::is_directory(sharedDir(), ec);
}

inline std::string sharedCorpusSkipMessage() {
  return "external corpus not found at " + sharedDir() +
         ": set HALYARD_SHARED_DIR to the directory holding conformance/, seed/ and docs/ "
         "(default: ../shared beside the repository)";
}

}  // namespace halyard::corpus

// In a test body or SetUp(): skips the test when the corpus is absent.
// (The switch keeps an `else` after the macro from binding to its `if`.)
#define HALYARD_REQUIRE_SHARED_CORPUS()             \
  switch (0)                                        \
  case 0:                                           \
  default:                                          \
    if (::halyard::corpus::sharedCorpusPresent()) { \
    } else                                          \
      GTEST_SKIP() << ::halyard::corpus::sharedCorpusSkipMessage()
