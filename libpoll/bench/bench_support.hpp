#pragma once

// bench_support: what chain_bench and registry_bench share and would otherwise each spell out:
// the summary of a run's samples, the descriptor limit and budget, the socket pairs both
// workloads run on, and the command-line plumbing. Each program keeps its own workload, options
// and output; nothing here runs inside a timed round but last_errno, on its failure paths.

#include <sys/resource.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libpoll/net/unix_stream.hpp"

namespace bench {

using StreamPair = std::pair<libpoll::net::UnixStream, libpoll::net::UnixStream>;

// ---- statistics -------------------------------------------------------------------------------

struct Summary {
  double median = 0;
  double p25 = 0;
  double p75 = 0;
  double min = 0;
};

// Quartiles interpolated between neighbouring samples; all zero when there are none.
Summary summarize(std::vector<double> values);

// ---- errors and descriptors -------------------------------------------------------------------

// Inline, as the failure paths of registry_bench's timed phase functions return it, and those
// functions should hold nothing but the calls they time.
inline std::error_code last_errno() noexcept {
  return {errno, std::system_category()};
}

[[noreturn]] void throw_error(const std::string& what, std::error_code error);

// "RLIMIT_NOFILE is <soft> (hard limit <hard>)", for messages about running out.
std::string limit_text(const rlimit& limit);

// Raises the soft RLIMIT_NOFILE to the hard one, where allowed, and returns the limit in force:
// chain_bench's largest default configuration alone needs 19,968 descriptors.
rlimit raise_fd_limit();

// Descriptors open in this process now (3 when /proc cannot tell).
std::size_t open_fd_count();

// Throws, before anything is opened, when `extra` more descriptors than are open now would pass
// the soft limit: "<what> need <n> file descriptors but RLIMIT_NOFILE is ...". Failing up front
// names the limit, where running out half-way through a fixture would only say EMFILE.
void check_fd_budget(std::string_view what, std::size_t extra, const rlimit& limit);

// `n` connected UnixStream pairs; running out of descriptors is reported with the limit.
std::vector<StreamPair> make_pairs(std::size_t n, const rlimit& limit);

// ---- command line -----------------------------------------------------------------------------

// A whole decimal count, or an error naming the flag it was given to.
std::size_t parse_count(std::string_view flag, std::string_view text);

// "a,b,c" into its items; an empty item stays (and parse_count refuses it).
std::vector<std::string_view> split(std::string_view list);

// The counts of one use of a repeatable list flag ("--pairs 10,100 --pairs 1000") into
// `counts`. The first use (`given` still false) replaces the default, so that the flag says
// exactly what runs; later uses add to it.
void add_counts(std::string_view flag, std::string_view list, bool& given,
                std::vector<std::size_t>& counts);

// The arguments, one at a time. "--flag=value" is split into the flag and its value, so that
// every flag takes its value either way; is_switch refuses a value, so that "--json=0" is an
// unknown option and not --json.
class Args {
 public:
  Args(int argc, char** argv) noexcept : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false past the last.
  bool next() noexcept;

  // The current argument, without its "=value".
  [[nodiscard]] std::string_view flag() const noexcept { return flag_; }

  // Whether the current argument is `name`, given without a value.
  [[nodiscard]] bool is_switch(std::string_view name) const noexcept {
    return flag_ == name && !has_value_;
  }

  // The current flag's value: what follows its '=', or else the next argument, which it
  // consumes.
  std::string_view value();

  // Throws "unknown option '<argument as given>' (see --help)".
  [[noreturn]] void reject() const;

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::string_view current_;
  std::string_view flag_;
  std::string_view value_;
  bool has_value_ = false;
};

}  // namespace bench
