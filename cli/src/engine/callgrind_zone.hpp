#pragma once

// The measured phase, marked for callgrind: under `valgrind --tool=callgrind --instr-atstart=no`
// (what `pollscope run --instructions` starts), instructions are counted only while a zone is
// alive, so set-up, connection and teardown stay out of the count. Outside valgrind, and in a
// build without valgrind's headers, a zone costs one branch.

namespace pollscope {

class CallgrindZone {
 public:
  CallgrindZone();
  ~CallgrindZone();
  CallgrindZone(const CallgrindZone&) = delete;
  CallgrindZone& operator=(const CallgrindZone&) = delete;
};

}  // namespace pollscope
