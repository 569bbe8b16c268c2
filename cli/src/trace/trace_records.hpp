#pragma once

// Reading the interposer's records (the format is described in cli/interposer/records.hpp): one
// file per traced process, one line per event.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pollscope {

struct TraceRecord {
  char kind = '?';  // I C A M D V Z K G U X N E R P Q
  int epoll_fd = -1;
  int fd = -1;
  std::uint32_t events = 0;
  std::uint64_t data = 0;
  int result = 0;
  int error = 0;
  int keeper = -1;                  // Z: the descriptor that keeps the file open
                                    // K: the keeper whose close ended the zombie
                                    // N: the set's new number (epoll_fd the old)
  std::uint64_t time = 0;           // A, M, D: CLOCK_MONOTONIC ns; 0 in a log without times
  bool inherited = false;           // V, Z: a registration the parent made before a fork
  std::uint64_t count = 0;          // G: events under a zombie's token
  pid_t pid = 0;                    // I, E; P: the child's
  pid_t parent = 0;                 // I, E
  std::string executable;           // I; E, P: the program executed
                                    // (R: error holds the exec's errno; Q: fd the ring)
  std::vector<std::string> frames;  // A, M: "module@hexoffset", innermost first
};

// The records of one log's text; malformed lines (a process killed mid-write) are skipped.
[[nodiscard]] std::vector<TraceRecord> parse_trace_records(const std::string& text);

}  // namespace pollscope
