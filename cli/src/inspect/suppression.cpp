#include "inspect/suppression.hpp"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <variant>

#include <fmt/format.h>

#include "base/failure.hpp"
#include "io/files.hpp"

namespace pollscope {

namespace {

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

std::string known_kinds() {
  std::string kinds;
  for (const char* kind : kLeakFindingKinds) kinds += fmt::format("{}, ", kind);
  return kinds + "or *";
}

// The rule in `text`, or why it is none.
std::variant<SuppressionRule, std::string> parse_rule(std::string_view text) {
  const auto colon = text.find(':');
  const auto kind = trimmed(text.substr(0, colon));
  if (kind.empty()) return std::string("a rule is KIND or KIND:PATTERN, and the kind is missing");
  const bool known =
      kind == "*" || std::any_of(std::begin(kLeakFindingKinds), std::end(kLeakFindingKinds),
                                 [&](const char* name) { return kind == name; });
  if (!known) return fmt::format("unknown finding kind '{}' (one of {})", kind, known_kinds());
  SuppressionRule rule{std::string(trimmed(text)), std::string(kind), {}};
  if (colon != std::string_view::npos) {
    rule.pattern = trimmed(text.substr(colon + 1));
    if (rule.pattern.empty()) return std::string("the pattern after ':' is empty");
  }
  return rule;
}

// The file's text; a Problem naming it when it is not a readable regular file.
std::string read_rules_file(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0)
    throw Failure::invalid_input({path, "", std::strerror(errno)});
  if (!S_ISREG(status.st_mode))
    throw Failure::invalid_input(
        {path, "", fmt::format("is {}, not a suppressions file", kind_of_file(status.st_mode))});
  if (static_cast<std::uint64_t>(status.st_size) > kMaxInputBytes)
    throw Failure::invalid_input({path, "", "larger than 16 MiB: not a suppressions file"});
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad() || !in.is_open()) throw Failure::invalid_input({path, "", std::strerror(errno)});
  return text;
}

void add_rules_of_file(const std::string& path, std::vector<SuppressionRule>& rules) {
  const std::string text = read_rules_file(path);
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    const auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = std::string_view(text).substr(start, end - start);
    start = end + 1;
    ++line_number;
    line = trimmed(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto parsed = parse_rule(line);
    if (auto* reason = std::get_if<std::string>(&parsed))
      throw Failure::invalid_input({fmt::format("{}:{}", path, line_number), "", *reason});
    rules.push_back(std::get<SuppressionRule>(std::move(parsed)));
  }
}

bool glob_matches(const std::string& pattern, std::string_view text) {
  if (text.empty()) return false;
  return ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
}

std::string_view file_name_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A path matches by itself or by its file name (`libev.so*` or `*/libev.so.4`).
bool path_matches(const std::string& pattern, std::string_view path) {
  return glob_matches(pattern, path) || glob_matches(pattern, file_name_of(path));
}

}  // namespace

std::vector<SuppressionRule> load_suppressions(const std::vector<std::string>& given,
                                               const std::vector<std::string>& files) {
  std::vector<SuppressionRule> rules;
  for (const auto& text : given) {
    auto parsed = parse_rule(text);
    if (auto* reason = std::get_if<std::string>(&parsed))
      throw Failure::invalid_input({fmt::format("--suppress '{}'", text), "", *reason});
    rules.push_back(std::get<SuppressionRule>(std::move(parsed)));
  }
  for (const auto& path : files) add_rules_of_file(path, rules);
  return rules;
}

bool suppresses(const SuppressionRule& rule, const Finding& finding, std::string_view program) {
  if (rule.kind != "*" && rule.kind != finding.kind) return false;
  if (rule.pattern.empty()) return true;
  const auto& pattern = rule.pattern;
  if (path_matches(pattern, program) || glob_matches(pattern, finding.site)) return true;
  return std::any_of(finding.stack.begin(), finding.stack.end(), [&](const StackFrame& frame) {
    return path_matches(pattern, frame.module) || glob_matches(pattern, frame.function) ||
           path_matches(pattern, frame.file);
  });
}

SuppressionTally suppress(const std::vector<SuppressionRule>& rules, const ProgramOf& program_of,
                          std::vector<Finding>& findings) {
  SuppressionTally tally;
  tally.per_rule.assign(rules.size(), 0);
  if (rules.empty()) return tally;
  std::erase_if(findings, [&](const Finding& finding) {
    const std::string program = program_of ? program_of(finding.pid) : std::string();
    for (std::size_t i = 0; i < rules.size(); ++i) {
      if (!suppresses(rules[i], finding, program)) continue;
      ++tally.per_rule[i];
      ++tally.total;
      return true;
    }
    return false;
  });
  return tally;
}

void add_suppressions(nlohmann::json& leaks, const std::vector<SuppressionRule>& rules,
                      const SuppressionTally& tally) {
  leaks["suppressed"] = tally.total;
  auto list = nlohmann::json::array();
  for (std::size_t i = 0; i < rules.size(); ++i) {
    list.push_back(
        {{"rule", rules[i].text}, {"findings", i < tally.per_rule.size() ? tally.per_rule[i] : 0}});
  }
  leaks["suppressions"] = std::move(list);
}

std::string suppressed_text(const SuppressionTally& tally) {
  if (tally.total == 0) return {};
  return fmt::format(", {} suppressed", tally.total);
}

}  // namespace pollscope
