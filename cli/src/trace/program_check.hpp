#pragma once

// Whether LD_PRELOAD can see a program's calls at all. A statically linked program has no
// dynamic loader to load the interposer; a Go program makes its system calls itself, not
// through the C library. Both would be traced as clean, so they are refused instead.

#include <optional>
#include <string>

namespace pollscope {

// The file a command runs: `name` itself when it has a slash, else its PATH entry; a script's
// interpreter (#!, through /usr/bin/env too) stands for the script.
[[nodiscard]] std::optional<std::string> program_file(const std::string& name);

// Why `path` cannot be traced, or nothing when it can.
[[nodiscard]] std::optional<std::string> untraceable_reason(const std::string& path);

}  // namespace pollscope
