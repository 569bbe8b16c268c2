#include "base/failure.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace pollscope {

std::string Problem::to_string() const {
  std::string line = subject;
  for (const std::string* part : {&path, &reason}) {
    if (part->empty()) continue;
    if (!line.empty()) line += ": ";
    line += *part;
  }
  return line;
}

FailureReport report_failure(std::exception_ptr thrown) noexcept {
  try {
    try {
      std::rethrow_exception(thrown);
    } catch (const Failure& failure) {
      return {failure.code(), std::string("pollscope: ") + failure.what()};
    } catch (const std::exception& error) {
      return {kExitEnvironment, std::string("pollscope: internal error: ") + error.what()};
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
