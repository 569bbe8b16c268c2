#pragma once

// The one home for pollscope's files: reading a scenario or a report, and writing a report or a
// comparison atomically. Every command goes through these.

#include <iosfwd>
#include <optional>
#include <string>
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

// Reads and parses `path`. A file that cannot be read, is empty or blank, or is not JSON is a
// Problem naming the file and the reason.
[[nodiscard]] std::variant<JsonFile, Problem> read_json_file(const std::string& path);

// Writes `text` to `path` through a temporary file in the same directory and a rename, so that
// `path` never holds a partial document. Throws a Failure (exit 3) naming the file and the
// reason.
void write_atomically(const std::string& path, const std::string& text);

// Writes a command's JSON document: atomically to `out_path` when given, else to `out`.
void write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out);

}  // namespace pollscope
