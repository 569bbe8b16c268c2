#include "inspect/finding.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "base/terminal_text.hpp"

namespace pollscope {

namespace {

const char* severity_name(Severity severity) {
  return severity == Severity::kError ? "error" : "warning";
}

nlohmann::json stack_json(const std::vector<StackFrame>& stack) {
  auto frames = nlohmann::json::array();
  for (const auto& frame : stack) {
    frames.push_back({{"module", frame.module},
                      {"offset", fmt::format("0x{:x}", frame.offset)},
                      {"function", frame.function},
                      {"file", frame.file},
                      {"line", frame.line}});
  }
  return frames;
}

nlohmann::json detail_json(const Finding& finding) {
  nlohmann::json detail = {{"kind", finding.kind},
                           {"severity", severity_name(finding.severity)},
                           {"pid", finding.pid},
                           {"epoll_fd", finding.epoll_fd},
                           {"fd", finding.fd},
                           {"token", finding.token},
                           {"interest", finding.interest},
                           {"site", finding.site},
                           {"detail", finding.detail},
                           {"stack", stack_json(finding.stack)}};
  if (finding.kind == "zombie") detail["ghost_events"] = finding.ghost_events;
  return detail;
}

}  // namespace

std::string epoll_events_text(std::uint32_t events) {
  static constexpr std::pair<std::uint32_t, const char*> kNames[] = {
      {EPOLLIN, "EPOLLIN"},         {EPOLLPRI, "EPOLLPRI"},
      {EPOLLOUT, "EPOLLOUT"},       {EPOLLERR, "EPOLLERR"},
      {EPOLLHUP, "EPOLLHUP"},       {EPOLLRDNORM, "EPOLLRDNORM"},
      {EPOLLRDBAND, "EPOLLRDBAND"}, {EPOLLWRNORM, "EPOLLWRNORM"},
      {EPOLLWRBAND, "EPOLLWRBAND"}, {EPOLLMSG, "EPOLLMSG"},
      {EPOLLRDHUP, "EPOLLRDHUP"},   {EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"},
      {EPOLLWAKEUP, "EPOLLWAKEUP"}, {EPOLLONESHOT, "EPOLLONESHOT"},
      {EPOLLET, "EPOLLET"}};
  std::string text;
  for (const auto& [bit, name] : kNames) {
    if ((events & bit) == 0) continue;
    text += text.empty() ? name : std::string("|") + name;
    events &= ~bit;
  }
  if (events != 0) text += fmt::format("{}0x{:x}", text.empty() ? "" : "|", events);
  return text.empty() ? "0" : text;
}

nlohmann::json findings_block(const std::vector<Finding>& findings) {
  nlohmann::json block;
  for (const char* kind : kLeakFindingKinds) {
    block[kind] = std::count_if(findings.begin(), findings.end(),
                                [&](const Finding& finding) { return finding.kind == kind; });
  }
  block["total"] = findings.size();
  block["errors"] = count_of(findings, Severity::kError);
  block["warnings"] = count_of(findings, Severity::kWarning);
  block["details"] = nlohmann::json::array();
  for (const auto& finding : findings) block["details"].push_back(detail_json(finding));
  return block;
}

std::size_t count_of(const std::vector<Finding>& findings, Severity severity) {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(),
                    [&](const Finding& finding) { return finding.severity == severity; }));
}

std::string severity_tally(const std::vector<Finding>& findings) {
  const auto errors = count_of(findings, Severity::kError);
  const auto warnings = count_of(findings, Severity::kWarning);
  return fmt::format("{} error{}, {} warning{}", errors, errors == 1 ? "" : "s", warnings,
                     warnings == 1 ? "" : "s");
}

// A detail names the other program's files, and a site its functions and source files: escaped,
// so that a name holding a newline cannot start a line of its own.
std::string findings_text(const std::vector<Finding>& findings) {
  std::string text;
  for (const auto& finding : findings) {
    if (finding.epoll_fd < 0 && finding.fd < 0) {  // a process's, not a set's
      text += fmt::format("  {} {}: pid {}: {}\n", severity_name(finding.severity), finding.kind,
                          finding.pid, terminal_text(finding.detail));
      continue;
    }
    text +=
        fmt::format("  {} {}: pid {} epoll fd {} fd {} token {} ({}): {}\n",
                    severity_name(finding.severity), finding.kind, finding.pid, finding.epoll_fd,
                    finding.fd, finding.token, finding.interest, terminal_text(finding.detail));
    if (!finding.site.empty()) {
      text += fmt::format("      registered at {}\n", terminal_text(finding.site));
    }
  }
  return text;
}

}  // namespace pollscope
