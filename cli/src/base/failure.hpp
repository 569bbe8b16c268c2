#pragma once

// One way to fail. Checks that find a problem in an input describe it as a Problem (what, where,
// why); everything that stops a command travels as a Failure, which carries the exit code and
// the one-line message, and main catches it (and anything else) once.

#include <exception>
#include <string>

#include "base/exit_code.hpp"

namespace pollscope {

// What is wrong, located: "FILE: /phases/0/load/mode: expected one of ...", or, for an option,
// "--tolerance x=abc: the percent must be a number, 0 or more". to_string() escapes control
// characters and bytes that are not UTF-8 (terminal_text.hpp), so that it is one line.
struct Problem {
  std::string subject;  // the file, or the option, at fault
  std::string path;     // a JSON pointer into the file; "" for none
  std::string reason;
  [[nodiscard]] std::string to_string() const;
};

class Failure : public std::exception {
 public:
  Failure(ExitCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Failure(ExitCode code, const Problem& problem) : Failure(code, problem.to_string()) {}

  // An invalid input or usage (exit 2), located.
  static Failure invalid_input(const Problem& problem) { return {kExitInvalidInput, problem}; }
  // What the machine could not do (exit 3): the fd limit, a socket, writing a file.
  static Failure environment(std::string message) { return {kExitEnvironment, std::move(message)}; }

  [[nodiscard]] ExitCode code() const noexcept { return code_; }
  [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }

 private:
  ExitCode code_;
  std::string message_;
};

// The one line main prints for anything thrown: a Failure's own message and code; any other
// exception (a bug, or a failure nobody foresaw) as an internal error, exit 3.
struct FailureReport {
  ExitCode code;
  std::string line;  // "pollscope: ..." without the newline
};
[[nodiscard]] FailureReport report_failure(std::exception_ptr thrown) noexcept;

// A test seam: when POLLSCOPE_INJECT_FAILURE names `layer` ("scenario", "engine.thread",
// "engine.process", "outcome", "report", "compare", "io"), throws an unexpected
// std::logic_error there, so that a test can see each layer's failure reach main.
void injected_failure_point(const char* layer);

}  // namespace pollscope
