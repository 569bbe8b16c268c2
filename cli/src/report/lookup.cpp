#include "report/lookup.hpp"

#include <algorithm>

#include "base/json_text.hpp"
#include "figures/catalogue.hpp"

namespace pollscope {

namespace {

constexpr std::string_view kPhasePrefix = "phases.";

// The block a figure's path starts from: its phase, "overall", or (for a leak check's counts,
// whose names start with "leaks.") the report itself.
FigureLookup block_of(const nlohmann::json& report, std::string_view& name) {
  FigureLookup found;
  if (name.starts_with(kPhasePrefix)) {
    const auto dot = name.find('.', kPhasePrefix.size());
    found.pointer = "/phases";
    if (dot == std::string_view::npos) return found;
    const auto phase = name.substr(kPhasePrefix.size(), dot - kPhasePrefix.size());
    const nlohmann::json& phases = report.at("phases");
    for (std::size_t index = 0; index < phases.size(); ++index) {
      if (phases[index].at("name").get_ref<const std::string&>() == phase) {
        found.node = &phases[index];
        found.pointer = json_child("/phases", index);
        break;
      }
    }
    name.remove_prefix(dot + 1);
    return found;
  }
  const auto known = find_figure(name);
  if (known && known->spec->scope == Scope::leak_check) {
    found.node = &report;
    return found;
  }
  found.node = &report.at("overall");
  found.pointer = "/overall";
  return found;
}

}  // namespace

FigureLookup look_up(const nlohmann::json& report, std::string_view name) {
  FigureLookup found = block_of(report, name);
  while (found.node != nullptr) {
    const auto dot = name.find('.');
    const std::string key(name.substr(0, dot));
    if (!found.node->is_object()) {
      found.blocked = found.node;
      found.node = nullptr;
      return found;
    }
    const auto member = found.node->find(key);
    if (member == found.node->end()) {
      // Where the figure would be: this step and the rest.
      found.node = nullptr;
      for (std::size_t start = 0; start <= name.size();) {
        const auto end = std::min(name.find('.', start), name.size());
        found.pointer = json_child(found.pointer, name.substr(start, end - start));
        start = end + 1;
      }
      return found;
    }
    found.node = &*member;
    found.pointer = json_child(found.pointer, key);
    if (dot == std::string_view::npos) return found;
    name.remove_prefix(dot + 1);
  }
  return found;
}

std::optional<double> figure(const nlohmann::json& report, std::string_view name) {
  const FigureLookup found = look_up(report, name);
  if (found.node == nullptr) return std::nullopt;
  if (found.node->is_boolean()) return found.node->get<bool>() ? 1.0 : 0.0;
  if (!found.node->is_number()) return std::nullopt;
  return found.node->get<double>();
}

}  // namespace pollscope
