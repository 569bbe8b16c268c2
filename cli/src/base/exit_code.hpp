#pragma once

// pollscope's exit codes, documented in `pollscope --help` and the README. Every layer that
// fails says which of these it means, through Failure (failure.hpp).

namespace pollscope {

enum ExitCode : int {
  kExitPassed = 0,           // ran, and every threshold passed
  kExitThresholdFailed = 1,  // ran, and a threshold failed
  kExitRegressed = 1,        // compare, run --baseline: a figure regressed against the baseline
  kExitInvalidInput = 2,     // bad usage, or a scenario or report that is missing or invalid
  kExitInconclusive = 4,     // ab --strict: the samples could not tell (see the README)
  kExitEnvironment = 3,      // the machine could not run it (fd limit, sockets, writing), or a
                             // failure pollscope did not foresee
  kExitInterrupted = 130,    // Ctrl-C (SIGINT) or SIGTERM: a partial report was written
};

}  // namespace pollscope
