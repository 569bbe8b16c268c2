// The gate's comparison as text for CI: JUnit XML and a Markdown summary (ci_formats.hpp).

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "base/terminal_text.hpp"
#include "gate/ci_formats.hpp"

namespace pollscope {

namespace {

using stats::Verdict;

// Text from a report (a threshold, a scenario's name) as one line that every format can hold:
// control characters (which XML 1.0 forbids even as references, and which would end a Markdown
// line or move a terminal's cursor) and bytes that are not UTF-8 escaped as \xNN, and the two
// characters XML forbids besides, U+FFFE and U+FFFF, as \ufffe and \uffff. A hand-edited or
// foreign report read by `compare --base` may hold any of them.
std::string one_line(std::string_view text) {
  std::string line = one_line_text(text);
  for (const auto& [bytes, shown] :
       {std::pair<std::string_view, std::string_view>{"\xef\xbf\xbe", "\\ufffe"},
        {"\xef\xbf\xbf", "\\uffff"}}) {
    for (auto at = line.find(bytes); at != std::string::npos; at = line.find(bytes, at)) {
      line.replace(at, bytes.size(), shown);
      at += shown.size();
    }
  }
  return line;
}

std::string xml_escaped(std::string_view raw) {
  const std::string text = one_line(raw);
  std::string escaped;
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

// Text from a report as a Markdown code span, which shows it as it is: fenced by one backtick
// more than the longest run of backticks in it, and padded with a space where it starts or
// ends with one (CommonMark).
std::string markdown_code(std::string_view raw) {
  const std::string text = one_line(raw);
  std::size_t longest = 0;
  for (std::size_t run = 0; const char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
  return fence + (pad ? " " : "") + text + (pad ? " " : "") + fence;
}

// A test case: passed when `verdict` is unchanged or improved, failed when regressed, skipped
// when inconclusive. `detail` says what was measured.
std::string test_case(std::string_view group, std::string_view name, Verdict verdict,
                      const std::string& detail) {
  std::string text = fmt::format("    <testcase classname=\"pollscope.{}\" name=\"{}\">\n", group,
                                 xml_escaped(name));
  const std::string message = xml_escaped(fmt::format("{}: {}", stats::to_string(verdict), detail));
  if (verdict == Verdict::regressed) {
    text += fmt::format("      <failure message=\"{}\" type=\"regression\"/>\n", message);
  } else if (verdict == Verdict::inconclusive) {
    text += fmt::format("      <skipped message=\"{}\"/>\n", message);
  } else {
    text += fmt::format("      <system-out>{}</system-out>\n", message);
  }
  return text + "    </testcase>\n";
}

std::string timing_detail(const TimingRow& row) {
  return fmt::format("{}, p = {:.2g}, tolerance {}%", describe_ratio(row),
                     row.judgement.test.p_value, row.figure.tolerance_percent);
}

std::string threshold_detail(const ThresholdRow& row) {
  return fmt::format("failed in {} of {} candidate runs and {} of {} base runs", row.failed,
                     row.runs, row.base_failed, row.base_runs);
}

}  // namespace

std::string junit_xml(const GateComparison& comparison) {
  std::string cases;
  int tests = 0, failures = 0, skipped = 0;
  const auto add = [&](std::string_view group, std::string_view name, Verdict verdict,
                       const std::string& detail) {
    cases += test_case(group, name, verdict, detail);
    ++tests;
    failures += verdict == Verdict::regressed;
    skipped += verdict == Verdict::inconclusive;
  };
  for (const ThresholdRow& row : comparison.thresholds) {
    add("thresholds", row.threshold, row.verdict(), threshold_detail(row));
  }
  for (const TimingRow& row : comparison.timings) {
    add("timings", row.figure.metric, row.judgement.verdict, timing_detail(row));
  }
  for (const CountRow& row : comparison.counts) {
    add("counts", row.figure.metric, row.verdict, describe_change(row));
  }
  const std::string suite = xml_escaped("pollscope gate: " + comparison.scenario);
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"pollscope\" tests=\"{0}\" failures=\"{1}\" skipped=\"{2}\">\n"
      "  <testsuite name=\"{3}\" tests=\"{0}\" failures=\"{1}\" skipped=\"{2}\" errors=\"0\">\n"
      "{4}  </testsuite>\n</testsuites>\n",
      tests, failures, skipped, suite, cases);
}

std::string markdown_summary(const GateComparison& comparison) {
  std::string text =
      fmt::format("### pollscope performance gate: {} ({})\n\n{} base and {} candidate runs.\n\n",
                  stats::to_string(comparison.verdict()), markdown_code(comparison.scenario),
                  comparison.base_files.size(), comparison.candidate_files.size());
  text += "| figure | ratio candidate/base | interval | p | tolerance | verdict |\n";
  text += "| --- | --- | --- | --- | --- | --- |\n";
  for (const TimingRow& row : comparison.timings) {
    const auto& interval = row.judgement.interval;
    const std::string ratio = interval ? fmt::format("{:.3f}", interval->ratio) : "none";
    const std::string range = interval ? fmt::format("[{:.3f}, {:.3f}] ({:.0f}%)", interval->low,
                                                     interval->high, interval->confidence * 100)
                                       : "none (a zero)";
    text += fmt::format("| `{}` | {} | {} | {:.2g} | {}% | {} |\n", row.figure.metric, ratio, range,
                        row.judgement.test.p_value, row.figure.tolerance_percent,
                        stats::to_string(row.judgement.verdict));
  }
  text += "\n| count | change | verdict |\n| --- | --- | --- |\n";
  for (const CountRow& row : comparison.counts) {
    text += fmt::format("| `{}` | {} | {} |\n", row.figure.metric, describe_change(row),
                        stats::to_string(row.verdict));
  }
  for (const ThresholdRow& row : comparison.thresholds) {
    if (row.failed || row.base_failed) {
      text += fmt::format("\nThreshold {} {}: {}.\n", markdown_code(row.threshold),
                          threshold_detail(row), stats::to_string(row.verdict()));
    }
  }
  for (const std::string& warning : comparison.warnings) text += "\n> " + one_line(warning) + "\n";
  return text;
}

}  // namespace pollscope
