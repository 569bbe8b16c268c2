#pragma once

// The fixture of `pollscope trace`'s end-to-end suites (trace_cli_test.cpp,
// trace_escapes_cli_test.cpp): runs a command under trace with --out, checks the findings
// document against its schema and reads its counts and findings.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "child_process.hpp"

namespace pollscope::test_support {

using json = nlohmann::json;

class TraceCli : public ::testing::Test {
 protected:
  // Runs `command` under trace with --out; the findings document, and how pollscope ended.
  json trace(const std::vector<std::string>& command, int expected_exit,
             std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"trace", "--out", out_};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), command.begin(), command.end());
    outcome_ = pollscope(args);
    EXPECT_TRUE(exited_with(outcome_, expected_exit));
    expect_valid_against(kSourceDir / "cli" / "findings.schema.json", out_);
    return parse_report(read_file(out_));
  }

  static std::size_t count(const json& report, const std::string& kind) {
    return report.at("leaks").at(kind).get<std::size_t>();
  }

  // The tokens of every finding.
  static std::set<std::uint64_t> tokens_of(const json& report) {
    std::set<std::uint64_t> tokens;
    for (const auto& detail : report.at("leaks").at("details"))
      tokens.insert(detail.at("token").get<std::uint64_t>());
    return tokens;
  }

  static const json& only(const json& report, const std::string& kind) {
    for (const auto& detail : report.at("leaks").at("details"))
      if (detail.at("kind") == kind) return detail;
    ADD_FAILURE() << "no " << kind << " in " << report.dump(2);
    static const json kNone = json::object();
    return kNone;
  }

  TempDir dir_;
  std::string out_ = dir_ / "findings.json";
  Outcome outcome_;
};

}  // namespace pollscope::test_support
