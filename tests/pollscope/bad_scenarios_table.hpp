#pragma once

// The table in tests/pollscope/bad_scenarios/README.md, which says for each malformed scenario
// the JSON path and the words its one-line error must contain. The unit tests of the parser and
// the end-to-end tests of the binary both hold the files to it.

#include <filesystem>
#include <string>
#include <vector>

namespace pollscope::test_support {

struct BadScenario {
  std::string file;
  std::string path;  // empty: the error has no path
  std::vector<std::string> fragments;
};

// Reads the rows | `FILE` | `PATH` or nothing | `FRAGMENT`, `FRAGMENT`... | of `readme`.
std::vector<BadScenario> read_bad_scenarios_table(const std::filesystem::path& readme);

}  // namespace pollscope::test_support
