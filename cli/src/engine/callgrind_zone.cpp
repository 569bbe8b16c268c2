#include "engine/callgrind_zone.hpp"

#if defined(POLLSCOPE_HAVE_CALLGRIND)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

namespace pollscope {

// Instrumentation is per process: with several poller threads, the count runs from the first
// phase that starts to the first that ends.
CallgrindZone::CallgrindZone() {
  CALLGRIND_START_INSTRUMENTATION;
}

CallgrindZone::~CallgrindZone() {
  CALLGRIND_STOP_INSTRUMENTATION;
}

}  // namespace pollscope
