#include <cstdio>
#include <cstdlib>

#include "libpoll/result.hpp"

namespace libpoll::detail {

void bad_result_access(const std::error_code& error) noexcept {
  std::fprintf(stderr, "libpoll: value() called on a Result holding an error: %s\n",
               error.message().c_str());
  std::abort();
}

}  // namespace libpoll::detail
