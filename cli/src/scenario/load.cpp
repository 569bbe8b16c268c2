// Reading a scenario: the file, duplicate keys, then the checker.

#include <optional>
#include <set>

#include "io/files.hpp"
#include "scenario/checker.hpp"

namespace pollscope {

namespace {

using scenario_check::Mistake;
using json = nlohmann::json;

// Finds keys given twice in one object, which JSON parsers resolve differently (nlohmann keeps
// the last): in a scenario it is a mistake, such as two "phases" lists. Runs on text already
// known to be valid JSON.
class DuplicateKeyFinder final : public nlohmann::json_sax<json> {
 public:
  std::optional<Mistake> duplicate;

  bool null() override { return value(); }
  bool boolean(bool /*val*/) override { return value(); }
  bool number_integer(number_integer_t /*val*/) override { return value(); }
  bool number_unsigned(number_unsigned_t /*val*/) override { return value(); }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return value(); }
  bool string(string_t& /*val*/) override { return value(); }
  bool binary(binary_t& /*val*/) override { return value(); }
  bool start_object(std::size_t /*elements*/) override {
    value();
    frames_.emplace_back().object = true;
    return true;
  }
  bool key(string_t& val) override {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(val).second) {
      duplicate =
          Mistake{json_child(container_path(), val), fmt::format("duplicate key {}", quote(val))};
      return false;
    }
    frame.key = val;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override {
    value();
    frames_.emplace_back().object = false;
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) override {
    return false;
  }

 private:
  struct Frame {
    bool object = true;
    std::string key;             // the member being read, in an object
    std::size_t next_index = 0;  // the element after the one being read, in an array
    std::set<std::string> keys;  // seen so far, in an object
  };

  // Counts an array's elements as they start, to name them in a path.
  bool value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().next_index;
    return true;
  }

  // The pointer to the innermost open container.
  [[nodiscard]] std::string container_path() const {
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      path = frames_[i].object ? json_child(path, frames_[i].key)
                               : json_child(path, frames_[i].next_index - 1);
    }
    return path;
  }

  std::vector<Frame> frames_;
};

}  // namespace

std::variant<Scenario, Problem> parse_scenario(const nlohmann::json& document,
                                               std::string_view file,
                                               std::optional<std::uint64_t> memory_budget_mib) {
  // Nothing below should throw (every value's type is checked before it is read); this is the
  // promise to callers that a document, however odd, gives a Problem and not a crash.
  injected_failure_point("scenario");
  try {
    Scenario scenario;
    scenario_check::Checker checker;
    if (!checker.check(document, &scenario)) {
      return Problem{std::string(file), checker.mistake().path, checker.mistake().reason};
    }
    if (auto problem = load_replays(scenario, file, memory_budget_mib)) {
      return std::move(*problem);
    }
    return scenario;
  } catch (const json::exception& error) {
    return Problem{std::string(file), "", fmt::format("internal error: {}", error.what())};
  }
}

std::variant<Scenario, Problem> load_scenario(const std::string& path,
                                              std::optional<std::uint64_t> memory_budget_mib) {
  auto read = read_json_file(path);
  if (auto* problem = std::get_if<Problem>(&read)) return std::move(*problem);
  const JsonFile& file = std::get<JsonFile>(read);
  DuplicateKeyFinder finder;
  try {
    json::sax_parse(file.text, &finder);
  } catch (const json::exception&) {
    // json::parse accepted the same text: the finder cannot fail on it.
  }
  if (finder.duplicate) return Problem{path, finder.duplicate->path, finder.duplicate->reason};
  return parse_scenario(file.document, path, memory_budget_mib);
}

}  // namespace pollscope
