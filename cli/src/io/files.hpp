#pragma once

// The one home for pollscope's files: reading a scenario or a report, and writing a report or a
// comparison atomically. Every command goes through these.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "base/failure.hpp"

namespace pollscope {

// A JSON file as read: its text (for checks the parsed document cannot answer, such as keys
// given twice) and its document.
struct JsonFile {
  std::string text;
  nlohmann::json document;
};

// The largest scenario or report pollscope reads: refused above it, before reading.
inline constexpr std::uint64_t kMaxInputBytes = std::uint64_t{16} << 20;

// The deepest nesting of arrays and objects pollscope reads (its scenarios and reports need
// six): refused above it, so that nothing recursive meets an unbounded depth.
inline constexpr int kMaxJsonDepth = 64;

// Reads and parses `path` ("-": stdin). Anything but a regular file (a FIFO, a device, a
// directory), a file over kMaxInputBytes, a NUL byte anywhere (its offset named), a file that
// cannot be read, is empty or blank, is not JSON or nests deeper than kMaxJsonDepth is a Problem
// naming the file and the reason.
[[nodiscard]] std::variant<JsonFile, Problem> read_json_file(const std::string& path);

// What a file that is not a regular one is, for a refusal: "a directory", "a FIFO", ...
[[nodiscard]] const char* kind_of_file(unsigned mode);

// Writes `text` to `path` as OutputFile does (output.hpp): a regular file (or a symlink's target)
// through a temporary file in the same directory and a rename, so that it never holds a partial
// document; a device or FIFO directly. Throws a Failure (exit 3, or 2 for a directory or a
// missing folder) naming the file and the reason.
// `option` names the path in a refusal.
void write_atomically(const std::string& path, const std::string& text,
                      std::string_view option = "--out");

// Writes a command's JSON document: to `out_path` as write_atomically does, or to `out` when
// there is none or it is "-". A command that works long first opens an OutputFile itself.
void write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out);

}  // namespace pollscope
