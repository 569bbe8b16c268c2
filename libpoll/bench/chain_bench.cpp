// chain_bench: libevent's test/bench.c workload, run through libpoll and through raw epoll in
// the same process, round by round, so that the difference is what libpoll adds.
//
// The workload (per round): N socket pairs, one end of each registered for readable. One byte
// is written into A pairs spaced N/A apart ("active" pairs). Each readable event reads what is
// there and, for every byte read and while the round's write budget W lasts, writes one byte
// into the next pair (index + 1, wrapping): chains of writes. The round ends when every byte
// written (A + W) has been read. Defaults: W = N, as bench.c's num_writes = num_pipes, and
// A = N/10 between 1 and 100, so that each chain makes about ten hops before it reaches the next
// chain's start: a round handles A + W events in batches of about A per poll, which is where an
// event loop under load spends its time. (With A = N every chained write lands on a pair whose
// event is already in the batch, the bytes merge and the chains never run.) --active 1 is
// bench.c's default, one event per poll, where libpoll's per-poll cost weighs most.
//
// Both implementations use the same socket pairs (9984 pairs are 19,968 descriptors: two sets
// would not fit under a 20,000 RLIMIT_NOFILE), in opposite directions: raw epoll watches the
// first end of each pair and writes into the second, libpoll watches the second end and writes
// into the first. Each end is in exactly one epoll set, so neither implementation's writes wake
// the other's selector. Rounds alternate (raw, libpoll, libpoll, raw, ...) so that machine noise
// hits both alike, and every pair of rounds must handle the same number of events. Both make
// the same system calls (read, and send with MSG_NOSIGNAL, which is how libpoll's stream
// sockets write so that a closed peer cannot raise SIGPIPE), so that the difference is libpoll's
// own code and not glibc's send-versus-write.
//
// run_raw_round and run_libpoll_round are never inlined and never cloned, so that
//   valgrind --tool=callgrind --toggle-collect='chain_bench::run_libpoll_round(*'
//     chain_bench --impl libpoll ...
// counts exactly the instructions of the rounds; the "totals:" lines give the events to divide
// by (warm-up rounds included, as callgrind sees them too).

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libpoll/events.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"

namespace chain_bench {

using libpoll::net::UnixStream;
using StreamPair = std::pair<UnixStream, UnixStream>;

constexpr char kByte = 'e';
// Bytes read per read call: more than can ever be queued on one pair in practice (one per
// active chain), and a short read means the pair is drained.
constexpr std::size_t kReadSize = 64;
constexpr std::size_t kMaxReadsPerEvent = 1 << 20;
constexpr int kStallMs = 5000;

enum class Impl { both, raw, libpoll };

struct Options {
  std::vector<std::size_t> pairs{100, 1000, 9984};
  std::optional<std::size_t> active;  // default: pairs / 10, at least 1, at most 100
  std::optional<std::size_t> writes;  // default: pairs
  std::size_t rounds = 200;
  std::size_t warmup = 5;
  std::size_t capacity = 1024;
  Impl impl = Impl::both;
  bool json = false;
};

// One configuration, as the round functions see it.
struct Plan {
  std::size_t pairs = 0;
  std::size_t active = 0;
  std::size_t writes = 0;
  std::size_t capacity = 0;
  std::size_t spacing = 0;
  std::uint64_t max_polls = 0;
};

enum class Failure : std::uint8_t {
  none,
  poll_failed,
  stalled,
  too_many_polls,
  bad_token,
  not_readable,
  read_failed,
  read_loop,
  end_of_stream,
  write_failed,
};

struct RoundCounts {
  std::uint64_t events = 0;  // events returned by the polls of the round
  std::uint64_t bytes = 0;   // bytes read; active + writes when the round completes
  std::uint64_t polls = 0;
  Failure failure = Failure::none;
  int error = 0;  // errno of the failed call, if any
};

const char* describe(Failure failure) {
  switch (failure) {
    case Failure::none:
      return "no failure";
    case Failure::poll_failed:
      return "poll failed";
    case Failure::stalled:
      return "stalled: no event for 5 s";
    case Failure::too_many_polls:
      return "too many polls for the bytes in flight";
    case Failure::bad_token:
      return "event with an unknown token";
    case Failure::not_readable:
      return "event that is not readable";
    case Failure::read_failed:
      return "read failed";
    case Failure::read_loop:
      return "read never drained the pair";
    case Failure::end_of_stream:
      return "unexpected end of stream";
    case Failure::write_failed:
      return "write failed";
  }
  return "unknown failure";
}

std::string describe(Failure failure, int error) {
  std::string text = describe(failure);
  if (error != 0) text += std::string(": ") + std::strerror(error);
  return text;
}

RoundCounts fail(RoundCounts counts, Failure failure, int error = 0) noexcept {
  counts.failure = failure;
  counts.error = error;
  return counts;
}

// ---- raw epoll --------------------------------------------------------------------------------

struct RawSide {
  RawSide() = default;
  RawSide(const RawSide&) = delete;
  RawSide& operator=(const RawSide&) = delete;
  ~RawSide() { (void)close(); }

  // Removes every registration and closes the epoll descriptor; the first error, if any.
  std::error_code close() noexcept {
    std::error_code first;
    if (epoll_fd < 0) return first;
    for (std::size_t i = 0; i < registered; ++i) {
      epoll_event unused{};
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, read_fd[i], &unused) < 0 && !first) {
        first = std::error_code(errno, std::system_category());
      }
    }
    registered = 0;
    ::close(epoll_fd);
    epoll_fd = -1;
    return first;
  }

  int epoll_fd = -1;
  std::size_t registered = 0;
  std::vector<int> read_fd;   // watched for readable; token = index
  std::vector<int> write_fd;  // a byte written here makes read_fd[index] readable
  std::vector<epoll_event> events;
};

[[gnu::noinline, gnu::noclone]] RoundCounts run_raw_round(RawSide& side,
                                                          const Plan& plan) noexcept {
  RoundCounts counts;
  const std::size_t n = plan.pairs;
  const int* read_fd = side.read_fd.data();
  const int* write_fd = side.write_fd.data();
  epoll_event* events = side.events.data();
  const int capacity = static_cast<int>(side.events.size());
  std::uint64_t fired = 0;
  std::size_t writes_left = plan.writes;

  for (std::size_t i = 0; i < plan.active; ++i) {
    if (const ssize_t wrote = ::send(write_fd[i * plan.spacing], &kByte, 1, MSG_NOSIGNAL);
        wrote != 1) {
      return fail(counts, Failure::write_failed, wrote < 0 ? errno : 0);
    }
    ++fired;
  }
  while (counts.bytes < fired) {
    if (counts.polls == plan.max_polls) return fail(counts, Failure::too_many_polls);
    ++counts.polls;
    const int ready = ::epoll_wait(side.epoll_fd, events, capacity, kStallMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail(counts, Failure::poll_failed, errno);
    }
    if (ready == 0) return fail(counts, Failure::stalled);
    for (int k = 0; k < ready; ++k) {
      const epoll_event& event = events[k];
      if ((event.events & (EPOLLIN | EPOLLPRI)) == 0) return fail(counts, Failure::not_readable);
      const std::uint64_t index = event.data.u64;
      if (index >= n) return fail(counts, Failure::bad_token);
      ++counts.events;
      const std::size_t next = index + 1 == n ? 0 : index + 1;
      for (std::size_t reads = 0;; ++reads) {
        if (reads == kMaxReadsPerEvent) return fail(counts, Failure::read_loop);
        char buffer[kReadSize];
        const ssize_t got = ::read(read_fd[index], buffer, sizeof buffer);
        if (got < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          return fail(counts, Failure::read_failed, errno);
        }
        if (got == 0) return fail(counts, Failure::end_of_stream);
        const auto size = static_cast<std::size_t>(got);
        counts.bytes += size;
        for (std::size_t b = 0; b < size && writes_left > 0; ++b, --writes_left) {
          if (const ssize_t wrote = ::send(write_fd[next], &kByte, 1, MSG_NOSIGNAL); wrote != 1) {
            return fail(counts, Failure::write_failed, wrote < 0 ? errno : 0);
          }
          ++fired;
        }
        if (size < kReadSize) break;
      }
    }
  }
  return counts;
}

// ---- libpoll ----------------------------------------------------------------------------------

struct LibpollSide {
  LibpollSide(libpoll::Poll created, std::size_t capacity, std::span<StreamPair> all)
      : poll(std::move(created)), events(capacity), pairs(all) {}
  LibpollSide(const LibpollSide&) = delete;
  LibpollSide& operator=(const LibpollSide&) = delete;
  ~LibpollSide() { (void)close(); }

  // Deregisters every stream (libpoll requires it before the streams are closed).
  std::error_code close() noexcept {
    std::error_code first;
    for (std::size_t i = 0; i < registered; ++i) {
      if (auto done = poll.registry().deregister_source(pairs[i].second); !done && !first) {
        first = done.error();
      }
    }
    registered = 0;
    return first;
  }

  libpoll::Poll poll;
  libpoll::Events events;
  std::span<StreamPair> pairs;  // watches .second; a byte written into .first wakes it
  std::size_t registered = 0;
};

[[gnu::noinline, gnu::noclone]] RoundCounts run_libpoll_round(LibpollSide& side,
                                                              const Plan& plan) noexcept {
  RoundCounts counts;
  const std::size_t n = plan.pairs;
  StreamPair* pairs = side.pairs.data();
  const std::optional<std::chrono::nanoseconds> timeout = std::chrono::milliseconds(kStallMs);
  const std::string_view byte(&kByte, 1);
  std::uint64_t fired = 0;
  std::size_t writes_left = plan.writes;

  for (std::size_t i = 0; i < plan.active; ++i) {
    auto wrote = pairs[i * plan.spacing].first.write(byte);
    if (!wrote || *wrote != 1) return fail(counts, Failure::write_failed, wrote.error().value());
    ++fired;
  }
  while (counts.bytes < fired) {
    if (counts.polls == plan.max_polls) return fail(counts, Failure::too_many_polls);
    ++counts.polls;
    if (auto polled = side.poll.poll(side.events, timeout); !polled) {
      if (polled.error() == std::errc::interrupted) continue;
      return fail(counts, Failure::poll_failed, polled.error().value());
    }
    if (side.events.empty()) return fail(counts, Failure::stalled);
    for (const libpoll::Event& event : side.events) {
      if (!event.is_readable()) return fail(counts, Failure::not_readable);
      const std::size_t index = event.token().value;
      if (index >= n) return fail(counts, Failure::bad_token);
      ++counts.events;
      const std::size_t next = index + 1 == n ? 0 : index + 1;
      for (std::size_t reads = 0;; ++reads) {
        if (reads == kMaxReadsPerEvent) return fail(counts, Failure::read_loop);
        char buffer[kReadSize];
        auto got = pairs[index].second.read(std::span<char>(buffer));
        if (!got) {
          if (libpoll::is_would_block(got.error())) break;
          return fail(counts, Failure::read_failed, got.error().value());
        }
        const std::size_t size = *got;
        if (size == 0) return fail(counts, Failure::end_of_stream);
        counts.bytes += size;
        for (std::size_t b = 0; b < size && writes_left > 0; ++b, --writes_left) {
          auto wrote = pairs[next].first.write(byte);
          if (!wrote || *wrote != 1) {
            return fail(counts, Failure::write_failed, wrote.error().value());
          }
          ++fired;
        }
        if (size < kReadSize) break;
      }
    }
  }
  return counts;
}

// ---- set-up -----------------------------------------------------------------------------------

[[noreturn]] void throw_error(const std::string& what, std::error_code error) {
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
  if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) {
    throw_error("getrlimit(RLIMIT_NOFILE)", {errno, std::system_category()});
  }
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

void check_fd_budget(std::size_t pairs, Impl impl, const rlimit& limit) {
  const std::size_t selectors = impl == Impl::both ? 2 : 1;
  const std::size_t needed = open_fd_count() + 2 * pairs + selectors;
  if (limit.rlim_cur != RLIM_INFINITY && needed > limit.rlim_cur) {
    throw std::runtime_error(std::to_string(pairs) + " pairs need " + std::to_string(needed) +
                             " file descriptors but " + limit_text(limit));
  }
}

// Owns the pairs and both implementations; every registration is undone before the pairs are
// closed (members are destroyed in reverse order: libpoll, raw, then the pairs).
class Fixture {
 public:
  Fixture(const Plan& plan, Impl impl, const rlimit& limit) {
    pairs_.reserve(plan.pairs);
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      auto made = UnixStream::pair();
      if (!made) {
        if (made.error() == std::errc::too_many_files_open) {
          throw std::runtime_error("out of file descriptors after " + std::to_string(i) +
                                   " pairs (" + limit_text(limit) + ")");
        }
        throw_error("UnixStream::pair", made.error());
      }
      pairs_.push_back(std::move(*made));
    }
    if (impl != Impl::libpoll) open_raw(plan);
    if (impl != Impl::raw) open_libpoll(plan);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() = default;

  RawSide& raw() noexcept { return raw_; }
  LibpollSide& libpoll() noexcept { return *libpoll_; }

  // Deregisters everything and closes every descriptor, reporting failures.
  void close() {
    if (libpoll_) {
      if (auto error = libpoll_->close()) throw_error("deregister_source", error);
      libpoll_.reset();
    }
    if (auto error = raw_.close()) throw_error("epoll_ctl(EPOLL_CTL_DEL)", error);
    pairs_.clear();
  }

 private:
  void open_raw(const Plan& plan) {
    raw_.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (raw_.epoll_fd < 0) throw_error("epoll_create1", {errno, std::system_category()});
    raw_.events.resize(plan.capacity);
    raw_.read_fd.reserve(plan.pairs);
    raw_.write_fd.reserve(plan.pairs);
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      raw_.read_fd.push_back(pairs_[i].first.as_raw_fd());
      raw_.write_fd.push_back(pairs_[i].second.as_raw_fd());
    }
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      epoll_event event{};
      event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
      event.data.u64 = i;
      if (::epoll_ctl(raw_.epoll_fd, EPOLL_CTL_ADD, raw_.read_fd[i], &event) < 0) {
        throw_error("epoll_ctl(EPOLL_CTL_ADD)", {errno, std::system_category()});
      }
      raw_.registered = i + 1;
    }
  }

  void open_libpoll(const Plan& plan) {
    auto poll = libpoll::Poll::create();
    if (!poll) throw_error("Poll::create", poll.error());
    libpoll_.emplace(std::move(*poll), plan.capacity, std::span<StreamPair>(pairs_));
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      auto done = libpoll_->poll.registry().register_source(pairs_[i].second, libpoll::Token{i},
                                                            libpoll::Interest::readable);
      if (!done) throw_error("register_source", done.error());
      libpoll_->registered = i + 1;
    }
  }

  std::vector<StreamPair> pairs_;
  RawSide raw_;
  std::optional<LibpollSide> libpoll_;
};

// ---- measurement ------------------------------------------------------------------------------

struct Summary {
  double median = 0;
  double p25 = 0;
  double p75 = 0;
  double min = 0;
};

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

struct Totals {
  std::uint64_t calls = 0;
  std::uint64_t events = 0;
};

struct Measurement {
  Plan plan;
  std::size_t rounds = 0;
  std::uint64_t events_per_round = 0;
  double events_per_poll = 0;
  Summary raw;
  Summary libpoll;
  // Median over rounds of libpoll/raw for the two rounds run back to back: less sensitive than
  // the ratio of medians to load that drifts during the run.
  double paired_ratio = 0;
};

Plan make_plan(std::size_t pairs, const Options& options) {
  Plan plan;
  plan.pairs = pairs;
  plan.active = options.active.value_or(std::clamp<std::size_t>(pairs / 10, 1, 100));
  plan.writes = options.writes.value_or(pairs);
  plan.capacity = options.capacity;
  if (pairs == 0) throw std::runtime_error("--pairs must be at least 1");
  if (plan.active == 0 || plan.active > pairs) {
    throw std::runtime_error("--active must be between 1 and the number of pairs (" +
                             std::to_string(pairs) + ")");
  }
  plan.spacing = pairs / plan.active;
  // Every poll returns at least one event; spurious events (a pair written twice before its
  // event is handled) are rare, so four polls per byte is a generous bound.
  plan.max_polls = 4 * (static_cast<std::uint64_t>(plan.active) + plan.writes) + 64;
  return plan;
}

template <class Side, class Round>
RoundCounts timed_round(Side& side, const Plan& plan, Round round, std::uint64_t& ns,
                        Totals& totals, const char* name, std::size_t index) {
  const auto start = std::chrono::steady_clock::now();
  const RoundCounts counts = round(side, plan);
  const auto stop = std::chrono::steady_clock::now();
  ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
  ++totals.calls;
  totals.events += counts.events;
  const std::uint64_t expected = plan.active + plan.writes;
  if (counts.failure == Failure::none && counts.bytes != expected) {
    throw std::runtime_error(std::string(name) + " round " + std::to_string(index) + " read " +
                             std::to_string(counts.bytes) + " bytes, expected " +
                             std::to_string(expected));
  }
  if (counts.failure != Failure::none) {
    throw std::runtime_error(std::to_string(plan.pairs) + " pairs, " + name + " round " +
                             std::to_string(index) + ": " + describe(counts.failure, counts.error));
  }
  if (counts.events == 0) throw std::runtime_error(std::string(name) + " round had no events");
  return counts;
}

Measurement measure(std::size_t pairs, const Options& options, const rlimit& limit,
                    Totals& raw_totals, Totals& libpoll_totals) {
  const Plan plan = make_plan(pairs, options);
  check_fd_budget(pairs, options.impl, limit);
  Fixture fixture(plan, options.impl, limit);
  const bool run_raw = options.impl != Impl::libpoll;
  const bool run_libpoll = options.impl != Impl::raw;

  std::vector<double> raw_ns;
  std::vector<double> libpoll_ns;
  std::vector<double> ratios;
  raw_ns.reserve(options.rounds);
  libpoll_ns.reserve(options.rounds);
  std::uint64_t events_per_round = 0;
  std::uint64_t events = 0;
  std::uint64_t polls = 0;

  for (std::size_t round = 0; round < options.warmup + options.rounds; ++round) {
    RoundCounts raw{};
    RoundCounts lp{};
    std::uint64_t raw_time = 0;
    std::uint64_t lp_time = 0;
    const auto do_raw = [&] {
      raw = timed_round(fixture.raw(), plan, run_raw_round, raw_time, raw_totals, "raw", round);
    };
    const auto do_libpoll = [&] {
      lp = timed_round(fixture.libpoll(), plan, run_libpoll_round, lp_time, libpoll_totals,
                       "libpoll", round);
    };
    // Alternate which goes first, so that neither always runs on the other's warm caches.
    if (round % 2 == 0) {
      if (run_raw) do_raw();
      if (run_libpoll) do_libpoll();
    } else {
      if (run_libpoll) do_libpoll();
      if (run_raw) do_raw();
    }
    if (run_raw && run_libpoll && raw.events != lp.events) {
      throw std::runtime_error(std::to_string(pairs) + " pairs, round " + std::to_string(round) +
                               ": raw epoll handled " + std::to_string(raw.events) +
                               " events, libpoll " + std::to_string(lp.events));
    }
    const RoundCounts& any = run_raw ? raw : lp;
    events_per_round = std::max(events_per_round, any.events);
    if (round < options.warmup) continue;
    events += any.events;
    polls += any.polls;
    if (run_raw) raw_ns.push_back(static_cast<double>(raw_time) / static_cast<double>(raw.events));
    if (run_libpoll) {
      libpoll_ns.push_back(static_cast<double>(lp_time) / static_cast<double>(lp.events));
    }
    if (run_raw && run_libpoll && raw_time > 0) {
      ratios.push_back(static_cast<double>(lp_time) / static_cast<double>(raw_time));
    }
  }
  fixture.close();

  Measurement result;
  result.plan = plan;
  result.rounds = options.rounds;
  result.events_per_round = events_per_round;
  result.events_per_poll =
      polls == 0 ? 0 : static_cast<double>(events) / static_cast<double>(polls);
  result.raw = summarize(std::move(raw_ns));
  result.libpoll = summarize(std::move(libpoll_ns));
  result.paired_ratio = summarize(std::move(ratios)).median;
  return result;
}

// ---- report -----------------------------------------------------------------------------------

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::both:
      return "both";
    case Impl::raw:
      return "raw";
    case Impl::libpoll:
      return "libpoll";
  }
  return "?";
}

void print_table(const Options& options, const std::vector<Measurement>& results,
                 const Totals& raw_totals, const Totals& libpoll_totals) {
  std::printf(
      "chain_bench: impl %s, capacity %zu, %zu timed rounds (+%zu warm-up) per implementation, "
      "rounds interleaved; median ns per event; paired = median of per-round libpoll/raw\n",
      impl_name(options.impl), options.capacity, options.rounds, options.warmup);
  std::printf("%7s %7s %7s %12s %8s %11s %14s %12s %8s\n", "pairs", "active", "writes",
              "events/round", "ev/poll", "raw ns/ev", "libpoll ns/ev", "libpoll/raw", "paired");
  const auto cell = [](bool present, double value, int width, const char* format) {
    if (present) {
      std::printf(format, width, value);
    } else {
      std::printf("%*s", width, "-");
    }
  };
  const bool raw = options.impl != Impl::libpoll;
  const bool lp = options.impl != Impl::raw;
  for (const Measurement& m : results) {
    std::printf("%7zu %7zu %7zu %12llu %8.1f", m.plan.pairs, m.plan.active, m.plan.writes,
                static_cast<unsigned long long>(m.events_per_round), m.events_per_poll);
    cell(raw, m.raw.median, 12, "%*.1f");
    cell(lp, m.libpoll.median, 15, "%*.1f");
    cell(raw && lp, m.libpoll.median / m.raw.median, 13, "%*.3f");
    cell(raw && lp, m.paired_ratio, 9, "%*.3f");
    std::printf("\n");
  }
  std::printf("totals: run_raw_round calls=%llu events=%llu\n",
              static_cast<unsigned long long>(raw_totals.calls),
              static_cast<unsigned long long>(raw_totals.events));
  std::printf("totals: run_libpoll_round calls=%llu events=%llu\n",
              static_cast<unsigned long long>(libpoll_totals.calls),
              static_cast<unsigned long long>(libpoll_totals.events));
}

void print_summary_json(const char* name, const Summary& s, bool last) {
  std::printf(
      "      \"%s\": {\"median_ns_per_event\": %.2f, \"p25\": %.2f, \"p75\": %.2f, "
      "\"min\": %.2f}%s\n",
      name, s.median, s.p25, s.p75, s.min, last ? "" : ",");
}

void print_json(const Options& options, const std::vector<Measurement>& results,
                const Totals& raw_totals, const Totals& libpoll_totals) {
  std::printf("{\n  \"impl\": \"%s\",\n  \"capacity\": %zu,\n  \"rounds\": %zu,\n",
              impl_name(options.impl), options.capacity, options.rounds);
  std::printf("  \"warmup\": %zu,\n  \"results\": [\n", options.warmup);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Measurement& m = results[i];
    std::printf(
        "    {\n      \"pairs\": %zu,\n      \"active\": %zu,\n      \"writes\": %zu,\n"
        "      \"events_per_round\": %llu,\n      \"events_per_poll\": %.2f,\n",
        m.plan.pairs, m.plan.active, m.plan.writes,
        static_cast<unsigned long long>(m.events_per_round), m.events_per_poll);
    if (options.impl == Impl::both) {
      std::printf("      \"ratio_libpoll_over_raw\": %.4f,\n", m.libpoll.median / m.raw.median);
      std::printf("      \"paired_ratio_median\": %.4f,\n", m.paired_ratio);
    }
    const bool raw = options.impl != Impl::libpoll;
    const bool lp = options.impl != Impl::raw;
    if (raw) print_summary_json("raw", m.raw, !lp);
    if (lp) print_summary_json("libpoll", m.libpoll, true);
    std::printf("    }%s\n", i + 1 == results.size() ? "" : ",");
  }
  std::printf(
      "  ],\n  \"totals\": {\n    \"run_raw_round\": {\"calls\": %llu, \"events\": %llu},\n"
      "    \"run_libpoll_round\": {\"calls\": %llu, \"events\": %llu}\n  }\n}\n",
      static_cast<unsigned long long>(raw_totals.calls),
      static_cast<unsigned long long>(raw_totals.events),
      static_cast<unsigned long long>(libpoll_totals.calls),
      static_cast<unsigned long long>(libpoll_totals.events));
}

// ---- command line -----------------------------------------------------------------------------

constexpr std::string_view kUsage =
    "usage: chain_bench [options]\n"
    "  --pairs N[,N...]   socket pairs; repeatable (default 100,1000,9984)\n"
    "  --active A         pairs written at the start of a round (default N/10, 1 to 100)\n"
    "  --writes W         chained writes per round (default N, as bench.c's num_writes)\n"
    "  --rounds R         timed rounds per implementation (default 200)\n"
    "  --warmup K         untimed rounds first (default 5)\n"
    "  --capacity C       events per poll (default 1024)\n"
    "  --impl both|raw|libpoll   (default both)\n"
    "  --json             print JSON instead of the table\n";

std::size_t parse_count(std::string_view flag, std::string_view text) {
  std::size_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || ptr != end) {
    throw std::runtime_error(std::string(flag) + ": not a count: '" + std::string(text) + "'");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool pairs_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (const auto equals = arg.find('='); arg.starts_with("--") && equals != arg.npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
      has_value = true;
    }
    const auto next = [&]() -> std::string_view {
      if (has_value) return value;
      if (i + 1 >= argc) throw std::runtime_error(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      std::exit(0);
    } else if (arg == "--pairs") {
      if (!pairs_given) options.pairs.clear();
      pairs_given = true;
      std::string_view list = next();
      for (std::size_t start = 0; start <= list.size();) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        options.pairs.push_back(parse_count(arg, list.substr(start, comma - start)));
        start = comma + 1;
      }
    } else if (arg == "--active") {
      options.active = parse_count(arg, next());
    } else if (arg == "--writes") {
      options.writes = parse_count(arg, next());
    } else if (arg == "--rounds") {
      options.rounds = parse_count(arg, next());
    } else if (arg == "--warmup") {
      options.warmup = parse_count(arg, next());
    } else if (arg == "--capacity") {
      options.capacity = parse_count(arg, next());
    } else if (arg == "--impl") {
      const std::string_view impl = next();
      if (impl == "both") {
        options.impl = Impl::both;
      } else if (impl == "raw") {
        options.impl = Impl::raw;
      } else if (impl == "libpoll") {
        options.impl = Impl::libpoll;
      } else {
        throw std::runtime_error("--impl must be both, raw or libpoll");
      }
    } else if (arg == "--json" && !has_value) {
      options.json = true;
    } else {
      throw std::runtime_error("unknown option '" + std::string(argv[i]) + "' (see --help)");
    }
  }
  if (options.rounds == 0) throw std::runtime_error("--rounds must be at least 1");
  if (options.capacity == 0 || options.capacity > INT_MAX) {
    throw std::runtime_error("--capacity must be between 1 and " + std::to_string(INT_MAX));
  }
  return options;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const rlimit limit = raise_fd_limit();
  Totals raw_totals;
  Totals libpoll_totals;
  std::vector<Measurement> results;
  for (const std::size_t pairs : options.pairs) {
    results.push_back(measure(pairs, options, limit, raw_totals, libpoll_totals));
  }
  if (options.json) {
    print_json(options, results, raw_totals, libpoll_totals);
  } else {
    print_table(options, results, raw_totals, libpoll_totals);
  }
  return 0;
}

}  // namespace chain_bench

int main(int argc, char** argv) {
  try {
    return chain_bench::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "chain_bench: %s\n", error.what());
    return 1;
  }
}
