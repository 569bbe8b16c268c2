// The scenario format: every rule and every error of parse_scenario, load_scenario on the files
// under bad_scenarios/ (as their README says), the shipped scenarios, and the schema's agreement
// with the parser.

#include "scenario/scenario.hpp"
#include "base/json_text.hpp"
#include "base/terminal_text.hpp"
#include "engine/engine.hpp"
#include "figures/catalogue.hpp"

// std::regex (for the schema's pattern) makes GCC 12 warn, under -fsanitize=address with
// optimization, that std::function members may be used uninitialized: a false positive in
// libstdc++ (GCC bug 105616) that would spoil the sanitizer builds' clean output.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bad_scenarios_table.hpp"

namespace pollscope {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// The build gives the source tree's path: __FILE__ may be relative to the build directory
// (a compiler cache rewrites paths), and the test runs from elsewhere.
fs::path source_dir() {
  return fs::path(POLLSCOPE_SOURCE_DIR) / "tests" / "pollscope";
}
fs::path bad_scenarios_dir() {
  return source_dir() / "bad_scenarios";
}
fs::path shipped_dir() {
  return source_dir() / ".." / ".." / "scenarios";
}

json minimal() {
  return json::parse(R"({
    "format": 1,
    "name": "minimal",
    "description": "the least a scenario needs",
    "sockets": {"kind": "tcp", "count": 200},
    "phases": [{"name": "steady", "duration_ms": 100}]
  })");
}

// Every key given, none at its default.
json full() {
  return json::parse(R"({
    "format": 1,
    "name": "full-1_x",
    "description": "every key",
    "backend": "poll",
    "single_thread_polls": true,
    "receive_ahead": true,
    "events_capacity": 64,
    "workers": 3,
    "sockets": {"kind": "tcp", "count": 40, "active": 30},
    "phases": [
      {"name": "warmup", "duration_ms": 250, "load": {"mode": "closed", "in_flight": 4},
       "payload_bytes": 128, "toggle": {"pattern": "deregister_cycle", "every_events": 7},
       "leak_check": true},
      {"name": "steady", "messages": 5000, "load": {"mode": "open", "rate_per_second": 1234.5},
       "toggle": {"pattern": "write_interest", "rate_per_second": 250.5}}
    ],
    "faults": {"leak": 1, "close_before_deregister": 2, "dup_then_close": 3, "peer_reset": 4,
               "phase": "steady"},
    "thresholds": ["latency_ns.p99 < 2000000", "phases.steady.events >= 10"]
  })");
}

json patched(json document, const char* patch) {
  return document.patch(json::parse(patch));
}

// The scenario, or a test failure naming the error.
Scenario parsed(const json& document) {
  auto result = parse_scenario(document, "test.json");
  if (const auto* error = std::get_if<Problem>(&result)) {
    ADD_FAILURE() << "unexpected error: " << error->to_string();
    return {};
  }
  return std::get<Scenario>(std::move(result));
}

Problem error_of(const json& document) {
  auto result = parse_scenario(document, "test.json");
  if (const auto* error = std::get_if<Problem>(&result)) return *error;
  ADD_FAILURE() << "accepted: " << document.dump();
  return {};
}

TEST(ScenarioParse, MinimalDocumentGetsTheDefaults) {
  const json document = minimal();
  const Scenario scenario = parsed(document);
  EXPECT_EQ(scenario.format, 1);
  EXPECT_EQ(scenario.name, "minimal");
  EXPECT_EQ(scenario.description, "the least a scenario needs");
  EXPECT_EQ(scenario.backend, libpoll::Backend::automatic);
  EXPECT_FALSE(scenario.single_thread_polls);
  EXPECT_FALSE(scenario.receive_ahead);
  EXPECT_EQ(scenario.events_capacity, 1024u);
  EXPECT_EQ(scenario.workers, 1u);
  EXPECT_EQ(scenario.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(scenario.sockets.count, 200u);
  EXPECT_EQ(scenario.sockets.active, 10u);
  ASSERT_EQ(scenario.phases.size(), 1u);
  const Phase& phase = scenario.phases[0];
  EXPECT_EQ(phase.name, "steady");
  EXPECT_EQ(phase.duration_ms, 100u);
  EXPECT_FALSE(phase.messages.has_value());
  ASSERT_TRUE(std::holds_alternative<ClosedLoop>(phase.load));
  EXPECT_EQ(std::get<ClosedLoop>(phase.load).in_flight, 1u);
  EXPECT_EQ(phase.payload_bytes, 64u);
  EXPECT_EQ(phase.toggle.pattern, TogglePattern::none);
  EXPECT_EQ(phase.toggle.every_events, 1u);
  EXPECT_FALSE(phase.toggle.rate_per_second.has_value());
  EXPECT_FALSE(phase.leak_check);
  EXPECT_FALSE(scenario.faults.phase.has_value());
  EXPECT_EQ(scenario.faults.leak, 0u);
  EXPECT_EQ(scenario.faults.close_before_deregister, 0u);
  EXPECT_EQ(scenario.faults.dup_then_close, 0u);
  EXPECT_EQ(scenario.faults.peer_reset, 0u);
  EXPECT_TRUE(scenario.thresholds.empty());
  EXPECT_EQ(scenario.source, document);
}

TEST(ScenarioParse, ActiveDefaultsToAtMostTenPairs) {
  EXPECT_EQ(parsed(patched(minimal(), R"([{"op": "replace", "path": "/sockets/count",
                                           "value": 3}])"))
                .sockets.active,
            3u);
  EXPECT_EQ(parsed(patched(minimal(), R"([{"op": "replace", "path": "/sockets/count",
                                           "value": 10}])"))
                .sockets.active,
            10u);
}

TEST(ScenarioParse, ReadsEveryKey) {
  const Scenario scenario = parsed(full());
  EXPECT_EQ(scenario.name, "full-1_x");
  EXPECT_EQ(scenario.backend, libpoll::Backend::poll);
  EXPECT_TRUE(scenario.single_thread_polls);
  EXPECT_TRUE(scenario.receive_ahead);
  EXPECT_EQ(scenario.events_capacity, 64u);
  EXPECT_EQ(scenario.workers, 3u);
  EXPECT_EQ(scenario.sockets.count, 40u);
  EXPECT_EQ(scenario.sockets.active, 30u);
  ASSERT_EQ(scenario.phases.size(), 2u);

  const Phase& warmup = scenario.phases[0];
  EXPECT_EQ(warmup.name, "warmup");
  EXPECT_EQ(warmup.duration_ms, 250u);
  ASSERT_TRUE(std::holds_alternative<ClosedLoop>(warmup.load));
  EXPECT_EQ(std::get<ClosedLoop>(warmup.load).in_flight, 4u);
  EXPECT_EQ(warmup.payload_bytes, 128u);
  EXPECT_EQ(warmup.toggle.pattern, TogglePattern::deregister_cycle);
  EXPECT_EQ(warmup.toggle.every_events, 7u);
  EXPECT_TRUE(warmup.leak_check);

  const Phase& steady = scenario.phases[1];
  EXPECT_FALSE(steady.duration_ms.has_value());
  EXPECT_EQ(steady.messages, 5000u);
  ASSERT_TRUE(std::holds_alternative<OpenLoop>(steady.load));
  EXPECT_DOUBLE_EQ(std::get<OpenLoop>(steady.load).rate_per_second, 1234.5);
  EXPECT_EQ(steady.toggle.pattern, TogglePattern::write_interest);
  EXPECT_EQ(steady.toggle.rate_per_second, 250.5);
  EXPECT_FALSE(warmup.toggle.rate_per_second.has_value());

  EXPECT_EQ(scenario.faults.phase, "steady");
  EXPECT_EQ(scenario.faults.leak, 1u);
  EXPECT_EQ(scenario.faults.close_before_deregister, 2u);
  EXPECT_EQ(scenario.faults.dup_then_close, 3u);
  EXPECT_EQ(scenario.faults.peer_reset, 4u);
  ASSERT_EQ(scenario.thresholds.size(), 2u);
  EXPECT_EQ(scenario.source, full());
}

TEST(ScenarioParse, EverySocketKindBackendAndTogglePattern) {
  for (const char* kind : {"tcp", "unix", "udp", "pipe"}) {
    json document = minimal();
    document["sockets"]["kind"] = kind;
    EXPECT_EQ(to_string(parsed(document).sockets.kind), kind);
  }
  for (const char* backend : {"automatic", "epoll", "poll", "io_uring"}) {
    json document = minimal();
    document["backend"] = backend;
    EXPECT_EQ(libpoll::to_string(parsed(document).backend), backend);
  }
  for (const char* pattern :
       {"none", "readable_writable", "write_interest", "reregister_cycle", "deregister_cycle"}) {
    json document = minimal();
    document["phases"][0]["toggle"] = {{"pattern", pattern}};
    EXPECT_EQ(to_string(parsed(document).phases[0].toggle.pattern), pattern);
  }
}

// JSON Schema's "integer" is a value, not a spelling: 1e3 and 2.0 are integers there, and here.
TEST(ScenarioParse, WholeNumbersWrittenAsFloatsAreIntegers) {
  const Scenario scenario = parsed(json::parse(R"({
    "format": 1.0, "name": "floats", "description": "d", "events_capacity": 1e3, "workers": 2.0,
    "sockets": {"kind": "tcp", "count": 1e2, "active": 5.0},
    "phases": [{"name": "a", "messages": 1e12}]
  })"));
  EXPECT_EQ(scenario.events_capacity, 1000u);
  EXPECT_EQ(scenario.workers, 2u);
  EXPECT_EQ(scenario.sockets.count, 100u);
  EXPECT_EQ(scenario.sockets.active, 5u);
  EXPECT_EQ(scenario.phases[0].messages, 1000000000000u);
}

// Integers built in C++ are signed in nlohmann::json; parsed ones are unsigned.
TEST(ScenarioParse, SignedIntegersFromCode) {
  json document = minimal();
  document["workers"] = static_cast<std::int64_t>(4);
  document["sockets"]["count"] = -0;
  EXPECT_EQ(error_of(document).path, "/sockets/count");
  document["sockets"]["count"] = static_cast<std::int64_t>(7);
  EXPECT_EQ(parsed(document).workers, 4u);
  EXPECT_EQ(parsed(document).sockets.count, 7u);
}

TEST(ScenarioParse, BoundsAreInclusive) {
  const json low = json::parse(R"({
    "format": 1, "name": "a", "description": "d", "events_capacity": 1, "workers": 1,
    "sockets": {"kind": "udp", "count": 1, "active": 0},
    "phases": [{"name": "a", "duration_ms": 1, "payload_bytes": 16,
                "load": {"mode": "open", "rate_per_second": 0.001},
                "toggle": {"pattern": "none", "every_events": 1}}],
    "faults": {"leak": 0, "close_before_deregister": 0, "dup_then_close": 0}
  })");
  const Scenario lowest = parsed(low);
  EXPECT_DOUBLE_EQ(std::get<OpenLoop>(lowest.phases[0].load).rate_per_second, 0.001);
  EXPECT_EQ(lowest.sockets.active, 0u);
  EXPECT_EQ(lowest.phases[0].duration_ms, 1u);

  const std::string name(64, 'z');
  json high = json::parse(R"({
    "format": 1, "description": "d", "events_capacity": 1000000, "workers": 64,
    "sockets": {"kind": "tcp", "count": 100000, "active": 100000},
    "phases": [{"name": "a", "duration_ms": 3600000, "payload_bytes": 65536,
                "load": {"mode": "closed", "in_flight": 1024},
                "toggle": {"pattern": "none", "every_events": 1000000}},
               {"name": "b", "messages": 1000000000000,
                "load": {"mode": "open", "rate_per_second": 10000000}}],
    "faults": {"leak": 400, "close_before_deregister": 400, "dup_then_close": 400,
               "peer_reset": 363, "phase": "b"}
  })");
  high["name"] = name;
  const Scenario highest = parsed(high);
  EXPECT_EQ(highest.name, name);
  EXPECT_EQ(highest.events_capacity, 1000000u);
  EXPECT_EQ(highest.workers, 64u);
  EXPECT_EQ(highest.sockets.active, 100000u);
  EXPECT_EQ(highest.phases[0].payload_bytes, 65536u);
  EXPECT_EQ(highest.phases[1].messages, 1000000000000u);
  // The first of 64 workers holds ceil(100000 / 64) = 1563 pairs, the most faults can take.
  EXPECT_EQ(highest.faults.peer_reset, 363u);
  // One process holds every pair: each fault kind may take them all.
  json one_process = high;
  one_process["workers"] = 1;
  one_process["faults"] = {{"leak", 100000}};
  EXPECT_EQ(parsed(one_process).faults.leak, 100000u);
  one_process["faults"] = {{"peer_reset", 100000}};
  EXPECT_EQ(parsed(one_process).faults.peer_reset, 100000u);
  one_process["faults"] = {{"close_before_deregister", 1024}};
  EXPECT_EQ(parsed(one_process).faults.close_before_deregister, 1024u);
  json toggle_rate = minimal();
  toggle_rate["phases"][0]["toggle"] = {{"pattern", "reregister_cycle"},
                                        {"rate_per_second", 1000000}};
  EXPECT_EQ(parsed(toggle_rate).phases[0].toggle.rate_per_second, 1000000.0);

  json udp = minimal();
  udp["sockets"]["kind"] = "udp";
  udp["phases"][0]["payload_bytes"] = 65507;
  EXPECT_EQ(parsed(udp).phases[0].payload_bytes, 65507u);
}

// Faults injected at a phase stay for the phases after it. One that ends after its messages
// needs a pair to carry them in the poller that takes the faults (the first of the first worker):
// without one, validate passed and run never ended.
TEST(ScenarioParse, FaultsLeaveAPhaseThatEndsAfterMessagesAPairToSendOn) {
  json document = minimal();  // 200 TCP pairs, 10 active
  document["phases"] = json::parse(R"([{"name": "warm", "duration_ms": 10},
      {"name": "p", "messages": 1000, "load": {"mode": "closed", "in_flight": 1}}])");
  document["faults"] = {{"leak", 9}, {"phase", "warm"}};
  EXPECT_EQ(parsed(document).faults.leak, 9u);
  document["faults"] = {{"leak", 10}, {"phase", "warm"}};
  Problem error = error_of(document);
  EXPECT_EQ(error.path, "/faults/leak");
  EXPECT_NE(error.reason.find(R"(injected at phase "warm" take all 10 active pairs)"),
            std::string::npos)
      << error.reason;
  EXPECT_NE(error.reason.find(R"(leaving phase "p" no healthy pair)"), std::string::npos)
      << error.reason;
  // The fault that took the last pair is named.
  document["faults"] = {{"dup_then_close", 6}, {"peer_reset", 4}, {"phase", "p"}};
  EXPECT_EQ(error_of(document).path, "/faults/peer_reset");
  document["faults"] = {{"close_before_deregister", 10}, {"phase", "p"}};
  EXPECT_EQ(error_of(document).path, "/faults/close_before_deregister");
  // At teardown, or after the phase, they take nothing from it.
  document["faults"] = {{"leak", 10}};
  EXPECT_EQ(parsed(document).faults.leak, 10u);
  document["phases"][0].swap(document["phases"][1]);
  document["faults"] = {{"leak", 10}, {"phase", "warm"}};
  EXPECT_EQ(parsed(document).faults.leak, 10u);

  // An open loop still sends on a dropped or dup'd source's pair (its file takes data).
  document["phases"][0]["load"] = {{"mode", "open"}, {"rate_per_second", 1000}};
  document["faults"] = {{"leak", 5}, {"dup_then_close", 5}, {"phase", "p"}};
  EXPECT_EQ(parsed(document).faults.leak, 5u);
  document["faults"] = {{"leak", 5}, {"peer_reset", 5}, {"phase", "p"}};
  EXPECT_EQ(parsed(document).faults.peer_reset, 5u);
  document["faults"] = {{"close_before_deregister", 6}, {"peer_reset", 4}, {"phase", "p"}};
  error = error_of(document);
  EXPECT_EQ(error.path, "/faults/peer_reset");
  EXPECT_NE(error.reason.find("no pair whose file still takes data"), std::string::npos)
      << error.reason;

  // The faulted poller holds its share of the active pairs: 5 of 10 with 2 threads, 4 of 10
  // with 3 workers.
  document["phases"][0]["load"] = {{"mode", "closed"}, {"in_flight", 1}};
  document["threads"] = 2;
  document["faults"] = {{"leak", 4}, {"phase", "p"}};
  EXPECT_EQ(parsed(document).faults.leak, 4u);
  document["faults"] = {{"leak", 5}, {"phase", "p"}};
  EXPECT_NE(error_of(document).reason.find("take all 5 active pairs"), std::string::npos);
  document["threads"] = 1;
  document["workers"] = 3;
  document["faults"] = {{"leak", 3}, {"phase", "p"}};
  EXPECT_EQ(parsed(document).faults.leak, 3u);
  document["faults"] = {{"leak", 4}, {"phase", "p"}};
  EXPECT_NE(error_of(document).reason.find("take all 4 active pairs"), std::string::npos);
}

TEST(ScenarioParse, SixteenPhasesButNotSeventeen) {
  json document = minimal();
  document["phases"] = json::array();
  for (int i = 0; i < 16; ++i) {
    document["phases"].push_back({{"name", fmt::format("p{}", i)}, {"duration_ms", 1}});
  }
  EXPECT_EQ(parsed(document).phases.size(), 16u);
  document["phases"].push_back({{"name", "p16"}, {"duration_ms", 1}});
  const Problem error = error_of(document);
  EXPECT_EQ(error.path, "/phases");
  EXPECT_NE(error.reason.find("must hold 1 to 16 phases, got 17"), std::string::npos);
}

TEST(ScenarioParse, PeerResetZeroIsAllowedOnAnyKind) {
  json document = minimal();
  document["sockets"]["kind"] = "pipe";
  document["faults"] = {{"peer_reset", 0}, {"leak", 2}};
  EXPECT_EQ(parsed(document).faults.leak, 2u);
}

TEST(ScenarioParse, RootMustBeAnObject) {
  for (const auto& [document, got] :
       std::vector<std::pair<json, std::string>>{{json::array(), "got an array"},
                                                 {json("scenario"), "got a string"},
                                                 {json(nullptr), "got null"},
                                                 {json(1), "got an integer"},
                                                 {json(true), "got a boolean"}}) {
    const Problem error = error_of(document);
    EXPECT_EQ(error.path, "");
    EXPECT_NE(error.reason.find("must be a JSON object"), std::string::npos) << error.reason;
    EXPECT_NE(error.reason.find(got), std::string::npos) << error.reason;
  }
}

// One mistake per case: the patch applied to minimal(), where the error must point, and a
// fragment its reason must contain.
struct ErrorCase {
  const char* name;
  const char* patch;
  const char* path;
  const char* reason;
};

void PrintTo(const ErrorCase& error_case, std::ostream* out) {
  *out << error_case.name;
}

class Problems : public testing::TestWithParam<ErrorCase> {};

TEST_P(Problems, PointAtTheMistake) {
  const ErrorCase& error_case = GetParam();
  const json document = patched(minimal(), error_case.patch);
  const Problem error = error_of(document);
  EXPECT_EQ(error.subject, "test.json");
  EXPECT_EQ(error.path, error_case.path) << error.to_string();
  EXPECT_NE(error.reason.find(error_case.reason), std::string::npos) << error.to_string();
  EXPECT_EQ(error.to_string().find('\n'), std::string::npos);
}

// clang-format off
const ErrorCase kErrorCases[] = {
    // format, checked first: a newer format may have keys this one does not know.
    {"FormatMissing", R"([{"op": "remove", "path": "/format"}])", "",
     R"(missing required key "format")"},
    {"FormatTwo", R"([{"op": "replace", "path": "/format", "value": 2}])", "/format",
     "unsupported format 2 (this pollscope reads 1)"},
    {"FormatZero", R"([{"op": "replace", "path": "/format", "value": 0}])", "/format",
     "unsupported format 0"},
    {"FormatBeforeUnknownKeys", R"([{"op": "replace", "path": "/format", "value": 3},
                                    {"op": "add", "path": "/novel", "value": 1}])",
     "/format", "unsupported format 3"},
    {"FormatString", R"([{"op": "replace", "path": "/format", "value": "1"}])", "/format",
     "expected an integer, got a string"},
    {"FormatFraction", R"([{"op": "replace", "path": "/format", "value": 1.5}])", "/format",
     "expected an integer, got 1.5"},
    // unknown keys
    {"UnknownTopLevelKey", R"([{"op": "add", "path": "/colour", "value": "red"}])", "/colour",
     R"(unknown key "colour" (known: format, name, description, backend, single_thread_polls, )"
     R"(receive_ahead, events_capacity, workers, threads, sockets, phases, faults, thresholds, )"
     R"(capture))"},
    {"UnknownKeyIsEscapedInThePath", R"([{"op": "add", "path": "/a~1b~0c", "value": 1}])",
     "/a~1b~0c", R"(unknown key "a/b~c")"},
    {"UnknownKeyBeforeMissingOne", R"([{"op": "move", "from": "/name", "path": "/nmae"}])",
     "/nmae", R"(unknown key "nmae")"},
    // name, description, backend
    {"NameMissing", R"([{"op": "remove", "path": "/name"}])", "",
     R"(missing required key "name")"},
    {"NameNotString", R"([{"op": "replace", "path": "/name", "value": 5}])", "/name",
     "expected a string, got an integer"},
    {"NameEmpty", R"([{"op": "replace", "path": "/name", "value": ""}])", "/name",
     "must be 1 to 64 characters of a-z, 0-9, _ and -"},
    {"NameTooLong", R"([{"op": "replace", "path": "/name", "value":
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}])", "/name",
     "must be 1 to 64 characters"},
    {"NameCapitals", R"([{"op": "replace", "path": "/name", "value": "Default"}])", "/name",
     R"(got "Default")"},
    {"NameDot", R"([{"op": "replace", "path": "/name", "value": "a.b"}])", "/name",
     "a-z, 0-9, _ and -"},
    {"DescriptionMissing", R"([{"op": "remove", "path": "/description"}])", "",
     R"(missing required key "description")"},
    {"DescriptionEmpty", R"([{"op": "replace", "path": "/description", "value": ""}])",
     "/description", "must be one non-empty line"},
    {"DescriptionTwoLines", R"([{"op": "replace", "path": "/description", "value": "a\nb"}])",
     "/description", "must be one non-empty line"},
    {"DescriptionNull", R"([{"op": "replace", "path": "/description", "value": null}])",
     "/description", "expected a string, got null"},
    {"BackendUnknown", R"([{"op": "add", "path": "/backend", "value": "kqueue"}])", "/backend",
     R"(expected one of "automatic", "epoll", "poll", "io_uring", got "kqueue")"},
    {"BackendNotString", R"([{"op": "add", "path": "/backend", "value": 1}])", "/backend",
     "got an integer"},
    // events_capacity, workers
    {"EventsCapacityZero", R"([{"op": "add", "path": "/events_capacity", "value": 0}])",
     "/events_capacity", "must be between 1 and 1000000, got 0"},
    {"EventsCapacityTooBig", R"([{"op": "add", "path": "/events_capacity", "value": 1000001}])",
     "/events_capacity", "must be between 1 and 1000000, got 1000001"},
    {"EventsCapacityNegative", R"([{"op": "add", "path": "/events_capacity", "value": -1}])",
     "/events_capacity", "got -1"},
    {"EventsCapacityHuge", R"([{"op": "add", "path": "/events_capacity", "value": 1e300}])",
     "/events_capacity", "must be between 1 and 1000000, got 1e+300"},
    {"EventsCapacityBoolean", R"([{"op": "add", "path": "/events_capacity", "value": true}])",
     "/events_capacity", "expected an integer, got a boolean"},
    {"WorkersZero", R"([{"op": "add", "path": "/workers", "value": 0}])", "/workers",
     "must be between 1 and 64, got 0"},
    {"WorkersTooMany", R"([{"op": "add", "path": "/workers", "value": 65}])", "/workers",
     "must be between 1 and 64, got 65"},
    {"WorkersFraction", R"([{"op": "add", "path": "/workers", "value": 2.5}])", "/workers",
     "expected an integer, got 2.5"},
    {"WorkersArray", R"([{"op": "add", "path": "/workers", "value": [2]}])", "/workers",
     "expected an integer, got an array"},
    // sockets
    {"SocketsMissing", R"([{"op": "remove", "path": "/sockets"}])", "",
     R"(missing required key "sockets")"},
    {"SocketsNotObject", R"([{"op": "replace", "path": "/sockets", "value": []}])", "/sockets",
     "expected an object, got an array"},
    {"SocketsUnknownKey", R"([{"op": "add", "path": "/sockets/pairs", "value": 2}])",
     "/sockets/pairs", R"(unknown key "pairs" (known: kind, count, active, peer))"},
    {"KindMissing", R"([{"op": "remove", "path": "/sockets/kind"}])", "/sockets",
     R"(missing required key "kind")"},
    {"KindUnknown", R"([{"op": "replace", "path": "/sockets/kind", "value": "sctp"}])",
     "/sockets/kind", R"(expected one of "tcp", "unix", "udp", "pipe", "waker", "eventfd", got "sctp")"},
    {"KindInternalName", R"([{"op": "replace", "path": "/sockets/kind", "value": "unix_stream"}])",
     "/sockets/kind", R"(got "unix_stream")"},
    {"CountMissing", R"([{"op": "remove", "path": "/sockets/count"}])", "/sockets",
     R"(missing required key "count")"},
    {"CountZero", R"([{"op": "replace", "path": "/sockets/count", "value": 0}])",
     "/sockets/count", "must be between 1 and 100000, got 0"},
    {"CountTooBig", R"([{"op": "replace", "path": "/sockets/count", "value": 100001}])",
     "/sockets/count", "must be between 1 and 100000, got 100001"},
    {"CountLargestUnsigned",
     R"([{"op": "replace", "path": "/sockets/count", "value": 18446744073709551615}])",
     "/sockets/count", "got 18446744073709551615"},
    {"CountBeyondSixtyFourBits",
     R"([{"op": "replace", "path": "/sockets/count", "value": 18446744073709551616}])",
     "/sockets/count", "must be between 1 and 100000"},
    {"CountMostNegative",
     R"([{"op": "replace", "path": "/sockets/count", "value": -9223372036854775808}])",
     "/sockets/count", "got -9223372036854775808"},
    {"CountString", R"([{"op": "replace", "path": "/sockets/count", "value": "200"}])",
     "/sockets/count", "expected an integer, got a string"},
    {"ActiveExceedsCount", R"([{"op": "add", "path": "/sockets/active", "value": 201}])",
     "/sockets/active", "must be at most count (200), got 201"},
    {"ActiveNegative", R"([{"op": "add", "path": "/sockets/active", "value": -1}])",
     "/sockets/active", "must be between 0 and 100000, got -1"},
    {"ActiveNull", R"([{"op": "add", "path": "/sockets/active", "value": null}])",
     "/sockets/active", "expected an integer, got null"},
    // phases
    {"PhasesMissing", R"([{"op": "remove", "path": "/phases"}])", "",
     R"(missing required key "phases")"},
    {"PhasesNotArray", R"([{"op": "replace", "path": "/phases", "value": {}}])", "/phases",
     "expected an array, got an object"},
    {"PhasesEmpty", R"([{"op": "replace", "path": "/phases", "value": []}])", "/phases",
     "must hold 1 to 16 phases, got 0"},
    {"PhaseNotObject", R"([{"op": "add", "path": "/phases/-", "value": "steady"}])",
     "/phases/1", "expected an object, got a string"},
    {"PhaseUnknownKey", R"([{"op": "add", "path": "/phases/0/duration", "value": 5}])",
     "/phases/0/duration",
     R"(unknown key "duration" (known: name, duration_ms, messages, load, payload_bytes, )"
     R"(toggle, leak_check))"},
    {"PhaseNameMissing", R"([{"op": "remove", "path": "/phases/0/name"}])", "/phases/0",
     R"(missing required key "name")"},
    {"PhaseNameNotIdentifier", R"([{"op": "replace", "path": "/phases/0/name",
                                    "value": "warm up"}])",
     "/phases/0/name", R"(a-z, 0-9, _ and -, got "warm up")"},
    {"PhaseNameDuplicate", R"([{"op": "add", "path": "/phases/-",
                                "value": {"name": "steady", "duration_ms": 5}}])",
     "/phases/1/name", R"(duplicate phase name "steady" (also /phases/0/name))"},
    {"PhaseWithoutEnd", R"([{"op": "remove", "path": "/phases/0/duration_ms"}])", "/phases/0",
     R"(needs one of "duration_ms" or "messages")"},
    {"PhaseWithBothEnds", R"([{"op": "add", "path": "/phases/0/messages", "value": 10}])",
     "/phases/0", R"(has both "duration_ms" and "messages")"},
    {"DurationZero", R"([{"op": "replace", "path": "/phases/0/duration_ms", "value": 0}])",
     "/phases/0/duration_ms", "must be between 1 and 3600000, got 0"},
    {"DurationTooLong", R"([{"op": "replace", "path": "/phases/0/duration_ms",
                             "value": 3600001}])",
     "/phases/0/duration_ms", "must be between 1 and 3600000, got 3600001"},
    {"DurationString", R"([{"op": "replace", "path": "/phases/0/duration_ms", "value": "1s"}])",
     "/phases/0/duration_ms", "expected an integer, got a string"},
    {"MessagesZero", R"([{"op": "move", "from": "/phases/0/duration_ms",
                          "path": "/phases/0/messages"},
                         {"op": "replace", "path": "/phases/0/messages", "value": 0}])",
     "/phases/0/messages", "must be between 1 and 1000000000000, got 0"},
    {"MessagesTooMany", R"([{"op": "move", "from": "/phases/0/duration_ms",
                             "path": "/phases/0/messages"},
                            {"op": "replace", "path": "/phases/0/messages",
                             "value": 1000000000001}])",
     "/phases/0/messages", "got 1000000000001"},
    {"MessagesWithoutActivePairs", R"([{"op": "add", "path": "/sockets/active", "value": 0},
                                       {"op": "move", "from": "/phases/0/duration_ms",
                                        "path": "/phases/0/messages"}])",
     "/phases/0/messages", "needs sockets.active > 0"},
    // load
    {"LoadNotObject", R"([{"op": "add", "path": "/phases/0/load", "value": "closed"}])",
     "/phases/0/load", "expected an object, got a string"},
    {"LoadModeMissing", R"([{"op": "add", "path": "/phases/0/load", "value": {}}])",
     "/phases/0/load", R"(missing required key "mode")"},
    {"LoadModeMisspelt", R"([{"op": "add", "path": "/phases/0/load", "value": {"mdoe": "open"}}])",
     "/phases/0/load/mdoe", R"(unknown key "mdoe" (known: mode, in_flight, rate_per_second, pcap, speed))"},
    {"LoadModeUnknown", R"([{"op": "add", "path": "/phases/0/load", "value": {"mode": "burst"}}])",
     "/phases/0/load/mode", R"(expected one of "closed", "open", "replay", got "burst")"},
    {"LoadModeNotString", R"([{"op": "add", "path": "/phases/0/load", "value": {"mode": 1}}])",
     "/phases/0/load/mode", "got an integer"},
    {"ClosedLoadWithRate", R"([{"op": "add", "path": "/phases/0/load",
                                "value": {"mode": "closed", "rate_per_second": 5}}])",
     "/phases/0/load/rate_per_second", R"(unknown key "rate_per_second" (known: mode, in_flight))"},
    {"OpenLoadWithInFlight", R"([{"op": "add", "path": "/phases/0/load",
                                  "value": {"mode": "open", "rate_per_second": 5,
                                            "in_flight": 2}}])",
     "/phases/0/load/in_flight", R"(unknown key "in_flight" (known: mode, rate_per_second))"},
    {"InFlightZero", R"([{"op": "add", "path": "/phases/0/load",
                          "value": {"mode": "closed", "in_flight": 0}}])",
     "/phases/0/load/in_flight", "must be between 1 and 1024, got 0"},
    {"InFlightTooMany", R"([{"op": "add", "path": "/phases/0/load",
                             "value": {"mode": "closed", "in_flight": 1025}}])",
     "/phases/0/load/in_flight", "must be between 1 and 1024, got 1025"},
    {"OpenLoadWithoutRate", R"([{"op": "add", "path": "/phases/0/load",
                                 "value": {"mode": "open"}}])",
     "/phases/0/load", R"(missing required key "rate_per_second")"},
    {"RateZero", R"([{"op": "add", "path": "/phases/0/load",
                      "value": {"mode": "open", "rate_per_second": 0}}])",
     "/phases/0/load/rate_per_second", "must be greater than 0 and at most 10000000, got 0"},
    {"RateNegative", R"([{"op": "add", "path": "/phases/0/load",
                          "value": {"mode": "open", "rate_per_second": -5.5}}])",
     "/phases/0/load/rate_per_second", "got -5.5"},
    // A rate whose interval is no finite number of nanoseconds: 1e9 / 1e-300 is infinite.
    {"OpenRateTooSmallToSchedule", R"([{"op": "add", "path": "/phases/0/load",
                                        "value": {"mode": "open", "rate_per_second": 1e-300}}])",
     "/phases/0/load/rate_per_second", "must be at least 0.001"},
    {"OpenRateJustUnderTheSlowest", R"([{"op": "add", "path": "/phases/0/load",
                                         "value": {"mode": "open", "rate_per_second": 0.0009}}])",
     "/phases/0/load/rate_per_second", "got 0.0009"},
    {"ToggleRateTooSmallToSchedule", R"([{"op": "add", "path": "/phases/0/toggle",
                                          "value": {"pattern": "reregister_cycle",
                                                    "rate_per_second": 1e-300}}])",
     "/phases/0/toggle/rate_per_second", "must be at least 0.001"},
    {"RateTooHigh", R"([{"op": "add", "path": "/phases/0/load",
                         "value": {"mode": "open", "rate_per_second": 10000000.5}}])",
     "/phases/0/load/rate_per_second", "at most 10000000, got 10000000.5"},
    {"RateString", R"([{"op": "add", "path": "/phases/0/load",
                        "value": {"mode": "open", "rate_per_second": "fast"}}])",
     "/phases/0/load/rate_per_second", "expected a number, got a string"},
    // payload, toggle, leak_check
    {"PayloadTooSmall", R"([{"op": "add", "path": "/phases/0/payload_bytes", "value": 15}])",
     "/phases/0/payload_bytes", "must be between 16 and 65536, got 15"},
    {"PayloadTooBig", R"([{"op": "add", "path": "/phases/0/payload_bytes", "value": 65537}])",
     "/phases/0/payload_bytes", "must be between 16 and 65536, got 65537"},
    {"PayloadTooBigForUdp", R"([{"op": "replace", "path": "/sockets/kind", "value": "udp"},
                                {"op": "add", "path": "/phases/0/payload_bytes",
                                 "value": 65508}])",
     "/phases/0/payload_bytes", "a udp datagram carries at most 65507 bytes, got 65508"},
    {"ToggleNotObject", R"([{"op": "add", "path": "/phases/0/toggle", "value": "none"}])",
     "/phases/0/toggle", "expected an object, got a string"},
    {"TogglePatternMissing", R"([{"op": "add", "path": "/phases/0/toggle",
                                  "value": {"every_events": 2}}])",
     "/phases/0/toggle", R"(missing required key "pattern")"},
    {"TogglePatternUnknown", R"([{"op": "add", "path": "/phases/0/toggle",
                                  "value": {"pattern": "flip"}}])",
     "/phases/0/toggle/pattern",
     R"(expected one of "none", "readable_writable", "write_interest", "reregister_cycle", )"
     R"("deregister_cycle", got "flip")"},
    {"ToggleEveryZero", R"([{"op": "add", "path": "/phases/0/toggle",
                             "value": {"pattern": "none", "every_events": 0}}])",
     "/phases/0/toggle/every_events", "must be between 1 and 1000000, got 0"},
    {"ToggleEveryTooMany", R"([{"op": "add", "path": "/phases/0/toggle",
                                "value": {"pattern": "none", "every_events": 1000001}}])",
     "/phases/0/toggle/every_events", "got 1000001"},
    {"ToggleEveryAndRate", R"([{"op": "add", "path": "/phases/0/toggle",
                               "value": {"pattern": "reregister_cycle", "every_events": 2,
                                         "rate_per_second": 100}}])",
     "/phases/0/toggle",
     R"(has both "every_events" and "rate_per_second": give at most one)"},
    {"ToggleRateZero", R"([{"op": "add", "path": "/phases/0/toggle",
                           "value": {"pattern": "reregister_cycle", "rate_per_second": 0}}])",
     "/phases/0/toggle/rate_per_second", "must be greater than 0 and at most 1000000, got 0"},
    {"ToggleRateString", R"([{"op": "add", "path": "/phases/0/toggle",
                             "value": {"pattern": "write_interest", "rate_per_second": "1k"}}])",
     "/phases/0/toggle/rate_per_second", "expected a number, got a string"},
    {"ToggleUnknownKey", R"([{"op": "add", "path": "/phases/0/toggle",
                              "value": {"pattern": "none", "every": 2}}])",
     "/phases/0/toggle/every",
     R"(unknown key "every" (known: pattern, every_events, rate_per_second))"},
    {"SingleThreadPollsString",
     R"([{"op": "add", "path": "/single_thread_polls", "value": "yes"}])",
     "/single_thread_polls", "expected a boolean, got a string"},
    {"ReceiveAheadNumber", R"([{"op": "add", "path": "/receive_ahead", "value": 1}])",
     "/receive_ahead", "expected a boolean, got an integer"},
    {"LeakCheckString", R"([{"op": "add", "path": "/phases/0/leak_check", "value": "yes"}])",
     "/phases/0/leak_check", "expected a boolean, got a string"},
    {"LeakCheckInteger", R"([{"op": "add", "path": "/phases/0/leak_check", "value": 1}])",
     "/phases/0/leak_check", "expected a boolean, got an integer"},
    {"SecondPhaseIsCheckedToo", R"([{"op": "add", "path": "/phases/-",
                                     "value": {"name": "b", "duration_ms": 1,
                                               "payload_bytes": 1}}])",
     "/phases/1/payload_bytes", "got 1"},
    // faults
    {"FaultsNotObject", R"([{"op": "add", "path": "/faults", "value": 3}])", "/faults",
     "expected an object, got an integer"},
    {"FaultsUnknownKey", R"([{"op": "add", "path": "/faults", "value": {"leaks": 1}}])",
     "/faults/leaks",
     R"(unknown key "leaks" (known: leak, close_before_deregister, dup_then_close, peer_reset, )"
     R"(phase))"},
    {"FaultNegative", R"([{"op": "add", "path": "/faults", "value": {"leak": -1}}])",
     "/faults/leak", "must be between 0 and 100000, got -1"},
    {"FaultFraction", R"([{"op": "add", "path": "/faults", "value": {"dup_then_close": 0.5}}])",
     "/faults/dup_then_close", "expected an integer, got 0.5"},
    {"FaultsExceedCount", R"([{"op": "add", "path": "/faults",
                               "value": {"leak": 100, "close_before_deregister": 100,
                                         "dup_then_close": 1}}])",
     "/faults", "the faults add up to 201 pairs, more than sockets.count (200)"},
    {"FaultsExceedFirstWorkersShare", R"([{"op": "add", "path": "/workers", "value": 3},
                                          {"op": "add", "path": "/faults",
                                           "value": {"leak": 60, "dup_then_close": 8}}])",
     "/faults",
     "the faults add up to 68 pairs, more than the first poller's share of sockets.count "
     "(67 of 200)"},
    {"FaultsClosedBeyondTheAuditsHistory",
     R"([{"op": "replace", "path": "/sockets/count", "value": 5000},
         {"op": "add", "path": "/faults", "value": {"close_before_deregister": 1025}}])",
     "/faults/close_before_deregister",
     "must be at most 1024 (the registrations libpoll's audit remembers after a close), got 1025"},
    {"FaultsPhaseUnknown", R"([{"op": "add", "path": "/faults",
                               "value": {"leak": 1, "phase": "stedy"}}])",
     "/faults/phase", R"(unknown phase "stedy" (phases: steady))"},
    {"FaultsPhaseNotString", R"([{"op": "add", "path": "/faults",
                                 "value": {"leak": 1, "phase": 0}}])",
     "/faults/phase", "expected a string, got an integer"},
    {"PeerResetOnUnix", R"([{"op": "replace", "path": "/sockets/kind", "value": "unix"},
                            {"op": "add", "path": "/faults", "value": {"peer_reset": 1}}])",
     "/faults/peer_reset", R"(needs sockets.kind "tcp" (only TCP resets), got "unix")"},
    {"PeerResetOnUdp", R"([{"op": "replace", "path": "/sockets/kind", "value": "udp"},
                           {"op": "add", "path": "/faults", "value": {"peer_reset": 1}}])",
     "/faults/peer_reset", R"(got "udp")"},
    {"PeerResetOnPipe", R"([{"op": "replace", "path": "/sockets/kind", "value": "pipe"},
                            {"op": "add", "path": "/faults", "value": {"peer_reset": 1}}])",
     "/faults/peer_reset", R"(got "pipe")"},
    // thresholds
    {"ThresholdsNotArray", R"([{"op": "add", "path": "/thresholds",
                                "value": "leaks.total == 0"}])",
     "/thresholds", "expected an array, got a string"},
    {"ThresholdNotString", R"([{"op": "add", "path": "/thresholds", "value": [5]}])",
     "/thresholds/0", "expected a string, got an integer"},
    {"ThresholdWithoutSpaces", R"([{"op": "add", "path": "/thresholds",
                                    "value": ["leaks.total==0"]}])",
     "/thresholds/0", R"(expected "METRIC OP VALUE")"},
    {"ThresholdFourWords", R"([{"op": "add", "path": "/thresholds",
                                "value": ["leaks.total == 0 pairs"]}])",
     "/thresholds/0", R"(expected "METRIC OP VALUE")"},
    {"ThresholdEmpty", R"([{"op": "add", "path": "/thresholds", "value": [""]}])",
     "/thresholds/0", R"(expected "METRIC OP VALUE")"},
    {"ThresholdUnknownMetric", R"([{"op": "add", "path": "/thresholds",
                                    "value": ["latency.p99 < 1000"]}])",
     "/thresholds/0", R"(unknown metric "latency.p99" (valid ones include latency_ns.p99)"},
    {"ThresholdMetricWrongCase", R"([{"op": "add", "path": "/thresholds",
                                      "value": ["Events > 1"]}])",
     "/thresholds/0", R"(unknown metric "Events")"},
    {"ThresholdSingleEquals", R"([{"op": "add", "path": "/thresholds",
                                   "value": ["leaks.total = 0"]}])",
     "/thresholds/0", R"(unknown operator "=" (use one of <, <=, >, >=, ==))"},
    {"ThresholdReversedOperator", R"([{"op": "add", "path": "/thresholds",
                                       "value": ["events =< 5"]}])",
     "/thresholds/0", R"(unknown operator "=<")"},
    {"ThresholdNotEqual", R"([{"op": "add", "path": "/thresholds",
                               "value": ["events != 5"]}])",
     "/thresholds/0", R"(unknown operator "!=")"},
    {"ThresholdValueWord", R"([{"op": "add", "path": "/thresholds",
                                "value": ["events > many"]}])",
     "/thresholds/0", R"("many" is not a number)"},
    {"ThresholdValueInfinity", R"([{"op": "add", "path": "/thresholds",
                                    "value": ["events < inf"]}])",
     "/thresholds/0", R"("inf" is not a number)"},
    {"ThresholdValueNan", R"([{"op": "add", "path": "/thresholds",
                               "value": ["events < nan"]}])",
     "/thresholds/0", R"("nan" is not a number)"},
    {"ThresholdValueHex", R"([{"op": "add", "path": "/thresholds",
                               "value": ["events < 0x10"]}])",
     "/thresholds/0", R"("0x10" is not a number)"},
    {"ThresholdValueLeadingDot", R"([{"op": "add", "path": "/thresholds",
                                      "value": ["events < .5"]}])",
     "/thresholds/0", R"(".5" is not a number)"},
    {"ThresholdValuePlus", R"([{"op": "add", "path": "/thresholds",
                                "value": ["events < +5"]}])",
     "/thresholds/0", R"("+5" is not a number)"},
    {"ThresholdValueOverflows", R"([{"op": "add", "path": "/thresholds",
                                     "value": ["events < 1e999"]}])",
     "/thresholds/0", R"("1e999" is not a finite number)"},
    {"ThresholdUnknownPhase", R"([{"op": "add", "path": "/thresholds",
                                   "value": ["phases.warmup.events > 1"]}])",
     "/thresholds/0",
     R"(unknown phase "warmup" in metric "phases.warmup.events" (phases: steady))"},
    {"ThresholdPhaseWithoutFigure", R"([{"op": "add", "path": "/thresholds",
                                         "value": ["phases.steady > 1"]}])",
     "/thresholds/0", "a phase's metric reads phases.<phase>.<metric>"},
    {"ThresholdPhaseLeaksWithoutCheck", R"([{"op": "add", "path": "/thresholds",
                                 "value": ["phases.steady.leaks.total == 0"]}])",
     "/thresholds/0",
     R"(unknown metric "phases.steady.leaks.total": phase steady has no leak check (set )"
     R"("leak_check": true))"},
    {"ThresholdPhaseLoopMetric", R"([{"op": "add", "path": "/thresholds",
                                      "value": ["phases.steady.loop.polls < 9"]}])",
     "/thresholds/0", "loop.polls is only measured for the whole run"},
    {"ThresholdPhaseRegistry", R"([{"op": "add", "path": "/thresholds",
                                    "value": ["phases.steady.registry_ns.register.p99 < 9"]}])",
     "/thresholds/0", "registry_ns.register.p99 is only measured for the whole run"},
    {"ThresholdPhaseOverhead", R"([{"op": "add", "path": "/thresholds",
                                    "value": ["phases.steady.overhead_ns_per_event < 9"]}])",
     "/thresholds/0", "only measured for the whole run"},
    {"ThresholdPhaseUnknownFigure", R"([{"op": "add", "path": "/thresholds",
                                         "value": ["phases.steady.latency.p99 < 9"]}])",
     "/thresholds/0",
     R"(unknown metric "phases.steady.latency.p99" (valid ones include phases.steady.latency_ns.)"},
    {"SecondThresholdIsCheckedToo", R"([{"op": "add", "path": "/thresholds",
                                         "value": ["events > 1", "events >> 1"]}])",
     "/thresholds/1", R"(unknown operator ">>")"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Rules, Problems, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST(ScenarioThresholds, ParsesMetricComparisonValueAndText) {
  json document = minimal();
  document["thresholds"] = {"latency_ns.p99 < 2000000",    "leaks.total == 0",
                            "achieved_rate_ratio >= 0.95", "events > -1.5e3",
                            "  loop.busy_ratio   <=  1  ", "missed_events <= 007"};
  const Scenario scenario = parsed(document);
  ASSERT_EQ(scenario.thresholds.size(), 6u);
  const auto expect = [&](std::size_t i, const char* metric, Comparison comparison, double value) {
    const Threshold& threshold = scenario.thresholds[i];
    EXPECT_EQ(threshold.metric, metric);
    EXPECT_EQ(threshold.comparison, comparison);
    EXPECT_DOUBLE_EQ(threshold.value, value);
    EXPECT_EQ(threshold.text, document["thresholds"][i].get<std::string>());
  };
  expect(0, "latency_ns.p99", Comparison::less, 2000000);
  expect(1, "leaks.total", Comparison::equal, 0);
  expect(2, "achieved_rate_ratio", Comparison::greater_equal, 0.95);
  expect(3, "events", Comparison::greater, -1500);
  expect(4, "loop.busy_ratio", Comparison::less_equal, 1);
  expect(5, "missed_events", Comparison::less_equal, 7);
}

TEST(ScenarioThresholds, PerPhaseMetricsNameAnExistingPhase) {
  json document = full();
  document["thresholds"] = {"phases.warmup.latency_ns.p99 < 5", "phases.steady.events >= 10",
                            "phases.steady.uncorrected_latency_ns.max < 1e6"};
  const Scenario scenario = parsed(document);
  ASSERT_EQ(scenario.thresholds.size(), 3u);
  EXPECT_EQ(scenario.thresholds[0].metric, "phases.warmup.latency_ns.p99");
  EXPECT_EQ(scenario.thresholds[1].metric, "phases.steady.events");
  EXPECT_EQ(scenario.thresholds[2].metric, "phases.steady.uncorrected_latency_ns.max");
  EXPECT_DOUBLE_EQ(scenario.thresholds[2].value, 1e6);
}

TEST(ScenarioThresholds, EveryKnownMetricAndOperatorIsAccepted) {
  json document = minimal();
  document["thresholds"] = json::array();
  for (const std::string& metric : known_metrics()) {
    for (const char* op : {"<", "<=", ">", ">=", "=="}) {
      document["thresholds"].push_back(metric + " " + op + " 1");
    }
  }
  for (const std::string& metric : known_phase_metrics()) {
    document["thresholds"].push_back("phases.steady." + metric + " < 1");
  }
  EXPECT_EQ(parsed(document).thresholds.size(),
            known_metrics().size() * 5 + known_phase_metrics().size());
}

TEST(ScenarioMetrics, OverallListIsTheDocumentedOne) {
  const std::vector<std::string> expected = {"events",
                                             "events_per_second",
                                             "messages",
                                             "achieved_rate_ratio",
                                             "late_sends",
                                             "latency_ns.count",
                                             "latency_ns.min",
                                             "latency_ns.mean",
                                             "latency_ns.p50",
                                             "latency_ns.p90",
                                             "latency_ns.p99",
                                             "latency_ns.p99_9",
                                             "latency_ns.p99_99",
                                             "latency_ns.max",
                                             "uncorrected_latency_ns.p50",
                                             "uncorrected_latency_ns.p99",
                                             "uncorrected_latency_ns.p99_9",
                                             "uncorrected_latency_ns.max",
                                             "round_trip_ns.p50",
                                             "round_trip_ns.p99",
                                             "round_trip_ns.p99_9",
                                             "round_trip_ns.max",
                                             "registry_ns.register.p99",
                                             "registry_ns.reregister.p99",
                                             "registry_ns.deregister.p99",
                                             "loop.polls",
                                             "loop.events_per_poll",
                                             "loop.ghost_events",
                                             "loop.busy_ratio",
                                             "spurious_events",
                                             "missed_events",
                                             "ghost_events",
                                             "peer_resets_observed",
                                             "toggles",
                                             "leaks.leaked",
                                             "leaks.vanished",
                                             "leaks.zombie",
                                             "leaks.interest_drift",
                                             "leaks.token_collision",
                                             "leaks.duplicate_target",
                                             "leaks.total",
                                             "overhead_ns_per_event",
                                             "wire_latency_ns.send_to_wire.p50",
                                             "wire_latency_ns.send_to_wire.p99",
                                             "wire_latency_ns.send_to_wire.p99_9",
                                             "wire_latency_ns.send_to_wire.max",
                                             "wire_latency_ns.wire_to_dispatch.p50",
                                             "wire_latency_ns.wire_to_dispatch.p99",
                                             "wire_latency_ns.wire_to_dispatch.p99_9",
                                             "wire_latency_ns.wire_to_dispatch.max",
                                             "wire_latency_ns.clock_difference.p50",
                                             "wire_latency_ns.clock_difference.p99",
                                             "wire_latency_ns.clock_difference.p99_9",
                                             "wire_latency_ns.clock_difference.max",
                                             "capture.packets",
                                             "capture.matched_messages",
                                             "capture.kernel_drops",
                                             "capture.interface_drops",
                                             "capture.messages_over_limit",
                                             "capture.unmatched_messages",
                                             "capture.pcap_packets_left_out",
                                             "replay.bytes_sent",
                                             "replay.bytes_received",
                                             "cost.cpu_ns_per_event",
                                             "cost.syscalls_per_event",
                                             "cost.polls_per_event",
                                             "cost.registry_calls_per_event",
                                             "cost.voluntary_switches_per_event",
                                             "cost.involuntary_switches_per_event"};
  // In the catalogue's order, which is compare's: the set is what is documented.
  std::vector<std::string> known = known_metrics();
  std::sort(known.begin(), known.end());
  std::vector<std::string> documented(expected.begin(), expected.end());
  std::sort(documented.begin(), documented.end());
  EXPECT_EQ(known, documented);
}

// A phase's block has no registry timings, loop metrics, overhead or cost: the whole run has
// them.
TEST(ScenarioMetrics, PhaseListIsTheOverallOneWithoutWholeRunFigures) {
  std::vector<std::string> expected;
  for (const std::string& metric : known_metrics()) {
    if (!metric.starts_with("leaks.") && !metric.starts_with("registry_ns.") &&
        !metric.starts_with("loop.") && !metric.starts_with("cost.") &&
        metric != "overhead_ns_per_event") {
      expected.push_back(metric);
    }
  }
  EXPECT_EQ(known_phase_metrics(), expected);
}

TEST(ScenarioToString, EnumsAndErrors) {
  EXPECT_EQ(to_string(SocketKind::tcp), "tcp");
  EXPECT_EQ(to_string(SocketKind::unix_stream), "unix");
  EXPECT_EQ(to_string(SocketKind::udp), "udp");
  EXPECT_EQ(to_string(SocketKind::pipe), "pipe");
  EXPECT_EQ(to_string(TogglePattern::none), "none");
  EXPECT_EQ(to_string(TogglePattern::readable_writable), "readable_writable");
  EXPECT_EQ(to_string(TogglePattern::write_interest), "write_interest");
  EXPECT_EQ(to_string(TogglePattern::reregister_cycle), "reregister_cycle");
  EXPECT_EQ(to_string(TogglePattern::deregister_cycle), "deregister_cycle");
  EXPECT_EQ(to_string(Comparison::less), "<");
  EXPECT_EQ(to_string(Comparison::less_equal), "<=");
  EXPECT_EQ(to_string(Comparison::greater), ">");
  EXPECT_EQ(to_string(Comparison::greater_equal), ">=");
  EXPECT_EQ(to_string(Comparison::equal), "==");
  EXPECT_EQ((Problem{"a.json", "/phases/0/load/mode", "bad"}.to_string()),
            "a.json: /phases/0/load/mode: bad");
  EXPECT_EQ((Problem{"a.json", "", "bad"}.to_string()), "a.json: bad");
}

// A reason quotes what it got as JSON, so that it stays one line; long values are cut.
TEST(ScenarioParse, ReasonsStayOnOneShortLine) {
  json document = minimal();
  document["sockets"]["kind"] = "tc\np\x01" + std::string(500, 'x');
  const Problem error = error_of(document);
  EXPECT_EQ(error.path, "/sockets/kind");
  EXPECT_NE(error.reason.find(R"(got "tc\np\u0001xxx)"), std::string::npos) << error.reason;
  EXPECT_LT(error.reason.size(), 200u);
  EXPECT_EQ(error.to_string().find('\n'), std::string::npos);
}

// A document built in code may nest deeper than a file may (files.hpp): it is cut, not dumped.
TEST(MessageText, AValueOfAnyDepthIsShownCut) {
  json deep = json::array();
  json* innermost = &deep;
  for (int level = 0; level < 100'000; ++level) {
    innermost = &innermost->emplace_back(json::array());
  }
  EXPECT_EQ(shown(deep), std::string(64, '[') + "...");
  EXPECT_EQ(shown(json::object({{"a", json::array({1, "b"})}})), R"({"a":[1,"b"]})");
}

TEST(MessageText, KeysFileNamesAndParserExcerptsStayOneLine) {
  EXPECT_EQ(json_child("", "bogus\nkey"), "/bogus\\x0akey");
  EXPECT_EQ(json_child("/a", "x/y~\x1b"), "/a/x~1y~0\\x1b");
  EXPECT_EQ((Problem{"a\nb.json", "/k", "last read: '\"t\xff'"}.to_string()),
            "a\\x0ab.json: /k: last read: '\"t\\xff'");
  // Valid UTF-8 and backslashes stay; C1 controls are escaped like C0 ones.
  EXPECT_EQ(one_line_text("caf\xc3\xa9 \\n \xc2\x9b"), "caf\xc3\xa9 \\n \\u009b");
  EXPECT_EQ(terminal_text("a\\b \xed\xa0\x80"), "a\\\\b \\xed\\xa0\\x80");
}

// Documents built in code can hold what JSON text cannot (NaN, infinities, invalid UTF-8,
// binary): still an error, never an exception.
TEST(ScenarioParse, NeverThrows) {
  const json odd_values[] = {nullptr,
                             true,
                             -1,
                             0,
                             1.5,
                             1e300,
                             -1e300,
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             "x",
                             "\xff\xfe",
                             json::array(),
                             json::object(),
                             json::binary({1, 2, 3}),
                             json::array({1, "a"}),
                             json::object({{"\xff", 1}})};
  const json document = full();
  std::vector<json::json_pointer> pointers;
  const json leaves = document.flatten();
  for (const auto& [pointer, unused] : leaves.items()) {
    // Every leaf and every container above it.
    for (json::json_pointer at(pointer); !at.empty(); at = at.parent_pointer()) {
      pointers.push_back(at);
    }
  }
  std::size_t rejected = 0;
  for (const auto& pointer : pointers) {
    for (const json& value : odd_values) {
      json changed = document;
      changed[pointer] = value;
      std::variant<Scenario, Problem> result;
      EXPECT_NO_THROW(result = parse_scenario(changed, "odd.json")) << pointer.to_string();
      if (const auto* error = std::get_if<Problem>(&result)) {
        ++rejected;
        EXPECT_EQ(error->reason.find("internal error"), std::string::npos) << error->to_string();
        EXPECT_EQ(error->to_string().find('\n'), std::string::npos);
      }
    }
  }
  EXPECT_GT(rejected, pointers.size());
}

TEST(ScenarioParse, NonFiniteNumbersAreNamedAsSuch) {
  json document = minimal();
  document["workers"] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(error_of(document).reason, "expected an integer, got a non-finite number");
  document = minimal();
  document["phases"][0]["load"] = {{"mode", "open"},
                                   {"rate_per_second", std::numeric_limits<double>::quiet_NaN()}};
  EXPECT_NE(error_of(document).reason.find("got a non-finite number"), std::string::npos);
}

// A file under the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content)
      : path_(fs::path(testing::TempDir()) /
              ("pollscope_scenario_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { fs::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

Problem load_error(const std::string& path) {
  auto result = load_scenario(path);
  if (const auto* error = std::get_if<Problem>(&result)) return *error;
  ADD_FAILURE() << "accepted: " << path;
  return {};
}

TEST(ScenarioLoad, MissingFile) {
  const Problem error = load_error("/nonexistent/pollscope.json");
  EXPECT_EQ(error.to_string(),
            "/nonexistent/pollscope.json: cannot read: No such file or directory");
}

TEST(ScenarioLoad, Directory) {
  const Problem error = load_error(testing::TempDir());
  EXPECT_EQ(error.path, "");
  EXPECT_EQ(error.reason, "not a regular file (a directory): give a file, or - for stdin");
}

TEST(ScenarioLoad, MalformedJsonGivesTheParserPosition) {
  const TempFile file("malformed.json", "{\n  \"format\": 1,\n  \"name\": }\n");
  const Problem error = load_error(file.path());
  EXPECT_EQ(error.subject, file.path());
  EXPECT_EQ(error.path, "");
  EXPECT_TRUE(error.reason.starts_with("not valid JSON: parse error at line 3, column 11"))
      << error.reason;
  EXPECT_EQ(error.reason.find("json.exception"), std::string::npos) << error.reason;
}

TEST(ScenarioLoad, EmptyAndBlankFiles) {
  const TempFile empty("empty.json", "");
  EXPECT_EQ(load_error(empty.path()).to_string(),
            empty.path() + ": not valid JSON: the file is empty");
  const TempFile blank("blank.json", " \n\t\r\n");
  EXPECT_EQ(load_error(blank.path()).to_string(),
            blank.path() + ": not valid JSON: the file holds only white space");
}

// A hostile file cannot overflow the stack: it is refused as it is parsed, past 64 levels.
TEST(ScenarioLoad, DeeplyNestedDocument) {
  constexpr int kDepth = 200000;
  const TempFile file("deep.json", R"({"format": 1, "deep": )" + std::string(kDepth, '[') +
                                       std::string(kDepth, ']') + "}");
  const Problem error = load_error(file.path());
  EXPECT_EQ(error.path, "");
  EXPECT_EQ(error.reason, "nested deeper than 64 levels");
}

TEST(ScenarioLoad, NumberTooLargeForADouble) {
  const TempFile file("overflow.json", R"({"format": 1e400})");
  const Problem error = load_error(file.path());
  EXPECT_NE(error.reason.find("not valid JSON: number overflow"), std::string::npos)
      << error.reason;
}

TEST(ScenarioLoad, DuplicateKeysArePointedAt) {
  const TempFile file("duplicate.json", R"({"format": 1, "phases": [{"name": "a"},
      {"name": "b", "toggle": {"pattern": "none"}, "toggle": {}}]})");
  const Problem error = load_error(file.path());
  EXPECT_EQ(error.path, "/phases/1/toggle");
  EXPECT_EQ(error.reason, R"(duplicate key "toggle")");

  // The same key in different objects is fine (the document is then checked as usual).
  const TempFile fine("fine.json", minimal().dump(2));
  EXPECT_TRUE(std::holds_alternative<Scenario>(load_scenario(fine.path())));
}

TEST(ScenarioLoad, KeepsTheDocumentAsSource) {
  const TempFile file("source.json", full().dump(2));
  auto result = load_scenario(file.path());
  ASSERT_TRUE(std::holds_alternative<Scenario>(result));
  EXPECT_EQ(std::get<Scenario>(result).source, full());
}

using test_support::BadScenario;

std::vector<BadScenario> read_bad_scenarios_readme() {
  return test_support::read_bad_scenarios_table(bad_scenarios_dir() / "README.md");
}

TEST(ScenarioBadFiles, ReadmeListsEveryFileOnce) {
  std::set<std::string> on_disk;
  for (const auto& entry : fs::directory_iterator(bad_scenarios_dir())) {
    if (entry.path().extension() == ".json") on_disk.insert(entry.path().filename().string());
  }
  std::set<std::string> listed;
  for (const BadScenario& row : read_bad_scenarios_readme()) {
    EXPECT_TRUE(listed.insert(row.file).second) << row.file << " is listed twice";
    EXPECT_FALSE(row.fragments.empty()) << row.file;
  }
  EXPECT_EQ(listed, on_disk);
  EXPECT_GE(on_disk.size(), 14u);
}

TEST(ScenarioBadFiles, EachFailsAsTheReadmeSays) {
  const auto rows = read_bad_scenarios_readme();
  ASSERT_FALSE(rows.empty());
  for (const BadScenario& row : rows) {
    SCOPED_TRACE(row.file);
    const std::string path = (bad_scenarios_dir() / row.file).string();
    const Problem error = load_error(path);
    EXPECT_EQ(error.subject, path);
    EXPECT_EQ(error.path, row.path) << error.to_string();
    for (const std::string& fragment : row.fragments) {
      EXPECT_NE(error.reason.find(fragment), std::string::npos)
          << "missing \"" << fragment << "\" in: " << error.to_string();
    }
    const std::string expected_line = row.path.empty()
                                          ? path + ": " + error.reason
                                          : path + ": " + row.path + ": " + error.reason;
    EXPECT_EQ(error.to_string(), expected_line);
  }
}

std::map<std::string, Scenario> shipped_scenarios() {
  std::map<std::string, Scenario> scenarios;
  for (const auto& entry : fs::directory_iterator(shipped_dir())) {
    const fs::path& path = entry.path();
    if (path.extension() != ".json" || path.filename() == "scenario.schema.json") continue;
    auto result = load_scenario(path.string());
    if (const auto* error = std::get_if<Problem>(&result)) {
      ADD_FAILURE() << error->to_string();
      continue;
    }
    scenarios.emplace(path.stem().string(), std::get<Scenario>(std::move(result)));
  }
  return scenarios;
}

TEST(ScenarioShipped, AllParseAndAreNamedAfterTheirFile) {
  const auto scenarios = shipped_scenarios();
  std::set<std::string> names;
  for (const auto& [stem, scenario] : scenarios) {
    names.insert(stem);
    EXPECT_EQ(scenario.name, stem);
    EXPECT_FALSE(scenario.description.empty()) << stem;
    EXPECT_FALSE(scenario.thresholds.empty()) << stem;
  }
  for (const char* expected :
       {"default", "c10k", "bench_chain", "toggle", "ping_pong", "ping_pong_same_loop", "waker",
        "scale_100k", "udp_fan_in", "leak_injection", "replay"}) {
    EXPECT_TRUE(names.contains(expected)) << expected;
  }
}

// Each worker process holds two descriptors per pair of its share, plus its pollers' own and a
// few of its own: the shipped scenarios must fit a 20,000-descriptor limit, and run in
// seconds (scale_100k is the one allowed to set up for longer).
TEST(ScenarioShipped, FitTheDescriptorLimitAndRunInSeconds) {
  for (const auto& [stem, scenario] : shipped_scenarios()) {
    EXPECT_LE(descriptors_needed(scenario), 20000u) << stem;
    std::uint64_t milliseconds = 0;
    for (const Phase& phase : scenario.phases) milliseconds += phase.duration_ms.value_or(0);
    EXPECT_LE(milliseconds, 3000u) << stem;
  }
}

TEST(ScenarioShipped, ShapesAreTheDocumentedOnes) {
  const auto scenarios = shipped_scenarios();
  const auto texts = [](const Scenario& scenario) {
    std::vector<std::string> result;
    for (const Threshold& threshold : scenario.thresholds) result.push_back(threshold.text);
    return result;
  };
  const auto closed = [](const Phase& phase) {
    return std::holds_alternative<ClosedLoop>(phase.load);
  };
  ASSERT_EQ(scenarios.size(), 12u);

  const Scenario& quick = scenarios.at("default");
  EXPECT_EQ(quick.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(quick.sockets.count, 200u);
  EXPECT_EQ(quick.sockets.active, 20u);
  ASSERT_EQ(quick.phases.size(), 1u);
  EXPECT_EQ(quick.phases[0].duration_ms, 1500u);
  EXPECT_TRUE(closed(quick.phases[0]));
  EXPECT_EQ(texts(quick), (std::vector<std::string>{"leaks.total == 0", "missed_events == 0",
                                                    "latency_ns.p99 < 50000000"}));

  const Scenario& c10k = scenarios.at("c10k");
  EXPECT_EQ(c10k.sockets.kind, SocketKind::unix_stream);
  EXPECT_EQ(c10k.sockets.count, 10000u);
  EXPECT_EQ(c10k.sockets.active, 20u);
  EXPECT_EQ(c10k.workers, 2u);
  EXPECT_EQ(c10k.phases.at(0).duration_ms, 2000u);

  const Scenario& chain = scenarios.at("bench_chain");
  EXPECT_EQ(chain.sockets.kind, SocketKind::unix_stream);
  EXPECT_EQ(chain.sockets.count, 1000u);
  EXPECT_EQ(chain.sockets.active, 100u);
  EXPECT_EQ(chain.phases.at(0).messages, 20000u);
  EXPECT_TRUE(closed(chain.phases.at(0)));

  const Scenario& toggle = scenarios.at("toggle");
  EXPECT_EQ(toggle.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(toggle.sockets.count, 200u);
  EXPECT_EQ(toggle.sockets.active, 50u);
  ASSERT_EQ(toggle.phases.size(), 3u);
  EXPECT_EQ(toggle.phases[0].toggle.pattern, TogglePattern::readable_writable);
  EXPECT_EQ(toggle.phases[0].toggle.every_events, 1u);
  EXPECT_EQ(toggle.phases[1].toggle.pattern, TogglePattern::write_interest);
  EXPECT_EQ(toggle.phases[2].toggle.pattern, TogglePattern::deregister_cycle);
  EXPECT_EQ(toggle.phases[2].toggle.rate_per_second, 20000.0);
  EXPECT_TRUE(toggle.phases[2].leak_check);
  for (const Phase& phase : toggle.phases) EXPECT_EQ(phase.duration_ms, 1000u);

  const Scenario& ping_pong = scenarios.at("ping_pong");
  EXPECT_EQ(ping_pong.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(ping_pong.sockets.count, 1u);
  EXPECT_EQ(ping_pong.sockets.active, 1u);
  ASSERT_TRUE(closed(ping_pong.phases.at(0)));
  EXPECT_EQ(std::get<ClosedLoop>(ping_pong.phases[0].load).in_flight, 1u);
  EXPECT_EQ(ping_pong.phases[0].duration_ms, 2000u);
  EXPECT_TRUE(std::any_of(ping_pong.thresholds.begin(), ping_pong.thresholds.end(),
                          [](const Threshold& t) { return t.metric == "latency_ns.p99"; }));
  // The ping-pong people know runs across processes; the same-loop one keeps its own name.
  EXPECT_EQ(ping_pong.sockets.peer, PeerPlacement::process);
  const Scenario& same_loop = scenarios.at("ping_pong_same_loop");
  EXPECT_EQ(same_loop.sockets.peer, PeerPlacement::same_loop);
  EXPECT_EQ(same_loop.sockets.count, 1u);
  EXPECT_EQ(same_loop.phases.at(0).duration_ms, 2000u);

  const Scenario& scale = scenarios.at("scale_100k");
  EXPECT_EQ(scale.sockets.kind, SocketKind::unix_stream);
  EXPECT_EQ(scale.sockets.count, 100000u);
  EXPECT_EQ(scale.sockets.active, 100u);
  EXPECT_EQ(scale.workers, 12u);
  EXPECT_EQ(scale.phases.at(0).duration_ms, 3000u);

  const Scenario& udp = scenarios.at("udp_fan_in");
  EXPECT_EQ(udp.sockets.kind, SocketKind::udp);
  EXPECT_EQ(udp.sockets.count, 64u);
  EXPECT_EQ(udp.sockets.active, 64u);
  ASSERT_TRUE(std::holds_alternative<OpenLoop>(udp.phases.at(0).load));
  EXPECT_DOUBLE_EQ(std::get<OpenLoop>(udp.phases[0].load).rate_per_second, 20000);
  EXPECT_EQ(udp.phases[0].duration_ms, 2000u);
  EXPECT_EQ(texts(udp).at(0), "achieved_rate_ratio >= 0.9");

  // The sample pcap's six flows, one on each active pair, ending with the schedule.
  const Scenario& replay = scenarios.at("replay");
  EXPECT_EQ(replay.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(replay.sockets.active, 6u);
  const Replay* replayed = replay_of(replay.phases.at(0));
  ASSERT_NE(replayed, nullptr);
  EXPECT_EQ(replayed->pcap, "replay.pcap");
  EXPECT_EQ(replayed->speed, 1.0);
  EXPECT_EQ(replayed->trace->flows, 6u);
  EXPECT_FALSE(replay.phases[0].duration_ms.has_value());
  EXPECT_LE(planned_ms(replay.phases[0]).value_or(0), 1000u);

  const Scenario& leaks = scenarios.at("leak_injection");
  EXPECT_EQ(leaks.sockets.kind, SocketKind::tcp);
  EXPECT_EQ(leaks.sockets.count, 50u);
  EXPECT_EQ(leaks.sockets.active, 20u);
  ASSERT_EQ(leaks.phases.size(), 2u);
  EXPECT_TRUE(leaks.phases[1].leak_check);
  ASSERT_TRUE(std::holds_alternative<OpenLoop>(leaks.phases[1].load));
  EXPECT_EQ(leaks.faults.phase, "faulted");
  EXPECT_EQ(leaks.faults.leak, 3u);
  EXPECT_EQ(leaks.faults.close_before_deregister, 2u);
  EXPECT_EQ(leaks.faults.dup_then_close, 1u);
  EXPECT_EQ(leaks.faults.peer_reset, 1u);
  const auto expected = texts(leaks);
  for (const char* exact : {"leaks.leaked == 3", "leaks.vanished == 2", "leaks.zombie == 1",
                            "leaks.total == 6", "phases.faulted.peer_resets_observed == 1"}) {
    EXPECT_NE(std::find(expected.begin(), expected.end(), exact), expected.end()) << exact;
  }
}

json read_schema() {
  std::ifstream file(shipped_dir() / "scenario.schema.json");
  return json::parse(file, nullptr, false);
}

// JSON Schema patterns are ECMA-262 regular expressions, which std::regex implements: the
// schema's threshold pattern must accept exactly the metrics the parser knows.
TEST(ScenarioSchema, ThresholdPatternAgreesWithTheParser) {
  const json schema = read_schema();
  ASSERT_FALSE(schema.is_discarded());
  const std::regex pattern(
      schema.at("/properties/thresholds/items/pattern"_json_pointer).get<std::string>(),
      std::regex::ECMAScript);
  for (const std::string& metric : known_metrics()) {
    for (const char* op : {"<", "<=", ">", ">=", "=="}) {
      EXPECT_TRUE(std::regex_search(metric + " " + op + " -1.5e3", pattern)) << metric << op;
    }
  }
  for (const std::string& metric : known_phase_metrics()) {
    EXPECT_TRUE(std::regex_search("phases.a-b_1." + metric + " < 1", pattern)) << metric;
  }
  // Whether the phase has a leak check is the parser's to say: the pattern lets them through.
  for (const std::string& metric : leak_metrics()) {
    EXPECT_TRUE(std::regex_search("phases.a-b_1." + metric + " == 0", pattern)) << metric;
  }
  for (const char* wrong :
       {"leaks.total = 0", "latency.p99 < 1", "phases.a.leaks.sum == 0", "events < .5",
        "events < 1e", "events<1", "events < 1 2", "phases.A.events < 1", "events < inf",
        "phases.a.overhead_ns_per_event < 1", "latency_nsXp99 < 1"}) {
    EXPECT_FALSE(std::regex_search(std::string(wrong), pattern)) << wrong;
  }
}

// The "known: ..." list of the parser's unknown-key error, for the object at `pointer`.
std::vector<std::string> parser_keys(const json& document, const std::string& pointer) {
  json changed = document;
  changed[json::json_pointer(pointer + "/zzz")] = 1;
  const std::string reason = error_of(changed).reason;
  const std::size_t start = reason.find("(known: ");
  if (start == std::string::npos) return {};
  std::vector<std::string> keys;
  std::stringstream stream(reason.substr(start + 8, reason.size() - start - 9));
  for (std::string key; std::getline(stream, key, ',');) {
    keys.push_back(key.substr(key.find_first_not_of(' ')));
  }
  return keys;
}

std::vector<std::string> schema_keys(const json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, unused] : object.at("properties").items()) keys.push_back(key);
  return keys;
}

std::vector<std::string> sorted(std::vector<std::string> list) {
  std::sort(list.begin(), list.end());
  return list;
}

TEST(ScenarioSchema, KeysAndEnumsAgreeWithTheParser) {
  const json schema = read_schema();
  ASSERT_FALSE(schema.is_discarded());
  const json& defs = schema.at("$defs");
  json document = full();
  document["phases"][0]["load"] = {{"mode", "closed"}};
  document["phases"][1]["toggle"] = {{"pattern", "none"}};
  EXPECT_EQ(sorted(parser_keys(document, "")), sorted(schema_keys(schema)));
  EXPECT_EQ(sorted(parser_keys(document, "/sockets")),
            sorted(schema_keys(schema.at("/properties/sockets"_json_pointer))));
  EXPECT_EQ(sorted(parser_keys(document, "/phases/0")), sorted(schema_keys(defs.at("phase"))));
  EXPECT_EQ(sorted(parser_keys(document, "/phases/0/load")),
            sorted(schema_keys(defs.at("load").at("oneOf").at(0))));
  EXPECT_EQ(sorted(parser_keys(document, "/phases/1/load")),
            sorted(schema_keys(defs.at("load").at("oneOf").at(1))));
  EXPECT_EQ(sorted(parser_keys(document, "/phases/1/toggle")),
            sorted(schema_keys(defs.at("toggle"))));
  EXPECT_EQ(sorted(parser_keys(document, "/faults")),
            sorted(schema_keys(schema.at("/properties/faults"_json_pointer))));

  const auto names = [](auto... values) {
    return json::array({std::string(to_string(values))...});
  };
  EXPECT_EQ(schema.at("/properties/sockets/properties/kind/enum"_json_pointer),
            names(SocketKind::tcp, SocketKind::unix_stream, SocketKind::udp, SocketKind::pipe,
                  SocketKind::waker, SocketKind::eventfd));
  EXPECT_EQ(schema.at("/properties/sockets/properties/peer/enum"_json_pointer),
            names(PeerPlacement::same_loop, PeerPlacement::thread, PeerPlacement::process));
  EXPECT_EQ(
      defs.at("/toggle/properties/pattern/enum"_json_pointer),
      names(TogglePattern::none, TogglePattern::readable_writable, TogglePattern::write_interest,
            TogglePattern::reregister_cycle, TogglePattern::deregister_cycle));
  EXPECT_EQ(schema.at("/properties/backend/enum"_json_pointer),
            json::array({"automatic", "epoll", "poll", "io_uring"}));
  EXPECT_EQ(schema.at("/properties/format/const"_json_pointer), kScenarioFormat);
}

}  // namespace
}  // namespace pollscope
