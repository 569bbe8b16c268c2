#pragma once

// A deregistration leak found in another program, by `pollscope inspect` (from what the kernel
// shows) or `pollscope trace` (from the interposer's records), graded error or warning, and the
// JSON block that lists them: the shape of `pollscope run`'s leak block (a count per kind, the
// total, the details), with the kinds only another program can show and a severity added
// (cli/findings.schema.json).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pollscope {

enum class Severity { kWarning, kError };

// One frame of a registration's call site, symbolized where the module has symbols.
struct StackFrame {
  std::string module;    // the file the code is in
  std::uint64_t offset;  // its address in that file (ELF virtual address)
  std::string function;  // empty when unknown
  std::string file;      // source file, empty without debug info
  int line = 0;
};

struct Finding {
  // leaked, vanished, zombie, token_collision, duplicate_target, closed_with_registrations,
  // growing, and trace's untraced and io_uring, which concern a process, not a set
  // (kLeakFindingKinds; epoll_fd and fd -1).
  std::string kind;
  Severity severity = Severity::kWarning;
  pid_t pid = 0;
  int epoll_fd = -1;
  int fd = -1;  // the registered descriptor, or -1 when none applies
  std::uint64_t token = 0;
  std::string interest;  // the event mask, decoded ("EPOLLIN|EPOLLET")
  std::string site;      // the innermost frame of the program's own code, "function (file:line)"
  std::string detail;
  std::vector<StackFrame> stack;    // trace only: where the registration was made
  std::uint64_t ghost_events = 0;   // trace, zombies: events delivered after the close
  std::uint64_t registered_at = 0;  // trace: the time of the registration's ADD (records.hpp)
};

inline constexpr const char* kLeakFindingKinds[] = {"leaked",
                                                    "vanished",
                                                    "zombie",
                                                    "interest_drift",
                                                    "token_collision",
                                                    "duplicate_target",
                                                    "closed_with_registrations",
                                                    "growing",
                                                    "untraced",
                                                    "io_uring"};

// An epoll event mask as names: "EPOLLIN|EPOLLOUT|EPOLLET"; unknown bits in hex.
[[nodiscard]] std::string epoll_events_text(std::uint32_t events);

// The findings as a leak block: {"leaked": n, ..., "total": n, "errors": n, "warnings": n,
// "details": [...]}.
[[nodiscard]] nlohmann::json findings_block(const std::vector<Finding>& findings);

// How many findings are errors, and how many warnings.
[[nodiscard]] std::size_t count_of(const std::vector<Finding>& findings, Severity severity);

// The tally for a person, in words: "1 error, 2 warnings".
[[nodiscard]] std::string severity_tally(const std::vector<Finding>& findings);

// One line per finding for a person: "error zombie pid 12 epoll fd 3 fd 7 token 7: ...".
[[nodiscard]] std::string findings_text(const std::vector<Finding>& findings);

}  // namespace pollscope
