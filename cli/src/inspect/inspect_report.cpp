#include <fmt/format.h>

#include "base/json_text.hpp"
#include "base/terminal_text.hpp"
#include "inspect/inspect.hpp"

namespace pollscope {

namespace {

nlohmann::json registration_json(const RegistrationView& registration) {
  const auto& kernel = registration.kernel;
  nlohmann::json block = {{"fd", kernel.target_fd},
                          {"events", epoll_events_text(kernel.events)},
                          {"data", kernel.data},
                          {"inode", kernel.inode.value_or(0)},
                          {"device", kernel.device.value_or(0)},
                          {"names_now", registration.names_now},
                          {"state", registration.state}};
  if (registration.state == "live_elsewhere") block["live_in"] = registration.live_in;
  return block;
}

// What the number names here; for a registration live in a process sharing the set, that too.
std::string names_text(const RegistrationView& registration) {
  auto text = registration.names_now.empty() ? "(closed)" : terminal_text(registration.names_now);
  if (registration.state != "live_elsewhere") return text;
  return fmt::format("{}; live in process {}, which shares this set", text, registration.live_in);
}

const SetHistory* history_of(const InspectOutcome& outcome, const EpollSetView& set) {
  for (const auto& history : outcome.histories) {
    if (history.pid == set.pid && history.epoll_fd == set.epoll_fd) return &history;
  }
  return nullptr;
}

double growth_per_second(const SetHistory& history) {
  const double span = history.times_s.back() - history.times_s.front();
  if (span <= 0) return 0;
  return finite_or_zero(
      (static_cast<double>(history.sizes.back()) - static_cast<double>(history.sizes.front())) /
      span);
}

nlohmann::json set_json(const InspectOutcome& outcome, const EpollSetView& set) {
  nlohmann::json block = {{"fd", set.epoll_fd},
                          {"size", set.registrations.size()},
                          {"compared_by_inode", set.compared_by_inode},
                          {"registrations", nlohmann::json::array()}};
  for (const auto& registration : set.registrations)
    block["registrations"].push_back(registration_json(registration));
  if (const auto* history = history_of(outcome, set)) {
    block["sizes"] = history->sizes;
    block["sample_times_s"] = history->times_s;
    block["growth_per_second"] = growth_per_second(*history);
  }
  return block;
}

}  // namespace

nlohmann::json inspect_document(const InspectOutcome& outcome) {
  nlohmann::json document = {{"format", 1},
                             {"tool", "pollscope"},
                             {"kind", "inspect"},
                             {"processes", nlohmann::json::array()}};
  for (const auto& process : outcome.processes) {
    nlohmann::json entry = {{"pid", process.files.pid},
                            {"command", process.files.command},
                            {"epoll_sets", nlohmann::json::array()}};
    for (const auto& set : process.sets) entry["epoll_sets"].push_back(set_json(outcome, set));
    document["processes"].push_back(std::move(entry));
  }
  document["unreadable_processes"] = outcome.unreadable;
  document["leaks"] = findings_block(outcome.findings);
  add_suppressions(document["leaks"], outcome.suppressions, outcome.suppressed);
  return document;
}

// A process's command and its files' names are whatever that program chose ("a\nb" is a valid
// file name and comm): escaped, so that each stays on its line and moves no cursor.
std::string inspect_text(const InspectOutcome& outcome) {
  std::string text;
  for (const auto& process : outcome.processes) {
    for (const auto& set : process.sets) {
      text +=
          fmt::format("pid {} ({}) epoll fd {}: {} registrations\n", process.files.pid,
                      terminal_text(process.files.command), set.epoll_fd, set.registrations.size());
      for (const auto& registration : set.registrations) {
        text +=
            fmt::format("  fd {:<5} {:<24} data {:<20} {:<10} {}\n", registration.kernel.target_fd,
                        epoll_events_text(registration.kernel.events), registration.kernel.data,
                        registration.state, names_text(registration));
      }
      if (const auto* history = history_of(outcome, set)) {
        text += fmt::format("  sizes {} ({:.1f} per second)\n", fmt::join(history->sizes, " "),
                            growth_per_second(*history));
      }
    }
  }
  const auto findings = outcome.findings.size();
  text += fmt::format("{} finding{} ({}{})\n", findings, findings == 1 ? "" : "s",
                      severity_tally(outcome.findings), suppressed_text(outcome.suppressed));
  return text + findings_text(outcome.findings);
}

}  // namespace pollscope
