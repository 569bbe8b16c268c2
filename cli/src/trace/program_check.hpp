#pragma once

// Whether LD_PRELOAD can see a program's calls at all. A statically linked program has no
// dynamic loader to load the interposer; a Go program makes its system calls itself, not
// through the C library. Both would be traced as clean, so they are refused instead.

#include <sys/types.h>

#include <optional>
#include <string>

#include "inspect/finding.hpp"

namespace pollscope {

// The file a command runs (its program_name): `name` itself when it has a slash, else its PATH
// entry; a script's interpreter (#!, through /usr/bin/env too) stands for the script.
[[nodiscard]] std::optional<std::string> program_file(const std::string& name);

// `program` under the one name its file has, as the kernel names a running program
// (/proc/PID/exe): absolute, with ".", ".." and symbolic links resolved, so that a program run
// as /dir/./prog, dir/../dir/prog or ./prog is reported once, under one name. A name without a
// slash is first looked up in PATH (as exec_obstacle does); unchanged when it is not found there.
[[nodiscard]] std::string program_name(const std::string& program);

// Why `path` cannot be traced, or nothing when it can.
[[nodiscard]] std::optional<std::string> untraceable_reason(const std::string& path);

// Why `program` (a path, or a name searched in PATH), executed by a traced process, did not load
// the interposer, as far as its file tells: "is statically linked: ...", "is set-user-ID: ...",
// or a general reason.
[[nodiscard]] std::string exec_obstacle(const std::string& program);

// The `untraced` error for `pid`, which `how` ("executed", "spawned as") `program` without
// loading the interposer: nothing it did was traced, so the run cannot be called clean.
[[nodiscard]] Finding untraced_finding(pid_t pid, const std::string& program, const char* how);

}  // namespace pollscope
