// The catalogue of figures against the two JSON schemas, both ways: every figure the catalogue
// reports is in the schema where it says (with its shape), and every figure the schema has is
// in the catalogue. Then the catalogue against itself: names, rules and merges.

#include "figures/catalogue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "compare/rules.hpp"

namespace pollscope {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

json read_schema(const char* name) {
  std::ifstream file(fs::path(POLLSCOPE_SOURCE_DIR) / "cli" / name);
  return json::parse(file, nullptr, false);
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, unused] : object.items()) keys.insert(key);
  return keys;
}

// The catalogue's figures in `scopes`, as keys one level under `prefix` ("" for the block's own
// keys, "loop" for those under "loop"...).
std::set<std::string> catalogue_keys(std::initializer_list<Scope> scopes, std::string_view prefix) {
  std::set<std::string> keys;
  for (const FigureSpec& spec : figure_catalogue()) {
    if (std::find(scopes.begin(), scopes.end(), spec.scope) == scopes.end()) continue;
    std::string_view name = spec.name;
    if (!prefix.empty()) {
      if (!name.starts_with(std::string(prefix) + ".")) continue;
      name.remove_prefix(prefix.size() + 1);
    }
    keys.insert(std::string(name.substr(0, name.find('.'))));
  }
  return keys;
}

// What the schema says a figure's value is, as the catalogue's shape.
std::string shape_in_schema(const json& property) {
  const std::string ref = property.value("$ref", "");
  if (ref == "#/$defs/count") return "count";
  if (ref == "#/$defs/histogram") return "histogram";
  if (property.value("type", "") == "boolean") return "flag";
  return "real";
}

std::string shape_name(Shape shape) {
  switch (shape) {
    case Shape::count:
      return "count";
    case Shape::real:
      return "real";
    case Shape::flag:
      return "flag";
    case Shape::histogram:
      return "histogram";
  }
  return "?";
}

class ReportSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = read_schema("report.schema.json");
    ASSERT_FALSE(schema_.is_discarded());
  }
  const json& def(const char* name) const { return schema_.at("$defs").at(name); }
  json schema_;
};

TEST_F(ReportSchemaTest, PhaseFiguresAreTheCataloguesBothWays) {
  std::set<std::string> in_schema = keys_of(def("phase").at("properties"));
  in_schema.erase("name");
  in_schema.erase("leaks");  // a leak check's block: see LeakCountsAreTheCataloguesBothWays
  EXPECT_EQ(in_schema, catalogue_keys({Scope::phase_and_overall}, ""));
}

TEST_F(ReportSchemaTest, OverallFiguresAreTheCataloguesBothWays) {
  const json& properties = def("overall").at("properties");
  EXPECT_EQ(keys_of(properties), catalogue_keys({Scope::phase_and_overall, Scope::overall}, ""));
  for (const char* block : {"loop", "registry_ns"}) {
    SCOPED_TRACE(block);
    EXPECT_EQ(keys_of(properties.at(block).at("properties")),
              catalogue_keys({Scope::overall}, block));
  }
}

TEST_F(ReportSchemaTest, EachFigureHasItsShapeAndAlwaysShownOnesAreRequired) {
  const json& overall = def("overall").at("properties");
  std::set<std::string> always;
  for (const FigureSpec& spec : figure_catalogue()) {
    if (spec.scope != Scope::phase_and_overall && spec.scope != Scope::overall) continue;
    SCOPED_TRACE(std::string(spec.name));
    json::json_pointer pointer;
    std::string_view rest = spec.name;
    const json* property = &overall;
    for (;;) {
      const auto dot = rest.find('.');
      property = &property->at(std::string(rest.substr(0, dot)));
      if (dot == std::string_view::npos) break;
      if (property->contains("properties") == false && property->contains("$ref")) {  // "#/$defs/X"
        property =
            &schema_.at(json::json_pointer(property->at("$ref").get<std::string>().substr(1)));
      }
      property = &property->at("properties");
      rest.remove_prefix(dot + 1);
    }
    EXPECT_EQ(shape_in_schema(*property), shape_name(spec.shape));
    if (spec.scope == Scope::phase_and_overall && spec.shown_when == nullptr) {
      always.insert(std::string(spec.name));
    }
  }
  const auto& required = def("figure_keys").at("required");
  EXPECT_EQ(std::set<std::string>(required.begin(), required.end()), always);
}

TEST_F(ReportSchemaTest, HistogramStatisticsAreTheCataloguesBothWays) {
  const auto& required = def("histogram").at("required");
  const auto statistics = histogram_statistics();
  EXPECT_EQ(std::set<std::string>(required.begin(), required.end()),
            std::set<std::string>(statistics.begin(), statistics.end()));
}

TEST_F(ReportSchemaTest, LeakCountsAreTheCataloguesBothWays) {
  std::set<std::string> counts = keys_of(def("leaks").at("properties"));
  counts.erase("details");
  EXPECT_EQ(counts, catalogue_keys({Scope::leak_check}, "leaks"));
  std::set<std::string> kinds;
  for (const FigureSpec& spec : figure_catalogue()) {
    if (spec.scope == Scope::leak_check && !std::get<LeakKind>(spec.reading).kind.empty()) {
      kinds.insert(std::string(std::get<LeakKind>(spec.reading).kind));
    }
  }
  const auto& enumerated = def("leak_kind").at("enum");
  EXPECT_EQ(std::set<std::string>(enumerated.begin(), enumerated.end()), kinds);
}

TEST(ComparisonSchemaTest, DirectionsAreTheCataloguesBothWays) {
  const json schema = read_schema("comparison.schema.json");
  ASSERT_FALSE(schema.is_discarded());
  const auto& enumerated =
      schema.at("$defs").at("comparison_row").at("properties").at("direction").at("enum");
  EXPECT_EQ(std::set<std::string>(enumerated.begin(), enumerated.end()),
            (std::set<std::string>{std::string(to_string(Direction::higher_is_better)),
                                   std::string(to_string(Direction::lower_is_better))}));
  // The report schema carries the same comparison (run --baseline).
  const json report = read_schema("report.schema.json");
  EXPECT_EQ(report.at("$defs").at("comparison_row"), schema.at("$defs").at("comparison_row"));
}

TEST(CatalogueTest, NamesAreUniqueAndEveryThresholdNameIsFound) {
  std::set<std::string_view> names;
  for (const FigureSpec& spec : figure_catalogue()) {
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name << " is declared twice";
  }
  for (const std::string& metric : known_metrics()) {
    const auto found = find_figure(metric);
    ASSERT_TRUE(found) << metric;
    EXPECT_EQ(found->statistic.empty(), found->spec->shape != Shape::histogram) << metric;
  }
}

TEST(CatalogueTest, CorrectnessCountsTakeNoToleranceAndOthersDo) {
  for (const FigureSpec& spec : figure_catalogue()) {
    SCOPED_TRACE(std::string(spec.name));
    const Judgement rule = rule_for(spec.name);
    EXPECT_EQ(rule.exact, spec.judgement.exact);
    if (rule.exact) {
      EXPECT_EQ(rule.tolerance_percent, 0);
    } else {
      EXPECT_GT(rule.tolerance_percent, 0);
    }
  }
  EXPECT_TRUE(rule_for("phases.steady.leaks.zombie").exact);
  EXPECT_EQ(rule_for("phases.steady.latency_ns.p99_9").tolerance_percent, 500);
}

// Every stored figure merges as its rule says: counts and histograms add both ways, wall time
// adds in sequence and takes the longest side by side, a rate is time-weighted in sequence and
// adds side by side, a mean per event is weighted by events.
TEST(CatalogueTest, MergeFollowsEachFiguresRule) {
  Figures a;
  a.events = 10;
  a.seconds = 1;
  a.target_rate = 100;
  a.overhead_ns_per_event = 30;
  a.latency.record(5);
  Figures b;
  b.events = 30;
  b.seconds = 3;
  b.target_rate = 200;
  b.overhead_ns_per_event = 10;
  b.latency.record(7);
  Figures side = a;
  merge_figures(side, b, Combine::parallel);
  EXPECT_EQ(side.events, 40u);
  EXPECT_DOUBLE_EQ(side.seconds, 3);
  EXPECT_DOUBLE_EQ(side.target_rate, 300);
  EXPECT_DOUBLE_EQ(side.overhead_ns_per_event, 15);  // (10*30 + 30*10) / 40
  EXPECT_EQ(side.latency.count(), 2u);
  Figures after = a;
  merge_figures(after, b, Combine::sequential);
  EXPECT_DOUBLE_EQ(after.seconds, 4);
  EXPECT_DOUBLE_EQ(after.target_rate, 175);
}

double achieved_rate_ratio(const Figures& figures) {
  return value_of(*find_figure("achieved_rate_ratio")->spec, figures);
}

// A closed-loop phase has no target: the overall ratio counts the open-loop phases' sends against
// what they asked for, whichever way the phases and pollers merge. Before, it took every send
// over the target rate averaged over every phase's time: (10000 + 900) / 2 s / 500 = 10.9.
TEST(CatalogueTest, TheOverallRateRatioCountsOnlyTheOpenLoopPhases) {
  Figures closed;
  closed.seconds = 1;
  closed.sent = 10000;
  Figures open;
  open.seconds = 1;
  open.sent = 900;
  open.target_rate = 1000;
  open.open_loop_sent = 900;
  open.open_loop_intended = 1000;
  EXPECT_DOUBLE_EQ(achieved_rate_ratio(closed), 1.0);
  EXPECT_DOUBLE_EQ(achieved_rate_ratio(open), 0.9);
  Figures overall = closed;
  merge_figures(overall, open, Combine::sequential);
  EXPECT_EQ(overall.sent, 10900u);
  EXPECT_DOUBLE_EQ(achieved_rate_ratio(overall), 0.9);
  // A second worker, side by side, that kept pace: 1900 of the 2000 asked for in all.
  Figures other = closed;
  Figures kept_pace = open;
  kept_pace.open_loop_sent = 1000;
  merge_figures(other, kept_pace, Combine::sequential);
  merge_figures(overall, other, Combine::parallel);
  EXPECT_DOUBLE_EQ(achieved_rate_ratio(overall), 0.95);
  Figures closed_only = closed;
  merge_figures(closed_only, closed, Combine::parallel);
  EXPECT_DOUBLE_EQ(achieved_rate_ratio(closed_only), 1.0);
}

}  // namespace
}  // namespace pollscope
