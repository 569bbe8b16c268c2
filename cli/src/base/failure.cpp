#include "base/failure.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "base/terminal_text.hpp"

namespace pollscope {

std::string Problem::to_string() const {
  // A file name, a key or a parser's excerpt may hold a newline or bytes that are not UTF-8.
  std::string line = one_line_text(subject);
  for (const std::string* part : {&path, &reason}) {
    if (part->empty()) continue;
    if (!line.empty()) line += ": ";
    line += one_line_text(*part);
  }
  return line;
}

FailureReport report_failure(std::exception_ptr thrown) noexcept {
  try {
    try {
      std::rethrow_exception(thrown);
    } catch (const Failure& failure) {
      return {failure.code(), "pollscope: " + one_line_text(failure.what())};
    } catch (const std::bad_alloc&) {
      // Not a bug of pollscope's: the machine (or a ulimit) gave no more memory.
      return {kExitEnvironment,
              "pollscope: out of memory: the command stopped (--memory-budget bounds what a "
              "scenario keeps)"};
    } catch (const std::exception& error) {
      return {kExitEnvironment, "pollscope: internal error: " + one_line_text(error.what())};
    } catch (...) {
      return {kExitEnvironment, "pollscope: internal error: an unknown exception"};
    }
  } catch (...) {  // no memory left even for the message
    return {kExitEnvironment, {}};
  }
}

void injected_failure_point(const char* layer) {
  const char* wanted = std::getenv("POLLSCOPE_INJECT_FAILURE");
  if (wanted != nullptr && std::strcmp(wanted, layer) == 0) {
    throw std::logic_error(std::string("injected failure in ") + layer);
  }
}

}  // namespace pollscope
