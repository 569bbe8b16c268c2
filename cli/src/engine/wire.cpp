#include "engine/wire.hpp"

#include <nlohmann/json.hpp>

#include "figures/catalogue.hpp"

namespace pollscope {

namespace {

using json = nlohmann::json;

json encode_figures(const Figures& figures) {
  json data = json::object();
  for (const FigureSpec& spec : figure_catalogue()) {
    const std::string key(spec.name);
    if (const auto* count = std::get_if<Count>(&spec.reading)) data[key] = figures.**count;
    if (const auto* real = std::get_if<Real>(&spec.reading)) data[key] = figures.**real;
    if (const auto* histogram = std::get_if<Distribution>(&spec.reading)) {
      data[key] = (figures.**histogram).serialize();
    }
  }
  return data;
}

Figures decode_figures(const json& data) {
  Figures figures;
  for (const FigureSpec& spec : figure_catalogue()) {
    const std::string key(spec.name);
    if (const auto* count = std::get_if<Count>(&spec.reading)) {
      figures.** count = data.at(key).get<std::uint64_t>();
    }
    if (const auto* real = std::get_if<Real>(&spec.reading)) {
      figures.** real = data.at(key).get<double>();
    }
    if (const auto* histogram = std::get_if<Distribution>(&spec.reading)) {
      auto decoded = Histogram::deserialize(data.at(key));
      if (!decoded) throw std::runtime_error("a worker sent a malformed histogram");
      figures.** histogram = std::move(*decoded);
    }
  }
  return figures;
}

json encode_leaks(const std::vector<LeakFinding>& leaks) {
  json data = json::array();
  for (const auto& leak : leaks) {
    data.push_back(
        json::array({leak.kind, leak.fd, leak.token, leak.interest, leak.site, leak.detail}));
  }
  return data;
}

std::vector<LeakFinding> decode_leaks(const json& data) {
  std::vector<LeakFinding> leaks;
  for (const auto& leak : data) {
    leaks.push_back(LeakFinding{leak.at(0).get<std::string>(), leak.at(1).get<int>(),
                                leak.at(2).get<std::uint64_t>(), leak.at(3).get<std::string>(),
                                leak.at(4).get<std::string>(), leak.at(5).get<std::string>()});
  }
  return leaks;
}

RunOutcome decode_outcome(const json& data) {
  RunOutcome outcome;
  for (const auto& phase : data.at("phases")) {
    outcome.phases.push_back(
        {phase.at("name").get<std::string>(), decode_figures(phase.at("figures")),
         phase.at("leak_checked").get<bool>(), decode_leaks(phase.at("leaks"))});
  }
  outcome.overall = decode_figures(data.at("overall"));
  outcome.leaks = decode_leaks(data.at("leaks"));
  outcome.interrupted = data.at("interrupted").get<bool>();
  outcome.backend = data.at("backend").get<std::string>();
  outcome.clock = data.at("clock").get<std::string>();
  return outcome;
}

}  // namespace

std::string encode_outcome(const RunOutcome& outcome) {
  json data;
  data["phases"] = json::array();
  for (const auto& phase : outcome.phases) {
    data["phases"].push_back({{"name", phase.name},
                              {"figures", encode_figures(phase.figures)},
                              {"leak_checked", phase.leak_checked},
                              {"leaks", encode_leaks(phase.leaks)}});
  }
  data["overall"] = encode_figures(outcome.overall);
  data["leaks"] = encode_leaks(outcome.leaks);
  data["interrupted"] = outcome.interrupted;
  data["backend"] = outcome.backend;
  data["clock"] = outcome.clock;
  return data.dump();
}

std::string encode_failure(const Failure& failure) {
  return json{{"error", failure.what()}, {"code", static_cast<int>(failure.code())}}.dump();
}

std::variant<RunOutcome, Failure> decode_message(const std::string& text) {
  const auto data = json::parse(text, nullptr, false);
  if (data.is_discarded() || !data.is_object()) {
    return Failure::environment("a worker process ended without a result");
  }
  try {
    if (data.contains("error")) {
      return Failure(static_cast<ExitCode>(data.at("code").get<int>()),
                     data.at("error").get<std::string>());
    }
    return decode_outcome(data);
  } catch (const std::exception& error) {
    return Failure::environment(std::string("a worker process sent a malformed result: ") +
                                error.what());
  }
}

}  // namespace pollscope
