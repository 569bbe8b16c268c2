// One way to fail, end to end: an unexpected exception thrown in each layer of pollscope (the
// test seam POLLSCOPE_INJECT_FAILURE picks the layer) reaches main, which prints one line and
// exits 3: never an abort, never a core.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "child_process.hpp"

namespace pollscope {
namespace {

using namespace test_support;

// Two worker processes of two poller threads, so that every layer runs.
constexpr const char* kScenario = R"({
  "format": 1,
  "name": "layers",
  "description": "two workers of two threads over eight unix pairs, 100 ms",
  "workers": 2,
  "threads": 2,
  "sockets": {"kind": "unix", "count": 8, "active": 4},
  "phases": [{"name": "steady", "duration_ms": 100}]
})";

struct Layer {
  const char* name;
  const char* command;  // "run", "run-out" (a report written to a file) or "compare"
};

class PollscopeFailure : public ::testing::TestWithParam<Layer> {
 protected:
  void SetUp() override { scenario_ = dir_.write("layers.json", kScenario); }

  Outcome run(const std::vector<std::string>& args, const char* layer) {
    std::vector<std::string> argv = {"env", std::string("POLLSCOPE_INJECT_FAILURE=") + layer,
                                     POLLSCOPE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv);
  }

  TempDir dir_;
  std::string scenario_;
};

TEST_P(PollscopeFailure, AnUnexpectedExceptionIsOneLineAndExitThree) {
  const Layer layer = GetParam();
  const std::string report = dir_ / "report.json";
  std::vector<std::string> args = {"run", scenario_, "-q"};
  if (std::string(layer.command) == "run-out") args = {"run", scenario_, "-q", "--out", report};
  if (std::string(layer.command) == "compare") {
    // A good report first, compared with itself under the fault.
    ASSERT_TRUE(exited_with(run({"run", scenario_, "-q", "--out", report}, "none"), 0));
    args = {"compare", report, report, "-q"};
  }
  const Outcome outcome = run(args, layer.name);
  ASSERT_TRUE(exited_with(outcome, 3)) << describe(outcome);
  EXPECT_TRUE(one_line(outcome.err));
  const std::string expected =
      std::string("pollscope: internal error: injected failure in ") + layer.name;
  EXPECT_TRUE(outcome.err.starts_with(expected)) << outcome.err;
  if (std::string(layer.command) == "run-out") {
    EXPECT_FALSE(std::filesystem::exists(report)) << "no partial report";
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, PollscopeFailure,
                         ::testing::Values(Layer{"scenario", "run"}, Layer{"engine.thread", "run"},
                                           Layer{"engine.process", "run"}, Layer{"outcome", "run"},
                                           Layer{"report", "run"}, Layer{"io", "run-out"},
                                           Layer{"compare", "compare"}),
                         [](const ::testing::TestParamInfo<Layer>& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace pollscope
