#pragma once

// Turning the interposer's "module@offset" frames into function, file and line, with libdw
// (elfutils): the module's symbol table, and its DWARF line table where it has debug info
// (in the file, or installed under /usr/lib/debug).

#include <map>
#include <memory>
#include <string>

#include "inspect/finding.hpp"

namespace pollscope {

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // One frame as recorded: "module@hexoffset" (a return address: looked up one byte earlier).
  [[nodiscard]] StackFrame frame(const std::string& recorded);

 private:
  struct Module;
  Module* module(const std::string& path);
  std::map<std::string, std::unique_ptr<Module>> modules_;
  std::map<std::string, StackFrame> frames_;
};

// "function (file:line)", or "function (module+0xoffset)" without debug info.
[[nodiscard]] std::string describe_frame(const StackFrame& frame);

}  // namespace pollscope
