// pollscope: load scenarios and leak checks for the libpoll readiness layer.

#include <cerrno>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "base/failure.hpp"
#include "base/terminal_text.hpp"
#include "commands/commands.hpp"
#include "libpoll/version.hpp"

int main(int argc, char** argv) {
  CLI::App app(
      "pollscope: runs load scenarios over libpoll and reports event latency, "
      "throughput and leaked registrations as JSON");
  app.set_version_flag("--version", std::string("pollscope ") + libpoll::version);
  app.require_subcommand(1);
  app.footer(
      "Exit codes:\n"
      "  0    ran, and every threshold passed (compare: nothing regressed)\n"
      "  1    ran, and a threshold failed or a figure regressed against the baseline\n"
      "       (inspect, trace: --fail-on-findings or --fail-on-warnings, and such a finding)\n"
      "  2    invalid input or usage (a bad flag, a missing or invalid scenario or report)\n"
      "  3    runtime or environment failure (descriptor limit, sockets, writing the report),\n"
      "       or an internal error\n"
      "  4    ab --strict, compare --base --strict: inconclusive (the samples could not tell)\n"
      "  130  interrupted (Ctrl-C or SIGTERM): a partial report was written");
  int exit_code = pollscope::kExitPassed;
  pollscope::commands::add_run(app, exit_code);
  pollscope::commands::add_validate(app, exit_code);
  pollscope::commands::add_scenarios(app, exit_code);
  pollscope::commands::add_compare(app, exit_code);
  pollscope::commands::add_ab(app, exit_code);
  pollscope::commands::add_inspect(app, exit_code);
  pollscope::commands::add_trace(app, exit_code);
  // Everything that stops a command reaches here, and ends as one line and an exit code.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    // CLI11 quotes the arguments it rejects as they are: any bytes, newlines included.
    std::cerr << "pollscope: " << pollscope::one_line_text(error.what())
              << " (see pollscope --help)\n";
    return pollscope::kExitInvalidInput;
  } catch (...) {
    const auto failure = pollscope::report_failure(std::current_exception());
    std::cerr << failure.line << "\n";
    return failure.code;
  }
  // What a command printed to standard output may still be in its buffer: a full disk or a
  // closed pipe shows only at this flush, and a listing lost there is a failure, not exit 0.
  errno = 0;
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "pollscope: (stdout): cannot write: " << std::strerror(errno != 0 ? errno : EIO)
              << "\n";
    return pollscope::kExitEnvironment;
  }
  return exit_code;
}
