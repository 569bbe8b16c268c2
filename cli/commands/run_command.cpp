#include <iostream>
#include <memory>

#include "commands.hpp"
#include "verbs/verbs.hpp"

namespace pollscope::commands {

void add_run(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "run", "Run a scenario (the built-in default one without a file) and report as JSON");
  auto request = std::make_shared<RunRequest>();
  auto scenario = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto backend = std::make_shared<std::string>();
  command->add_option("scenario", *scenario, "Scenario file (JSON); see `pollscope scenarios`")
      ->check(not_empty());
  command
      ->add_option("--out,-o", *out,
                   "Write the report to this file (atomically; a device, FIFO or /dev/stdout "
                   "directly; - for stdout)")
      ->check(not_empty());
  command->add_option("--backend", *backend, "Override the scenario's backend")
      ->check(CLI::IsMember({"epoll", "poll", "io_uring"}));
  command->add_flag("--single-thread-polls", request->single_thread_polls,
                    "Make each poller thread's Poll single-threaded (on io_uring, a ring bound "
                    "to its thread), whatever the scenario's single_thread_polls says");
  command->add_flag("--receive-ahead", request->receive_ahead,
                    "Make each poller thread's Poll receive ahead (on io_uring, streams read by "
                    "the kernel as data arrives), whatever the scenario's receive_ahead says");
  add_memory_budget(*command, request->memory_budget_mib);
  auto capture = std::make_shared<std::string>();
  auto* capture_option =
      command
          ->add_option("--capture", *capture,
                       "Capture the run's own TCP/UDP packets on IFACE (default lo; before the "
                       "scenario file, write --capture=IFACE): wire latencies and capture "
                       "statistics in the report; needs root or CAP_NET_RAW")
          ->expected(0, 1);
  auto pcap_out = std::make_shared<std::string>();
  command
      ->add_option("--pcap-out", *pcap_out,
                   "With a capture: write its packets to this pcap file (tcpdump -r, Wireshark)")
      ->allow_extra_args(false)
      ->check(not_empty());
  command
      ->add_option("--repeat", request->repeat,
                   "Run the scenario N times, each a fresh process; report every repetition "
                   "and their medians")
      ->check(CLI::Range(1, 1000));
  command->add_flag("--instructions", request->instructions,
                    "Run under valgrind's callgrind and report instructions per event of the "
                    "measured phases");
  command->add_flag("--quiet,-q", request->quiet, "No progress line and no summary on stderr");
  auto baseline = std::make_shared<std::string>();
  auto* baseline_option =
      command
          ->add_option(
              "--baseline", *baseline,
              "Compare the report with this one (an earlier run's); a regression fails the run")
          ->check(not_empty());
  command
      ->add_option("--tolerance", request->compare.tolerances,
                   "With --baseline: METRIC=PERCENT, how much worse METRIC may get (repeatable)")
      ->allow_extra_args(false)
      ->needs(baseline_option);
  command
      ->add_option("--metric", request->compare.metrics,
                   "With --baseline: compare only these figures (repeatable)")
      ->allow_extra_args(false)
      ->needs(baseline_option);
  command
      ->add_flag("--allow-different-scenario", request->compare.allow_different_scenario,
                 "With --baseline: accept a baseline of another scenario")
      ->needs(baseline_option);
  command->callback([=, &exit_code] {
    if (!scenario->empty()) request->scenario_path = *scenario;
    if (!baseline->empty()) request->baseline_path = *baseline;
    if (!out->empty()) request->out_path = *out;
    if (!backend->empty()) request->backend = libpoll::parse_backend(*backend);
    if (capture_option->count() > 0)
      request->capture_interface = capture->empty() ? "lo" : *capture;
    if (!pcap_out->empty()) request->pcap_out_path = *pcap_out;
    exit_code = run_command(*request, std::cout, std::cerr);
  });
}

}  // namespace pollscope::commands
