// The checker's readers of JSON values, and the document's top level.

#include <cmath>

#include "scenario/checker.hpp"

namespace pollscope::scenario_check {

// Scenario and phase names end up in file names, report keys and "phases.<name>.<metric>", so
// they hold no dot, space or slash.
bool is_identifier(std::string_view text) {
  return !text.empty() && text.size() <= kMaxIdentifier &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
         });
}

// True for an integer, or a number written with a fraction or exponent whose value is whole
// (1.0, 1e3): JSON Schema's "integer" accepts those too.
bool is_integral(const json& value) {
  if (value.is_number_integer()) return true;  // unsigned ones too
  if (!value.is_number_float()) return false;
  const double number = value.get<double>();
  return std::isfinite(number) && number == std::trunc(number);
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// The threshold VALUE grammar, the same as the schema's pattern: JSON's number syntax, except
// that leading zeros are allowed. std::from_chars alone would also take "inf", "nan" and ".5".
bool is_number_text(std::string_view text) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (!digits()) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

bool Checker::expect_object(const json& value, const std::string& path) {
  if (value.is_object()) return true;
  return fail(path, fmt::format("expected an object, got {}", describe(value)));
}

bool Checker::check_keys(const json& object, const std::string& path,
                         std::span<const std::string_view> known) {
  for (const auto& [key, unused] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return fail(json_child(path, key),
                  fmt::format("unknown key {} (known: {})", quote(key), join(known, ", ")));
    }
  }
  return true;
}

bool Checker::require(const json& object, const std::string& path, std::string_view key) {
  if (object.contains(std::string(key))) return true;
  return fail(path, fmt::format("missing required key {}", quote(key)));
}

bool Checker::read_integer(const json& value, const std::string& path, std::uint64_t low,
                           std::uint64_t high, std::uint64_t* out) {
  const auto out_of_range = [&] {
    return fail(path, fmt::format("must be between {} and {}, got {}", low, high, shown(value)));
  };
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (number < low || number > high) return out_of_range();
    *out = number;
    return true;
  }
  if (value.is_number_integer()) {  // built in C++ (json(5)), or negative when parsed
    const auto number = value.get<std::int64_t>();
    if (number < 0) return out_of_range();
    const auto positive = static_cast<std::uint64_t>(number);
    if (positive < low || positive > high) return out_of_range();
    *out = positive;
    return true;
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (!std::isfinite(number) || number != std::trunc(number)) {
      return fail(path, fmt::format("expected an integer, got {}", shown(value)));
    }
    // Compared as doubles before any conversion, so that 1e300 cannot overflow the cast; the
    // bounds (at most 10^12) are exact in a double.
    if (number < static_cast<double>(low) || number > static_cast<double>(high)) {
      return out_of_range();
    }
    *out = static_cast<std::uint64_t>(number);
    return true;
  }
  return fail(path, fmt::format("expected an integer, got {}", describe(value)));
}

bool Checker::read_string(const json& value, const std::string& path, std::string* out) {
  if (!value.is_string()) {
    return fail(path, fmt::format("expected a string, got {}", describe(value)));
  }
  *out = value.get<std::string>();
  return true;
}

bool Checker::read_identifier(const json& value, const std::string& path, std::string* out) {
  if (!read_string(value, path, out)) return false;
  if (is_identifier(*out)) return true;
  return fail(path, fmt::format("must be 1 to {} characters of a-z, 0-9, _ and -, got {}",
                                kMaxIdentifier, shown(value)));
}

bool Checker::check_format(const json& document) {
  const auto found = document.find("format");
  if (found == document.end()) {
    return fail("", fmt::format("missing required key \"format\" (this pollscope reads {})",
                                kScenarioFormat));
  }
  if (!is_integral(*found)) {
    return fail("/format", fmt::format("expected an integer, got {}",
                                       found->is_number() ? shown(*found) : describe(*found)));
  }
  if (*found != kScenarioFormat) {
    return fail("/format", fmt::format("unsupported format {} (this pollscope reads {})",
                                       shown(*found), kScenarioFormat));
  }
  return true;
}

bool Checker::check(const json& document, Scenario* scenario) {
  if (!document.is_object()) {
    return fail("", fmt::format("the document must be a JSON object, got {}", describe(document)));
  }
  // The format first: a newer format may have keys this one does not know.
  if (!check_format(document)) return false;
  if (!check_keys(document, "", kTopKeys)) return false;
  for (std::string_view key : {"name", "description", "sockets", "phases"}) {
    if (!require(document, "", key)) return false;
  }

  if (!read_identifier(document.at("name"), "/name", &scenario->name)) return false;
  if (!read_string(document.at("description"), "/description", &scenario->description)) {
    return false;
  }
  // `pollscope scenarios` lists one line per scenario.
  if (scenario->description.empty() ||
      scenario->description.find_first_of("\r\n") != std::string::npos) {
    return fail("/description", "must be one non-empty line");
  }
  if (const auto found = document.find("backend"); found != document.end()) {
    if (!read_enum(*found, "/backend", kBackends, &scenario->backend)) return false;
  }
  if (const auto found = document.find("single_thread_polls"); found != document.end()) {
    if (!found->is_boolean()) {
      return fail("/single_thread_polls",
                  fmt::format("expected a boolean, got {}", describe(*found)));
    }
    scenario->single_thread_polls = found->get<bool>();
  }
  if (const auto found = document.find("receive_ahead"); found != document.end()) {
    if (!found->is_boolean()) {
      return fail("/receive_ahead", fmt::format("expected a boolean, got {}", describe(*found)));
    }
    scenario->receive_ahead = found->get<bool>();
  }
  if (!read_integer_member(document, "", "events_capacity", 1, 1000000,
                           &scenario->events_capacity) ||
      !read_integer_member(document, "", "workers", 1, kMaxWorkers, &scenario->workers) ||
      !read_integer_member(document, "", "threads", 1, 64, &scenario->threads)) {
    return false;
  }
  if (!check_sockets(document.at("sockets"), "/sockets", &scenario->sockets)) return false;

  if (!check_phases(document.at("phases"), scenario)) return false;

  if (const auto found = document.find("capture"); found != document.end()) {
    if (!check_capture(*found, "/capture", scenario)) return false;
  }

  if (const auto found = document.find("faults"); found != document.end()) {
    if (!check_faults(*found, "/faults", *scenario, &scenario->faults)) return false;
  }

  if (const auto found = document.find("thresholds"); found != document.end()) {
    if (!check_thresholds(*found, scenario)) return false;
  }
  scenario->format = kScenarioFormat;
  scenario->source = document;
  return true;
}

bool Checker::check_phases(const json& phases, Scenario* scenario) {
  if (!phases.is_array()) {
    return fail("/phases", fmt::format("expected an array, got {}", describe(phases)));
  }
  if (phases.empty() || phases.size() > kMaxPhases) {
    return fail("/phases",
                fmt::format("must hold 1 to {} phases, got {}", kMaxPhases, phases.size()));
  }
  scenario->phases.clear();
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const std::string path = json_child("/phases", i);
    Phase phase;
    if (!check_phase(phases.at(i), path, scenario->sockets, &phase)) return false;
    for (std::size_t j = 0; j < scenario->phases.size(); ++j) {
      if (scenario->phases[j].name == phase.name) {
        return fail(
            json_child(path, "name"),
            fmt::format("duplicate phase name {} (also /phases/{}/name)", quote(phase.name), j));
      }
    }
    scenario->phases.push_back(std::move(phase));
  }

  return true;
}

bool Checker::check_thresholds(const json& thresholds, Scenario* scenario) {
  if (!thresholds.is_array()) {
    return fail("/thresholds", fmt::format("expected an array, got {}", describe(thresholds)));
  }
  scenario->thresholds.clear();
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    Threshold threshold;
    if (!check_threshold(thresholds.at(i), json_child("/thresholds", i), scenario->phases,
                         &threshold)) {
      return false;
    }
    scenario->thresholds.push_back(std::move(threshold));
  }
  return true;
}

}  // namespace pollscope::scenario_check
