#include "scenario.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "json_text.hpp"
#include "libpoll/audit.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

constexpr std::uint32_t kMaxPairs = 100000;
constexpr std::uint64_t kMaxMessages = 1000000000000;  // 10^12
constexpr double kMaxRate = 1e7;
constexpr std::uint32_t kMaxUdpPayload = 65507;  // 65535 - 8 (UDP header) - 20 (IPv4 header)
constexpr std::size_t kMaxPhases = 16;
constexpr std::size_t kMaxIdentifier = 64;

constexpr std::array<std::string_view, 11> kTopKeys = {
    "format",  "name",    "description", "backend", "events_capacity", "workers",
    "threads", "sockets", "phases",      "faults",  "thresholds"};
constexpr std::array<std::string_view, 3> kSocketsKeys = {"kind", "count", "active"};
constexpr std::array<std::string_view, 7> kPhaseKeys = {
    "name", "duration_ms", "messages", "load", "payload_bytes", "toggle", "leak_check"};
constexpr std::array<std::string_view, 3> kLoadKeys = {"mode", "in_flight", "rate_per_second"};
constexpr std::array<std::string_view, 2> kClosedKeys = {"mode", "in_flight"};
constexpr std::array<std::string_view, 2> kOpenKeys = {"mode", "rate_per_second"};
constexpr std::array<std::string_view, 3> kToggleKeys = {"pattern", "every_events",
                                                         "rate_per_second"};
constexpr std::array<std::string_view, 5> kFaultsKeys = {"leak", "close_before_deregister",
                                                         "dup_then_close", "peer_reset", "phase"};
constexpr double kMaxToggleRate = 1e6;

constexpr std::array kSocketKinds = {SocketKind::tcp, SocketKind::unix_stream, SocketKind::udp,
                                     SocketKind::pipe};
constexpr std::array kTogglePatterns = {
    TogglePattern::none, TogglePattern::readable_writable, TogglePattern::write_interest,
    TogglePattern::reregister_cycle, TogglePattern::deregister_cycle};
constexpr std::array kBackends = {libpoll::Backend::automatic, libpoll::Backend::epoll,
                                  libpoll::Backend::poll};
constexpr std::array kComparisons = {Comparison::less, Comparison::less_equal, Comparison::greater,
                                     Comparison::greater_equal, Comparison::equal};

std::string quote(std::string_view text) {
  return shown(json(std::string(text)));
}

template <typename Range>
std::string join(const Range& items, std::string_view separator) {
  std::string result;
  for (const auto& item : items) {
    if (!result.empty()) result += separator;
    result += item;
  }
  return result;
}

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

// Levenshtein distance, to suggest the metrics nearest a misspelt one.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string nearest(std::string_view wanted, const std::vector<std::string>& candidates,
                    std::size_t how_many) {
  std::vector<std::pair<std::size_t, std::size_t>> ranked;  // (distance, index): stable ties
  ranked.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ranked.emplace_back(edit_distance(wanted, candidates[i]), i);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < ranked.size() && i < how_many; ++i) {
    names.push_back(candidates[ranked[i].second]);
  }
  return join(names, ", ");
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

struct Failure {
  std::string path;
  std::string reason;
};

// Walks a document in the documented order and stops at the first mistake, recorded in
// `failure`. Every object's keys are checked before its values, so that a misspelt key is
// reported as such rather than as the missing key it was meant to be.
class Checker {
 public:
  bool check(const json& document, Scenario* scenario);
  [[nodiscard]] const Failure& failure() const { return failure_; }

 private:
  bool fail(std::string path, std::string reason) {
    failure_ = {std::move(path), std::move(reason)};
    return false;
  }

  bool expect_object(const json& value, const std::string& path);
  bool check_keys(const json& object, const std::string& path,
                  std::span<const std::string_view> known);
  bool require(const json& object, const std::string& path, std::string_view key);

  bool read_integer(const json& value, const std::string& path, std::uint64_t low,
                    std::uint64_t high, std::uint64_t* out);
  // Reads `object[key]` when present; `*out` keeps its default otherwise.
  template <typename T>
  bool read_integer_member(const json& object, const std::string& path, std::string_view key,
                           std::uint64_t low, std::uint64_t high, T* out) {
    const auto found = object.find(std::string(key));
    if (found == object.end()) return true;
    std::uint64_t value = 0;
    if (!read_integer(*found, json_child(path, key), low, high, &value)) return false;
    *out = static_cast<T>(value);  // `high` fits T at every call
    return true;
  }
  bool read_string(const json& value, const std::string& path, std::string* out);
  bool read_identifier(const json& value, const std::string& path, std::string* out);
  template <typename Enum, std::size_t N>
  bool read_enum(const json& value, const std::string& path, const std::array<Enum, N>& choices,
                 Enum* out);

  bool check_format(const json& document);
  bool check_sockets(const json& value, const std::string& path, Sockets* sockets);
  bool check_phase(const json& value, const std::string& path, const Sockets& sockets,
                   Phase* phase);
  bool check_load(const json& value, const std::string& path, Phase* phase);
  bool check_toggle(const json& value, const std::string& path, Toggle* toggle);
  bool check_faults(const json& value, const std::string& path, const Scenario& scenario,
                    Faults* faults);
  bool read_rate(const json& object, const std::string& path, std::string_view key, double high,
                 double* out);
  bool check_threshold(const json& value, const std::string& path, const std::vector<Phase>& phases,
                       Threshold* threshold);
  // Empty when `metric` names a report figure; otherwise why not.
  [[nodiscard]] static std::string metric_problem(std::string_view metric,
                                                  const std::vector<Phase>& phases);

  Failure failure_;
};

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

template <typename Enum, std::size_t N>
bool Checker::read_enum(const json& value, const std::string& path,
                        const std::array<Enum, N>& choices, Enum* out) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    for (Enum choice : choices) {
      if (to_string(choice) == text) {
        *out = choice;
        return true;
      }
    }
  }
  std::vector<std::string> names;
  for (Enum choice : choices) names.push_back(quote(to_string(choice)));
  return fail(path, fmt::format("expected one of {}, got {}", join(names, ", "),
                                value.is_string() ? shown(value) : describe(value)));
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
  if (!read_integer_member(document, "", "events_capacity", 1, 1000000,
                           &scenario->events_capacity) ||
      !read_integer_member(document, "", "workers", 1, 64, &scenario->workers) ||
      !read_integer_member(document, "", "threads", 1, 64, &scenario->threads)) {
    return false;
  }
  if (!check_sockets(document.at("sockets"), "/sockets", &scenario->sockets)) return false;

  const json& phases = document.at("phases");
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

  if (const auto found = document.find("faults"); found != document.end()) {
    if (!check_faults(*found, "/faults", *scenario, &scenario->faults)) return false;
  }

  scenario->thresholds.clear();
  if (const auto found = document.find("thresholds"); found != document.end()) {
    if (!found->is_array()) {
      return fail("/thresholds", fmt::format("expected an array, got {}", describe(*found)));
    }
    for (std::size_t i = 0; i < found->size(); ++i) {
      Threshold threshold;
      if (!check_threshold(found->at(i), json_child("/thresholds", i), scenario->phases,
                           &threshold)) {
        return false;
      }
      scenario->thresholds.push_back(std::move(threshold));
    }
  }
  scenario->format = kScenarioFormat;
  scenario->source = document;
  return true;
}

bool Checker::check_sockets(const json& value, const std::string& path, Sockets* sockets) {
  if (!expect_object(value, path) || !check_keys(value, path, kSocketsKeys) ||
      !require(value, path, "kind") || !require(value, path, "count")) {
    return false;
  }
  if (!read_enum(value.at("kind"), json_child(path, "kind"), kSocketKinds, &sockets->kind) ||
      !read_integer_member(value, path, "count", 1, kMaxPairs, &sockets->count)) {
    return false;
  }
  sockets->active = std::min<std::uint32_t>(sockets->count, 10);
  if (const auto found = value.find("active"); found != value.end()) {
    std::uint64_t active = 0;
    // Range-checked against the widest bound first, so that a wrong type or a negative number
    // reads as such rather than as "more than count".
    if (!read_integer(*found, json_child(path, "active"), 0, kMaxPairs, &active)) return false;
    if (active > sockets->count) {
      return fail(json_child(path, "active"),
                  fmt::format("must be at most count ({}), got {}", sockets->count, active));
    }
    sockets->active = static_cast<std::uint32_t>(active);
  }
  return true;
}

bool Checker::check_phase(const json& value, const std::string& path, const Sockets& sockets,
                          Phase* phase) {
  if (!expect_object(value, path) || !check_keys(value, path, kPhaseKeys) ||
      !require(value, path, "name") ||
      !read_identifier(value.at("name"), json_child(path, "name"), &phase->name)) {
    return false;
  }
  const bool has_duration = value.contains("duration_ms");
  const bool has_messages = value.contains("messages");
  if (has_duration && has_messages) {
    return fail(path, "has both \"duration_ms\" and \"messages\": give exactly one");
  }
  if (!has_duration && !has_messages) {
    return fail(path, "needs one of \"duration_ms\" or \"messages\" to end it");
  }
  if (has_duration) {
    std::uint32_t duration = 0;
    if (!read_integer_member(value, path, "duration_ms", 1, 3600000, &duration)) return false;
    phase->duration_ms = duration;
  } else {
    std::uint64_t messages = 0;
    if (!read_integer_member(value, path, "messages", 1, kMaxMessages, &messages)) return false;
    // Messages are counted on the active pairs: with none the phase would never end.
    if (sockets.active == 0) {
      return fail(json_child(path, "messages"),
                  "a phase that ends after a number of messages needs sockets.active > 0");
    }
    phase->messages = messages;
  }
  if (const auto found = value.find("load"); found != value.end()) {
    if (!check_load(*found, json_child(path, "load"), phase)) return false;
  }
  if (!read_integer_member(value, path, "payload_bytes", 16, 65536, &phase->payload_bytes)) {
    return false;
  }
  if (sockets.kind == SocketKind::udp && phase->payload_bytes > kMaxUdpPayload) {
    return fail(json_child(path, "payload_bytes"),
                fmt::format("a udp datagram carries at most {} bytes, got {}", kMaxUdpPayload,
                            phase->payload_bytes));
  }
  if (const auto found = value.find("toggle"); found != value.end()) {
    if (!check_toggle(*found, json_child(path, "toggle"), &phase->toggle)) return false;
  }
  if (const auto found = value.find("leak_check"); found != value.end()) {
    if (!found->is_boolean()) {
      return fail(json_child(path, "leak_check"),
                  fmt::format("expected a boolean, got {}", describe(*found)));
    }
    phase->leak_check = found->get<bool>();
  }
  return true;
}

bool Checker::check_load(const json& value, const std::string& path, Phase* phase) {
  if (!expect_object(value, path)) return false;
  // Which keys belong depends on the mode; without a valid one, the keys of either mode are
  // accepted here, so that a misspelt "mode" still reads as an unknown key.
  const auto mode = value.find("mode");
  const bool closed = mode != value.end() && *mode == "closed";
  const bool open = mode != value.end() && *mode == "open";
  std::span<const std::string_view> known = kLoadKeys;
  if (closed) known = kClosedKeys;
  if (open) known = kOpenKeys;
  if (!check_keys(value, path, known) || !require(value, path, "mode")) return false;
  if (closed) {
    ClosedLoop loop;
    if (!read_integer_member(value, path, "in_flight", 1, 1024, &loop.in_flight)) return false;
    phase->load = loop;
    return true;
  }
  if (open) {
    double rate = 0;
    if (!require(value, path, "rate_per_second") ||
        !read_rate(value, path, "rate_per_second", kMaxRate, &rate)) {
      return false;
    }
    phase->load = OpenLoop{rate};
    return true;
  }
  return fail(json_child(path, "mode"),
              fmt::format("expected one of \"closed\", \"open\", got {}",
                          mode->is_string() ? shown(*mode) : describe(*mode)));
}

bool Checker::read_rate(const json& object, const std::string& path, std::string_view key,
                        double high, double* out) {
  const json& rate = object.at(std::string(key));
  const std::string rate_path = json_child(path, key);
  if (!rate.is_number()) {
    return fail(rate_path, fmt::format("expected a number, got {}", describe(rate)));
  }
  const double number = rate.get<double>();
  if (!(number > 0 && number <= high)) {  // NaN fails too
    return fail(rate_path, fmt::format("must be greater than 0 and at most {}, got {}",
                                       static_cast<std::uint64_t>(high), shown(rate)));
  }
  *out = number;
  return true;
}

bool Checker::check_toggle(const json& value, const std::string& path, Toggle* toggle) {
  if (!expect_object(value, path) || !check_keys(value, path, kToggleKeys) ||
      !require(value, path, "pattern") ||
      !read_enum(value.at("pattern"), json_child(path, "pattern"), kTogglePatterns,
                 &toggle->pattern)) {
    return false;
  }
  if (value.contains("every_events") && value.contains("rate_per_second")) {
    return fail(path, "has both \"every_events\" and \"rate_per_second\": give at most one");
  }
  if (value.contains("rate_per_second")) {
    double rate = 0;
    if (!read_rate(value, path, "rate_per_second", kMaxToggleRate, &rate)) return false;
    toggle->rate_per_second = rate;
    return true;
  }
  return read_integer_member(value, path, "every_events", 1, 1000000, &toggle->every_events);
}

bool Checker::check_faults(const json& value, const std::string& path, const Scenario& scenario,
                           Faults* faults) {
  const Sockets& sockets = scenario.sockets;
  if (!expect_object(value, path) || !check_keys(value, path, kFaultsKeys) ||
      !read_integer_member(value, path, "leak", 0, kMaxPairs, &faults->leak) ||
      !read_integer_member(value, path, "close_before_deregister", 0, kMaxPairs,
                           &faults->close_before_deregister) ||
      !read_integer_member(value, path, "dup_then_close", 0, kMaxPairs, &faults->dup_then_close) ||
      !read_integer_member(value, path, "peer_reset", 0, kMaxPairs, &faults->peer_reset)) {
    return false;
  }
  // The audit names at most that many of them; more could not be found exactly.
  if (faults->close_before_deregister > libpoll::audit_history) {
    return fail(json_child(path, "close_before_deregister"),
                fmt::format("must be at most {} (the registrations libpoll's audit remembers "
                            "after a close), got {}",
                            libpoll::audit_history, faults->close_before_deregister));
  }
  if (faults->peer_reset > 0 && sockets.kind != SocketKind::tcp) {
    return fail(json_child(path, "peer_reset"),
                fmt::format("needs sockets.kind \"tcp\" (only TCP resets), got {}",
                            quote(to_string(sockets.kind))));
  }
  if (const auto found = value.find("phase"); found != value.end()) {
    std::string name;
    if (!read_string(*found, json_child(path, "phase"), &name)) return false;
    std::vector<std::string> names;
    for (const Phase& phase : scenario.phases) names.push_back(phase.name);
    if (!contains(names, name)) {
      return fail(json_child(path, "phase"),
                  fmt::format("unknown phase {} (phases: {})", quote(name), join(names, ", ")));
    }
    faults->phase = std::move(name);
  }
  // Each fault spoils a pair of its own, all in the first poller of the first worker (the
  // first ones get the odd pairs out): its share of the pairs must hold them.
  const std::uint64_t total = std::uint64_t{faults->leak} + faults->close_before_deregister +
                              faults->dup_then_close + faults->peer_reset;
  const std::uint64_t worker_share = (sockets.count + scenario.workers - 1) / scenario.workers;
  const std::uint64_t share = (worker_share + scenario.threads - 1) / scenario.threads;
  if (total > share) {
    const bool split = scenario.workers > 1 || scenario.threads > 1;
    return fail(path, split ? fmt::format("the faults add up to {} pairs, more than the first "
                                          "poller's share of sockets.count ({} of {})",
                                          total, share, sockets.count)
                            : fmt::format("the faults add up to {} pairs, more than "
                                          "sockets.count ({})",
                                          total, sockets.count));
  }
  return true;
}

std::string Checker::metric_problem(std::string_view metric, const std::vector<Phase>& phases) {
  constexpr std::string_view kPhasePrefix = "phases.";
  if (metric.starts_with(kPhasePrefix)) {
    const std::string_view rest = metric.substr(kPhasePrefix.size());
    const std::size_t dot = rest.find('.');
    const std::string_view phase = rest.substr(0, dot);
    std::vector<std::string> names;
    for (const Phase& p : phases) names.push_back(p.name);
    if (dot == std::string_view::npos) {
      return fmt::format("unknown metric {}: a phase's metric reads phases.<phase>.<metric>",
                         quote(metric));
    }
    if (!contains(names, phase)) {
      return fmt::format("unknown phase {} in metric {} (phases: {})", quote(phase), quote(metric),
                         join(names, ", "));
    }
    const std::string_view figure = rest.substr(dot + 1);
    if (contains(known_phase_metrics(), figure)) return {};
    if (contains(leak_metrics(), figure)) {
      const auto checked = std::find_if(phases.begin(), phases.end(), [&](const Phase& p) {
        return p.name == phase && p.leak_check;
      });
      if (checked != phases.end()) return {};
      return fmt::format(
          "unknown metric {}: phase {} has no leak check (set \"leak_check\": "
          "true)",
          quote(metric), phase);
    }
    if (contains(known_metrics(), figure)) {
      return fmt::format("unknown metric {}: {} is only measured for the whole run", quote(metric),
                         figure);
    }
    return fmt::format("unknown metric {} (valid ones include phases.{}.{})", quote(metric), phase,
                       nearest(figure, known_phase_metrics(), 4));
  }
  if (contains(known_metrics(), metric)) return {};
  return fmt::format("unknown metric {} (valid ones include {}, or phases.<phase>.<metric>)",
                     quote(metric), nearest(metric, known_metrics(), 4));
}

bool Checker::check_threshold(const json& value, const std::string& path,
                              const std::vector<Phase>& phases, Threshold* threshold) {
  if (!read_string(value, path, &threshold->text)) return false;
  std::vector<std::string_view> parts;
  const std::string_view text = threshold->text;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find(' ', start), text.size());
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() != 3) {
    return fail(path, fmt::format("expected \"METRIC OP VALUE\" such as "
                                  "\"latency_ns.p99 < 2000000\", got {}",
                                  shown(value)));
  }
  if (std::string problem = metric_problem(parts[0], phases); !problem.empty()) {
    return fail(path, std::move(problem));
  }
  threshold->metric = std::string(parts[0]);
  const auto comparison = std::find_if(kComparisons.begin(), kComparisons.end(),
                                       [&](Comparison c) { return to_string(c) == parts[1]; });
  if (comparison == kComparisons.end()) {
    return fail(path,
                fmt::format("unknown operator {} (use one of <, <=, >, >=, ==)", quote(parts[1])));
  }
  threshold->comparison = *comparison;
  double number = 0;
  const char* first = parts[2].data();
  const char* last = first + parts[2].size();
  if (!is_number_text(parts[2])) {
    return fail(path, fmt::format("{} is not a number", quote(parts[2])));
  }
  const auto [end, error] = std::from_chars(first, last, number);
  if (error != std::errc{} || end != last || !std::isfinite(number)) {
    return fail(path, fmt::format("{} is not a finite number", quote(parts[2])));
  }
  threshold->value = number;
  return true;
}

// Finds keys given twice in one object, which JSON parsers resolve differently (nlohmann keeps
// the last): in a scenario it is a mistake, such as two "phases" lists. Runs on text already
// known to be valid JSON.
class DuplicateKeyFinder final : public nlohmann::json_sax<json> {
 public:
  std::optional<Failure> duplicate;

  bool null() override { return value(); }
  bool boolean(bool /*val*/) override { return value(); }
  bool number_integer(number_integer_t /*val*/) override { return value(); }
  bool number_unsigned(number_unsigned_t /*val*/) override { return value(); }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return value(); }
  bool string(string_t& /*val*/) override { return value(); }
  bool binary(binary_t& /*val*/) override { return value(); }
  bool start_object(std::size_t /*elements*/) override {
    value();
    frames_.emplace_back().object = true;
    return true;
  }
  bool key(string_t& val) override {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(val).second) {
      duplicate =
          Failure{json_child(container_path(), val), fmt::format("duplicate key {}", quote(val))};
      return false;
    }
    frame.key = val;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    value();
    frames_.emplace_back().object = false;
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) override {
    return false;
  }

 private:
  struct Frame {
    bool object = true;
    std::string key;             // the member being read, in an object
    std::size_t next_index = 0;  // the element after the one being read, in an array
    std::set<std::string> keys;  // seen so far, in an object
  };

  // Counts an array's elements as they start, to name them in a path.
  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().next_index;
    return true;
  }

  // The pointer to the innermost open container.
  [[nodiscard]] std::string container_path() const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      path = frames_[i].object ? json_child(path, frames_[i].key)
                               : json_child(path, frames_[i].next_index - 1);
    }
    return path;
  }

  std::vector<Frame> frames_;
};

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

std::string ScenarioError::to_string() const {
  std::string line = file;
  for (const std::string* part : {&path, &reason}) {
    if (part->empty()) continue;
    if (!line.empty()) line += ": ";
    line += *part;
  }
  return line;
}

std::variant<Scenario, ScenarioError> parse_scenario(const nlohmann::json& document,
                                                     std::string_view file) {
  // Nothing below should throw (every value's type is checked before it is read); this is the
  // promise to callers that a document, however odd, gives a ScenarioError and not a crash.
  try {
    Scenario scenario;
    Checker checker;
    if (checker.check(document, &scenario)) return scenario;
    return ScenarioError{std::string(file), checker.failure().path, checker.failure().reason};
  } catch (const std::exception& error) {
    return ScenarioError{std::string(file), "", fmt::format("internal error: {}", error.what())};
  }
}

std::variant<Scenario, ScenarioError> load_scenario(const std::string& path) {
  const auto cannot_read = [&](int error) {
    return ScenarioError{path, "",
                         fmt::format("cannot read: {}", std::generic_category().message(error))};
  };
  std::string text;
  {
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) return cannot_read(errno);
    std::array<char, 16384> buffer;
    std::size_t read = 0;
    while ((read = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
      text.append(buffer.data(), read);
    }
    if (std::ferror(file.get())) return cannot_read(errno);  // a directory: EISDIR
  }
  // Said plainly: the parser would report "unexpected end of input" at some column.
  if (text.empty()) return ScenarioError{path, "", "not valid JSON: the file is empty"};
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return ScenarioError{path, "", "not valid JSON: the file holds only white space"};
  }
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& error) {
    // what() starts with "[json.exception.parse_error.101] ": the id means nothing to a user.
    std::string_view message = error.what();
    if (const std::size_t end = message.find("] ");
        message.starts_with('[') && end != message.npos) {
      message.remove_prefix(end + 2);
    }
    return ScenarioError{path, "", fmt::format("not valid JSON: {}", message)};
  }
  DuplicateKeyFinder finder;
  try {
    json::sax_parse(text, &finder);
  } catch (const json::exception&) {
    // json::parse accepted the same text: the finder cannot fail on it.
  }
  if (finder.duplicate)
    return ScenarioError{path, finder.duplicate->path, finder.duplicate->reason};
  return parse_scenario(document, path);
}

const std::vector<std::string>& known_metrics() {
  // Built once and never destroyed (no static destruction order to worry about).
  static const auto* const metrics = [] {
    auto* list = new std::vector<std::string>(known_phase_metrics());
    list->insert(list->end(), leak_metrics().begin(), leak_metrics().end());
    list->emplace_back("overhead_ns_per_event");
    return list;
  }();
  return *metrics;
}

const std::vector<std::string>& leak_metrics() {
  static const auto* const metrics = new std::vector<std::string>{
      "leaks.leaked",          "leaks.vanished",         "leaks.zombie", "leaks.interest_drift",
      "leaks.token_collision", "leaks.duplicate_target", "leaks.total"};
  return *metrics;
}

const std::vector<std::string>& known_phase_metrics() {
  static const auto* const metrics = [] {
    auto* list = new std::vector<std::string>{"events", "events_per_second", "messages",
                                              "achieved_rate_ratio", "late_sends"};
    for (const char* figure :
         {"count", "min", "mean", "p50", "p90", "p99", "p99_9", "p99_99", "max"}) {
      list->push_back(fmt::format("latency_ns.{}", figure));
    }
    for (const char* figure : {"p50", "p99", "p99_9", "max"}) {
      list->push_back(fmt::format("uncorrected_latency_ns.{}", figure));
    }
    for (const char* operation : {"register", "reregister", "deregister"}) {
      list->push_back(fmt::format("registry_ns.{}.p99", operation));
    }
    for (const char* name :
         {"loop.polls", "loop.events_per_poll", "loop.ghost_events", "loop.busy_ratio",
          "spurious_events", "missed_events", "ghost_events", "peer_resets_observed", "toggles"}) {
      list->emplace_back(name);
    }
    return list;
  }();
  return *metrics;
}

std::string_view to_string(SocketKind kind) {
  switch (kind) {
    case SocketKind::tcp:
      return "tcp";
    case SocketKind::unix_stream:
      return "unix";
    case SocketKind::udp:
      return "udp";
    case SocketKind::pipe:
      return "pipe";
  }
  return "unknown";
}

std::string_view to_string(TogglePattern pattern) {
  switch (pattern) {
    case TogglePattern::none:
      return "none";
    case TogglePattern::readable_writable:
      return "readable_writable";
    case TogglePattern::write_interest:
      return "write_interest";
    case TogglePattern::reregister_cycle:
      return "reregister_cycle";
    case TogglePattern::deregister_cycle:
      return "deregister_cycle";
  }
  return "unknown";
}

std::string_view to_string(Comparison comparison) {
  switch (comparison) {
    case Comparison::less:
      return "<";
    case Comparison::less_equal:
      return "<=";
    case Comparison::greater:
      return ">";
    case Comparison::greater_equal:
      return ">=";
    case Comparison::equal:
      return "==";
  }
  return "?";
}

}  // namespace pollscope
