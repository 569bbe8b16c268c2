#include "bench_support.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <stdexcept>

namespace bench {

Summary summarize(std::vector<double> values) {
  Summary summary;
  if (values.empty()) return summary;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const double position = q * static_cast<double>(values.size() - 1);
    const auto low = static_cast<std::size_t>(position);
    const std::size_t high = std::min(low + 1, values.size() - 1);
    const double weight = position - static_cast<double>(low);
    return values[low] * (1 - weight) + values[high] * weight;
  };
  summary.median = at(0.5);
  summary.p25 = at(0.25);
  summary.p75 = at(0.75);
  summary.min = values.front();
  return summary;
}

void throw_error(const std::string& what, std::error_code error) {
  throw std::runtime_error(what + ": " + error.message());
}

std::string limit_text(const rlimit& limit) {
  const auto text = [](rlim_t value) {
    return value == RLIM_INFINITY ? std::string("unlimited") : std::to_string(value);
  };
  return "RLIMIT_NOFILE is " + text(limit.rlim_cur) + " (hard limit " + text(limit.rlim_max) + ")";
}

rlimit raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) throw_error("getrlimit(RLIMIT_NOFILE)", last_errno());
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit;
}

std::size_t open_fd_count() {
  std::error_code error;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return error || count == 0 ? 3 : count;  // the count includes the iterator's own descriptor
}

void check_fd_budget(std::string_view what, std::size_t extra, const rlimit& limit) {
  const std::size_t needed = open_fd_count() + extra;
  if (limit.rlim_cur != RLIM_INFINITY && needed > limit.rlim_cur) {
    throw std::runtime_error(std::string(what) + " need " + std::to_string(needed) +
                             " file descriptors but " + limit_text(limit));
  }
}

std::vector<StreamPair> make_pairs(std::size_t n, const rlimit& limit) {
  std::vector<StreamPair> pairs;
  pairs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto made = libpoll::net::UnixStream::pair();
    if (!made) {
      if (made.error() == std::errc::too_many_files_open) {
        throw std::runtime_error("out of file descriptors after " + std::to_string(i) + " pairs (" +
                                 limit_text(limit) + ")");
      }
      throw_error("UnixStream::pair", made.error());
    }
    pairs.push_back(std::move(*made));
  }
  return pairs;
}

std::size_t parse_count(std::string_view flag, std::string_view text) {
  std::size_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || ptr != end) {
    throw std::runtime_error(std::string(flag) + ": not a count: '" + std::string(text) + "'");
  }
  return value;
}

std::vector<std::string_view> split(std::string_view list) {
  std::vector<std::string_view> items;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    items.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

void add_counts(std::string_view flag, std::string_view list, bool& given,
                std::vector<std::size_t>& counts) {
  if (!given) counts.clear();
  given = true;
  for (const std::string_view item : split(list)) counts.push_back(parse_count(flag, item));
}

bool Args::next() noexcept {
  if (++index_ >= argc_) return false;
  current_ = argv_[index_];
  flag_ = current_;
  value_ = {};
  has_value_ = false;
  // Only long flags take "=value": "-h=x" stays one unknown argument.
  if (const auto equals = flag_.find('='); flag_.starts_with("--") && equals != flag_.npos) {
    value_ = flag_.substr(equals + 1);
    flag_ = flag_.substr(0, equals);
    has_value_ = true;
  }
  return true;
}

std::string_view Args::value() {
  if (has_value_) return value_;
  if (index_ + 1 >= argc_) throw std::runtime_error(std::string(flag_) + " needs a value");
  return argv_[++index_];
}

void Args::reject() const {
  throw std::runtime_error("unknown option '" + std::string(current_) + "' (see --help)");
}

}  // namespace bench
