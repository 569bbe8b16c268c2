#include "repeat/repetitions.hpp"

#include <algorithm>
#include <string>

#include "figures/catalogue.hpp"

namespace pollscope {

namespace {

using Pointer = nlohmann::json::json_pointer;

// Whether the figure at `name` ("latency_ns.p99", "events") is a correctness count.
bool compared_exactly(const std::string& name) {
  const auto found = find_figure(name);
  return found && found->spec->judgement.exact;
}

// The repetition whose leak check at `at` found most, so that a leak in any is shown.
const nlohmann::json& worst_leaks(const std::vector<nlohmann::json>& reports, const Pointer& at) {
  const nlohmann::json* worst = &reports.front().at(at);
  for (const nlohmann::json& report : reports) {
    if (!report.contains(at)) continue;
    const nlohmann::json& leaks = report.at(at);
    if (leaks.value("total", 0.0) > worst->value("total", 0.0)) worst = &leaks;
  }
  return *worst;
}

// Replaces each number under `block` (found at `at` in every report) with the repetitions'
// median, or their maximum for a correctness count. `name` is the dotted name so far.
void combine_block(nlohmann::json& block, const std::vector<nlohmann::json>& reports,
                   const Pointer& at, const std::string& name) {
  for (auto& [key, value] : block.items()) {
    const Pointer child = at / key;
    const std::string child_name = name.empty() ? key : name + "." + key;
    if (key == "leaks" && value.is_object()) {
      value = worst_leaks(reports, child);
    } else if (value.is_object()) {
      combine_block(value, reports, child, child_name);
    } else if (value.is_number()) {
      std::vector<double> values;
      for (const nlohmann::json& report : reports) {
        if (report.contains(child) && report.at(child).is_number()) {
          values.push_back(report.at(child).get<double>());
        }
      }
      const bool integral = !value.is_number_float();
      const double combined = compared_exactly(child_name)
                                  ? *std::max_element(values.begin(), values.end())
                                  : median_of(values, integral);
      if (value.is_number_unsigned()) {
        value = static_cast<std::uint64_t>(combined);
      } else if (value.is_number_integer()) {
        value = static_cast<std::int64_t>(combined);
      } else {
        value = combined;
      }
    }
  }
}

void combine_thresholds(nlohmann::json& combined, const std::vector<nlohmann::json>& reports) {
  auto& thresholds = combined["thresholds"];
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    std::vector<double> actuals;
    bool passed = true;
    for (const nlohmann::json& report : reports) {
      const nlohmann::json& threshold = report.at("thresholds").at(i);
      actuals.push_back(threshold.at("actual").get<double>());
      passed = passed && threshold.at("pass").get<bool>();
    }
    thresholds[i]["actual"] = median_of(actuals);
    thresholds[i]["pass"] = passed;
  }
}

std::string combined_verdict(const std::vector<nlohmann::json>& reports) {
  std::string verdict = "pass";
  for (const nlohmann::json& report : reports) {
    const std::string one = report.value("verdict", "pass");
    if (one == "interrupted") return one;
    if (one == "fail") verdict = one;
  }
  return verdict;
}

nlohmann::json repetition_of(const nlohmann::json& report) {
  return {{"start_time", report.at("context").value("start_time", "")},
          {"phases", report.at("phases")},
          {"overall", report.at("overall")},
          {"leaks", report.at("leaks")},
          {"thresholds", report.at("thresholds")},
          {"verdict", report.at("verdict")}};
}

}  // namespace

double median_of(std::vector<double>& values, bool integral) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  if (values.size() % 2 || integral) return values[(values.size() - 1) / 2];
  return (values[middle - 1] + values[middle]) / 2;
}

nlohmann::json combine_repetitions(const std::vector<nlohmann::json>& reports) {
  nlohmann::json combined = reports.front();
  combine_block(combined["overall"], reports, Pointer("/overall"), "");
  auto& phases = combined["phases"];
  for (std::size_t i = 0; i < phases.size(); ++i) {
    combine_block(phases[i], reports, Pointer("/phases") / i, "");
  }
  combined["leaks"] = worst_leaks(reports, Pointer("/leaks"));
  combine_thresholds(combined, reports);
  combined["verdict"] = combined_verdict(reports);
  combined["interrupted"] = combined["verdict"] == "interrupted";
  combined["repetitions"] = nlohmann::json::array();
  for (const nlohmann::json& report : reports) {
    combined["repetitions"].push_back(repetition_of(report));
  }
  return combined;
}

}  // namespace pollscope
