#include "bad_scenarios_table.hpp"

#include <fstream>
#include <sstream>

namespace pollscope::test_support {

namespace {

// The `quoted` parts of a table cell.
std::vector<std::string> backquoted(const std::string& cell) {
  std::vector<std::string> parts;
  for (std::size_t start = cell.find('`'); start != std::string::npos;) {
    const std::size_t end = cell.find('`', start + 1);
    if (end == std::string::npos) break;
    parts.push_back(cell.substr(start + 1, end - start - 1));
    start = cell.find('`', end + 1);
  }
  return parts;
}

}  // namespace

std::vector<BadScenario> read_bad_scenarios_table(const std::filesystem::path& readme) {
  std::ifstream file(readme);
  std::vector<BadScenario> rows;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    std::stringstream stream(line.substr(1));
    for (std::string cell; std::getline(stream, cell, '|');) cells.push_back(cell);
    if (cells.size() < 3) continue;
    const auto name = backquoted(cells[0]);
    const auto path = backquoted(cells[1]);
    if (name.size() != 1 || path.size() > 1) continue;
    rows.push_back({name[0], path.empty() ? "" : path[0], backquoted(cells[2])});
  }
  return rows;
}

}  // namespace pollscope::test_support
