// The checks of `pollscope run`'s request before anything runs: stdin read once, and the
// capture's options (--capture, --pcap-out) against the scenario and the machine.

#include <net/if.h>

#include <cerrno>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "io/output.hpp"
#include "verbs/run_parts.hpp"

namespace pollscope {

// Stdin holds one document, read once: a second reader (the baseline, or another process: a
// repetition, the run under callgrind) would find it empty, and fail as if the file were.
void check_stdin_read_once(const RunRequest& request) {
  if (request.scenario_path != "-") return;
  const auto refuse = [](const char* option) {
    return Failure::invalid_input(
        Problem{option, "", "the scenario is on stdin (-), which can be read once: give a file"});
  };
  if (request.baseline_path == "-") throw refuse("--baseline -");
  if (request.repeat > 1) throw refuse("--repeat");
  if (request.instructions) throw refuse("--instructions");
}

namespace {

// The pcap must not land where the report or the summary does: the two would be mixed in one
// file, or the second temporary file would collide with the first. stderr is refused even with
// --quiet, which still prints warnings and errors there.
void check_pcap_destination(const RunRequest& request) {
  const auto& pcap = request.pcap_out_path;
  const auto refuse = [](std::string reason) {
    return Failure::invalid_input(Problem{"--pcap-out", "", std::move(reason)});
  };
  if (same_destination(pcap, request.out_path, "--pcap-out")) {
    if (request.out_path.value_or("-") == "-") {
      throw refuse("the report already goes to stdout: give the pcap or the report a file");
    }
    throw Failure(kExitInvalidInput,
                  "--pcap-out and --out name the same file: " + *request.out_path);
  }
  if (same_destination(pcap, std::string("/dev/stderr"), "--pcap-out")) {
    throw refuse(*pcap + ": is stderr, where the summary, warnings and errors go: give it a file");
  }
}

// The interface a capture names must be one this machine has: said before anything runs, naming
// where it was given (the scenario's field or --capture), not by the first poller to open it.
void check_capture_interface(const RunRequest& request, const Scenario& scenario,
                             const std::string& file) {
  if (!scenario.capture) return;
  const std::string& name = scenario.capture->interface;
  errno = 0;
  if (::if_nametoindex(name.c_str()) != 0 || errno != ENODEV) return;
  const std::string reason = "no network interface of that name on this machine";
  if (request.capture_interface) {
    throw Failure(kExitEnvironment, Problem{"--capture " + name, "", reason});
  }
  throw Failure(kExitEnvironment, Problem{file, "/capture/interface", quote(name) + ": " + reason});
}

}  // namespace

// --capture and --pcap-out, checked against the scenario before anything runs.
void apply_capture(const RunRequest& request, Scenario& scenario) {
  const std::string file = request.scenario_path.value_or("(built-in default scenario)");
  if (request.capture_interface) {
    if (const auto unfit = capture_unfit(scenario)) {
      throw Failure::invalid_input(Problem{file, unfit->first, "--capture: " + unfit->second});
    }
    scenario.capture = CaptureSpec{*request.capture_interface};
  }
  check_capture_interface(request, scenario, file);
  if (!request.pcap_out_path) return;
  const auto refuse = [](std::string reason) {
    return Failure::invalid_input(Problem{"--pcap-out", "", std::move(reason)});
  };
  if (!scenario.capture) throw refuse("needs --capture (or the scenario's \"capture\")");
  if (request.repeat > 1 || request.instructions) {
    throw refuse("is for one run in this process, not with --repeat or --instructions");
  }
  if (scenario.workers > 1) {
    throw refuse(fmt::format("needs one worker process ({} has {}): each would capture apart", file,
                             scenario.workers));
  }
  // Each poller thread captures its own ports, and a port range past 32 ports takes in the
  // others': their packets would be written again, out of time order.
  if (scenario.threads > 1) {
    throw refuse(fmt::format("needs one poller thread ({} has {}): each captures apart", file,
                             scenario.threads));
  }
  check_pcap_destination(request);
}

}  // namespace pollscope
