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
// Two implementations run side by side (--compare, default raw,libpoll): raw epoll, libpoll on
// its epoll backend ("libpoll"), or libpoll on its poll(2) backend ("libpoll-poll"), so that
// libpoll,libpoll-poll measures what the portable backend costs against epoll in one process.
// Both use the same socket pairs (9984 pairs are 19,968 descriptors: two sets would not fit
// under a 20,000 RLIMIT_NOFILE), in opposite directions: the first implementation watches the
// first end of each pair and writes into the second, the other watches the second end and writes
// into the first. Each end is in exactly one selector, so neither implementation's writes wake
// the other's, and no Poll registers a descriptor another Poll holds (which libpoll refuses).
// Rounds alternate (A, B, B, A, ...) so that machine noise hits both alike, and every pair of
// rounds on the same kernel interface must handle the same number of events. Both make the same
// system calls (read, and send with MSG_NOSIGNAL, which is how libpoll's stream sockets write so
// that a closed peer cannot raise SIGPIPE), so that the difference is libpoll's own code and not
// glibc's send-versus-write.
//
// A readable event reads until a short read: on a stream socket that drains the pair, and epoll
// reports the next arrival whatever was read, so this saves raw epoll and libpoll one failing
// read per event. libpoll's contract is stricter (read until would-block), and the poll(2)
// backend, which emulates edges in user space, is only held to the contract: an early version
// re-armed a source only on would-block and stalled this loop. --drain reads until would-block
// on every side; it is the default whenever libpoll-poll runs, so that a backend comparison stays
// within the contract with both sides running the same loop (--no-drain overrides it).
//
// No cost crosses sides in a libpoll,libpoll-poll run: a source registered with the poll(2)
// selector carries its own link to it for the edge re-arm, and the epoll side's sources have
// none, so the epoll side pays nothing for the poll(2) side living in the same process.
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
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libpoll/backend.hpp"
#include "libpoll/events.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"

#include "bench_support.hpp"

namespace chain_bench {

using bench::StreamPair;
using libpoll::net::UnixStream;

constexpr char kByte = 'e';
// Bytes read per read call: more than can ever be queued on one pair in practice (one per
// active chain), and a short read means the pair is drained.
constexpr std::size_t kReadSize = 64;
constexpr std::size_t kMaxReadsPerEvent = 1 << 20;
constexpr int kStallMs = 5000;

// libpoll_poll is libpoll on its poll(2) backend; libpoll is libpoll on epoll, named explicitly
// (not Backend::automatic) so that LIBPOLL_BACKEND in the environment cannot change what runs.
enum class Impl { raw, libpoll, libpoll_poll };

// The exit status when a requested backend is missing from this build of libpoll, so that
// scripts can tell "not available" from a failed run.
constexpr int kExitBackendUnavailable = 3;

struct Options {
  std::vector<std::size_t> pairs{100, 1000, 9984};
  std::optional<std::size_t> active;  // default: pairs / 10, at least 1, at most 100
  std::optional<std::size_t> writes;  // default: pairs
  std::size_t rounds = 200;
  // Timed rounds when either side runs on poll(2), whose every wait costs O(registered fds):
  // at 9,984 pairs a round is far longer than on epoll. Default: rounds.
  std::optional<std::size_t> poll_rounds;
  std::size_t warmup = 5;
  std::size_t capacity = 1024;
  // Read until would-block, not until a short read. Default: only when libpoll-poll runs.
  std::optional<bool> drain;
  // Wall-time bound per configuration (warm-up included), in seconds; 0: none. Past it the
  // warm-up is cut and the timed rounds stop (after at least one), so that a slow backend
  // cannot make a run unbounded; a round itself always runs to its end.
  std::size_t time_limit = 600;
  // One implementation, or two run interleaved; the first watches the first ends of the pairs.
  std::vector<Impl> impls{Impl::raw, Impl::libpoll};
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
  // A read shorter than this ends an event's reads: kReadSize (a short read drained the pair),
  // or 0 with --drain, so that only would-block ends them.
  std::size_t short_read = kReadSize;
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
        first = bench::last_errno();
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
  const std::size_t short_read = plan.short_read;
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
        if (size < short_read) break;
      }
    }
  }
  return counts;
}

// ---- libpoll ----------------------------------------------------------------------------------

struct LibpollSide {
  LibpollSide(libpoll::Poll created, std::size_t capacity, std::span<StreamPair> all, bool first)
      : poll(std::move(created)), events(capacity), pairs(all), watches_first(first) {}
  LibpollSide(const LibpollSide&) = delete;
  LibpollSide& operator=(const LibpollSide&) = delete;
  ~LibpollSide() { (void)close(); }

  UnixStream& watched(std::size_t i) noexcept {
    return watches_first ? pairs[i].first : pairs[i].second;
  }

  // Deregisters every stream (libpoll requires it before the streams are closed).
  std::error_code close() noexcept {
    std::error_code first;
    for (std::size_t i = 0; i < registered; ++i) {
      if (auto done = poll.registry().deregister_source(watched(i)); !done && !first) {
        first = done.error();
      }
    }
    registered = 0;
    return first;
  }

  libpoll::Poll poll;
  libpoll::Events events;
  // Watches .first and writes into .second when watches_first, the other way round otherwise:
  // a byte written into one end wakes the other.
  std::span<StreamPair> pairs;
  bool watches_first;
  std::size_t registered = 0;
};

// The round, for either direction. The direction is a template parameter, not a run-time choice
// per access, so that each copy indexes the pairs exactly as a one-direction loop would, and each
// copy is a function of its own: inlined into the dispatcher below, the two copies compiled to
// 3 more instructions per event than a one-direction loop.
template <bool kWatchFirst>
[[gnu::noinline]] RoundCounts libpoll_round(LibpollSide& side, const Plan& plan) noexcept {
  RoundCounts counts;
  const std::size_t n = plan.pairs;
  StreamPair* pairs = side.pairs.data();
  const auto watched = [pairs](std::size_t i) -> UnixStream& {
    if constexpr (kWatchFirst) return pairs[i].first;
    return pairs[i].second;
  };
  const auto written = [pairs](std::size_t i) -> UnixStream& {
    if constexpr (kWatchFirst) return pairs[i].second;
    return pairs[i].first;
  };
  const std::optional<std::chrono::nanoseconds> timeout = std::chrono::milliseconds(kStallMs);
  const std::string_view byte(&kByte, 1);
  const std::size_t short_read = plan.short_read;
  std::uint64_t fired = 0;
  std::size_t writes_left = plan.writes;

  for (std::size_t i = 0; i < plan.active; ++i) {
    auto wrote = written(i * plan.spacing).write(byte);
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
        auto got = watched(index).read(std::span<char>(buffer));
        if (!got) {
          if (libpoll::is_would_block(got.error())) break;
          return fail(counts, Failure::read_failed, got.error().value());
        }
        const std::size_t size = *got;
        if (size == 0) return fail(counts, Failure::end_of_stream);
        counts.bytes += size;
        for (std::size_t b = 0; b < size && writes_left > 0; ++b, --writes_left) {
          auto wrote = written(next).write(byte);
          if (!wrote || *wrote != 1) {
            return fail(counts, Failure::write_failed, wrote.error().value());
          }
          ++fired;
        }
        if (size < short_read) break;
      }
    }
  }
  return counts;
}

// The same function whatever the backend: a Poll on poll(2) differs only inside Poll::poll and
// the registry, which is what the comparison measures.
[[gnu::noinline, gnu::noclone]] RoundCounts run_libpoll_round(LibpollSide& side,
                                                              const Plan& plan) noexcept {
  return side.watches_first ? libpoll_round<true>(side, plan) : libpoll_round<false>(side, plan);
}

// ---- set-up -----------------------------------------------------------------------------------

const char* impl_name(Impl impl) {
  switch (impl) {
    case Impl::raw:
      return "raw";
    case Impl::libpoll:
      return "libpoll";
    case Impl::libpoll_poll:
      return "libpoll-poll";
  }
  return "?";
}

std::optional<Impl> parse_impl(std::string_view name) {
  for (const Impl impl : {Impl::raw, Impl::libpoll, Impl::libpoll_poll}) {
    if (name == impl_name(impl)) return impl;
  }
  return std::nullopt;
}

bool runs_on_poll(Impl impl) {
  return impl == Impl::libpoll_poll;
}

bool uses_poll(const std::vector<Impl>& impls) {
  return std::any_of(impls.begin(), impls.end(), runs_on_poll);
}

libpoll::Backend backend_of(Impl impl) {
  return runs_on_poll(impl) ? libpoll::Backend::poll : libpoll::Backend::epoll;
}

// A requested backend that this build of libpoll does not have (the poll(2) backend, until it
// is merged): reported on its own, with its own exit status.
class BackendUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

libpoll::Poll create_poll(Impl impl) {
  auto poll = libpoll::Poll::create(backend_of(impl));
  if (!poll && poll.error() == std::errc::function_not_supported) {
    throw BackendUnavailable(std::string(impl_name(impl)) + " needs libpoll's " +
                             (runs_on_poll(impl) ? "poll(2)" : "epoll") +
                             " backend, which this build of libpoll does not have "
                             "(Poll::create(Backend::" +
                             std::string(libpoll::to_string(backend_of(impl))) +
                             "): " + poll.error().message() + ")");
  }
  if (!poll) bench::throw_error("Poll::create", poll.error());
  return std::move(*poll);
}

// Totals of one side over the whole run, for callgrind's instruction counts.
struct Totals {
  std::uint64_t calls = 0;
  std::uint64_t events = 0;
};

// One implementation of the comparison, on one end of every pair.
struct Side {
  Impl impl = Impl::raw;
  std::string label;  // the implementation's name, numbered when both sides run the same one
  RawSide raw;        // when impl is raw
  std::optional<LibpollSide> libpoll;
};

std::vector<std::string> side_labels(const std::vector<Impl>& impls) {
  std::vector<std::string> labels;
  for (const Impl impl : impls) labels.emplace_back(impl_name(impl));
  if (labels.size() == 2 && labels[0] == labels[1]) {
    labels[0] += ".1";
    labels[1] += ".2";
  }
  return labels;
}

// Owns the pairs and the sides; every registration is undone before the pairs are closed
// (members are destroyed in reverse order: the sides, then the pairs).
class Fixture {
 public:
  Fixture(const Plan& plan, const std::vector<Impl>& impls, const rlimit& limit)
      : pairs_(bench::make_pairs(plan.pairs, limit)) {
    const std::vector<std::string> labels = side_labels(impls);
    for (std::size_t s = 0; s < impls.size(); ++s) {
      auto& side = *sides_.emplace_back(std::make_unique<Side>());
      side.impl = impls[s];
      side.label = labels[s];
      const bool first = s == 0;
      if (impls[s] == Impl::raw) {
        open_raw(side.raw, plan, first);
      } else {
        open_libpoll(side, plan, first);
      }
    }
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() = default;

  [[nodiscard]] std::size_t sides() const noexcept { return sides_.size(); }
  Side& side(std::size_t s) noexcept { return *sides_[s]; }

  // Deregisters everything and closes every descriptor, reporting failures.
  void close() {
    for (auto& side : sides_) {
      if (side->libpoll) {
        if (auto error = side->libpoll->close()) bench::throw_error("deregister_source", error);
        side->libpoll.reset();
      }
      if (auto error = side->raw.close()) bench::throw_error("epoll_ctl(EPOLL_CTL_DEL)", error);
    }
    sides_.clear();
    pairs_.clear();
  }

 private:
  void open_raw(RawSide& raw, const Plan& plan, bool first) {
    raw.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (raw.epoll_fd < 0) bench::throw_error("epoll_create1", bench::last_errno());
    raw.events.resize(plan.capacity);
    raw.read_fd.reserve(plan.pairs);
    raw.write_fd.reserve(plan.pairs);
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      const int a = pairs_[i].first.as_raw_fd();
      const int b = pairs_[i].second.as_raw_fd();
      raw.read_fd.push_back(first ? a : b);
      raw.write_fd.push_back(first ? b : a);
    }
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      epoll_event event{};
      event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
      event.data.u64 = i;
      if (::epoll_ctl(raw.epoll_fd, EPOLL_CTL_ADD, raw.read_fd[i], &event) < 0) {
        bench::throw_error("epoll_ctl(EPOLL_CTL_ADD)", bench::last_errno());
      }
      raw.registered = i + 1;
    }
  }

  void open_libpoll(Side& side, const Plan& plan, bool first) {
    auto& lp = side.libpoll.emplace(create_poll(side.impl), plan.capacity,
                                    std::span<StreamPair>(pairs_), first);
    for (std::size_t i = 0; i < plan.pairs; ++i) {
      auto done = lp.poll.registry().register_source(lp.watched(i), libpoll::Token{i},
                                                     libpoll::Interest::readable);
      if (!done) bench::throw_error("register_source", done.error());
      lp.registered = i + 1;
    }
  }

  std::vector<StreamPair> pairs_;
  std::vector<std::unique_ptr<Side>> sides_;
};

// ---- measurement ------------------------------------------------------------------------------

// What one side did in one configuration.
struct SideResult {
  std::string label;
  bench::Summary ns_per_event;
  std::uint64_t events_per_round = 0;
  double events_per_poll = 0;
};

struct Measurement {
  Plan plan;
  std::size_t rounds = 0;  // timed rounds actually run (fewer than asked if the time limit hit)
  bool time_limited = false;
  std::vector<SideResult> sides;
  // Median over rounds of second/first for the two rounds run back to back: less sensitive than
  // the ratio of medians to load that drifts during the run.
  double paired_ratio = 0;
};

bool drains(const Options& options) {
  return options.drain.value_or(uses_poll(options.impls));
}

Plan make_plan(std::size_t pairs, const Options& options) {
  Plan plan;
  plan.pairs = pairs;
  plan.active = options.active.value_or(std::clamp<std::size_t>(pairs / 10, 1, 100));
  plan.writes = options.writes.value_or(pairs);
  plan.capacity = options.capacity;
  if (drains(options)) plan.short_read = 0;
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

RoundCounts run_round(Side& side, const Plan& plan) noexcept {
  return side.libpoll ? run_libpoll_round(*side.libpoll, plan) : run_raw_round(side.raw, plan);
}

RoundCounts timed_round(Side& side, const Plan& plan, std::uint64_t& ns, Totals& totals,
                        std::size_t index) {
  const auto start = std::chrono::steady_clock::now();
  const RoundCounts counts = run_round(side, plan);
  const auto stop = std::chrono::steady_clock::now();
  ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
  ++totals.calls;
  totals.events += counts.events;
  const std::string& name = side.label;
  const std::uint64_t expected = plan.active + plan.writes;
  if (counts.failure == Failure::none && counts.bytes != expected) {
    throw std::runtime_error(name + " round " + std::to_string(index) + " read " +
                             std::to_string(counts.bytes) + " bytes, expected " +
                             std::to_string(expected));
  }
  if (counts.failure != Failure::none) {
    throw std::runtime_error(std::to_string(plan.pairs) + " pairs, " + name + " round " +
                             std::to_string(index) + ": " + describe(counts.failure, counts.error));
  }
  if (counts.events == 0) throw std::runtime_error(name + " round had no events");
  return counts;
}

Measurement measure(std::size_t pairs, const Options& options, const rlimit& limit,
                    std::vector<Totals>& totals) {
  const Plan plan = make_plan(pairs, options);
  // Both ends of every pair, and one per side for its epoll descriptor or Poll.
  bench::check_fd_budget(std::to_string(pairs) + " pairs", 2 * pairs + options.impls.size(), limit);
  Fixture fixture(plan, options.impls, limit);
  const std::size_t sides = fixture.sides();
  const std::size_t rounds =
      uses_poll(options.impls) ? options.poll_rounds.value_or(options.rounds) : options.rounds;
  // Two sides on the same kernel interface see the same readiness in the same order, so they
  // must handle the same number of events; poll(2) against epoll may batch (and so merge)
  // differently, and then each side's time is divided by its own events.
  const bool same_events =
      sides == 2 && runs_on_poll(options.impls[0]) == runs_on_poll(options.impls[1]);

  std::vector<std::vector<double>> ns_per_event(sides);
  std::vector<std::uint64_t> events_per_round(sides, 0);
  std::vector<std::uint64_t> events(sides, 0);
  std::vector<std::uint64_t> polls(sides, 0);
  std::vector<double> ratios;
  for (auto& values : ns_per_event) values.reserve(rounds);
  ratios.reserve(rounds);
  std::size_t timed = 0;
  bool time_limited = false;
  const auto began = std::chrono::steady_clock::now();

  for (std::size_t round = 0; round < options.warmup + rounds; ++round) {
    // Checked between rounds (a round is never cut short): past the limit, the rest of the
    // warm-up is skipped, and the timed rounds stop once there is one.
    if (options.time_limit > 0 &&
        std::chrono::steady_clock::now() - began > std::chrono::seconds(options.time_limit)) {
      time_limited = true;
      if (timed > 0) break;
      round = std::max(round, options.warmup);
    }
    std::array<RoundCounts, 2> counts{};
    std::array<std::uint64_t, 2> ns{};
    const auto run = [&](std::size_t s) {
      counts[s] = timed_round(fixture.side(s), plan, ns[s], totals[s], round);
    };
    // Alternate which goes first, so that neither always runs on the other's warm caches.
    if (sides == 1) {
      run(0);
    } else if (round % 2 == 0) {
      run(0);
      run(1);
    } else {
      run(1);
      run(0);
    }
    if (same_events && counts[0].events != counts[1].events) {
      throw std::runtime_error(std::to_string(pairs) + " pairs, round " + std::to_string(round) +
                               ": " + fixture.side(0).label + " handled " +
                               std::to_string(counts[0].events) + " events, " +
                               fixture.side(1).label + " " + std::to_string(counts[1].events));
    }
    for (std::size_t s = 0; s < sides; ++s) {
      events_per_round[s] = std::max(events_per_round[s], counts[s].events);
    }
    if (round < options.warmup) continue;
    ++timed;
    for (std::size_t s = 0; s < sides; ++s) {
      events[s] += counts[s].events;
      polls[s] += counts[s].polls;
      ns_per_event[s].push_back(static_cast<double>(ns[s]) / static_cast<double>(counts[s].events));
    }
    if (sides == 2 && ns[0] > 0) {
      ratios.push_back(static_cast<double>(ns[1]) / static_cast<double>(ns[0]));
    }
  }

  Measurement result;
  result.plan = plan;
  result.rounds = timed;
  result.time_limited = time_limited;
  for (std::size_t s = 0; s < sides; ++s) {
    SideResult side;
    side.label = fixture.side(s).label;
    side.ns_per_event = bench::summarize(std::move(ns_per_event[s]));
    side.events_per_round = events_per_round[s];
    side.events_per_poll =
        polls[s] == 0 ? 0 : static_cast<double>(events[s]) / static_cast<double>(polls[s]);
    result.sides.push_back(std::move(side));
  }
  result.paired_ratio = bench::summarize(std::move(ratios)).median;
  fixture.close();
  return result;
}

// ---- report -----------------------------------------------------------------------------------

std::string describe_impls(const std::vector<Impl>& impls) {
  std::string text;
  for (const Impl impl : impls) {
    if (!text.empty()) text += " vs ";
    text += impl_name(impl);
    if (impl != Impl::raw) text += runs_on_poll(impl) ? " (poll(2))" : " (epoll)";
  }
  return text;
}

const char* round_function(Impl impl) {
  return impl == Impl::raw ? "run_raw_round" : "run_libpoll_round";
}

void print_table(const Options& options, const std::vector<Measurement>& results,
                 const std::vector<Totals>& totals) {
  const std::vector<std::string> labels = side_labels(options.impls);
  const bool two = labels.size() == 2;
  std::printf(
      "chain_bench: %s, capacity %zu,%s %zu timed rounds (+%zu warm-up) per implementation, "
      "rounds interleaved; median ns per event",
      describe_impls(options.impls).c_str(), options.capacity,
      drains(options) ? " reads until would-block," : "",
      uses_poll(options.impls) ? options.poll_rounds.value_or(options.rounds) : options.rounds,
      options.warmup);
  if (two) {
    std::printf("; paired = median of per-round %s/%s", labels[1].c_str(), labels[0].c_str());
  }
  std::printf("\n");
  std::printf("%7s %7s %7s %12s %8s", "pairs", "active", "writes", "events/round", "ev/poll");
  std::vector<int> widths;
  for (const std::string& label : labels) {
    const std::string head = label + " ns/ev";
    widths.push_back(std::max<int>(12, static_cast<int>(head.size()) + 1));
    std::printf("%*s", widths.back(), head.c_str());
  }
  const std::string ratio_head = two ? labels[1] + "/" + labels[0] : "ratio";
  const int ratio_width = std::max<int>(13, static_cast<int>(ratio_head.size()) + 1);
  const auto dash = [](int width) { std::printf("%*s", width, "-"); };
  if (two) {
    std::printf("%*s %8s", ratio_width, ratio_head.c_str(), "paired");
  } else {
    std::printf("%*s %8s", ratio_width, "-", "-");
  }
  std::printf(" %7s\n", "rounds");
  for (const Measurement& m : results) {
    const SideResult& first = m.sides.front();
    std::printf("%7zu %7zu %7zu %12llu %8.1f", m.plan.pairs, m.plan.active, m.plan.writes,
                static_cast<unsigned long long>(first.events_per_round), first.events_per_poll);
    for (std::size_t s = 0; s < m.sides.size(); ++s) {
      std::printf("%*.1f", widths[s], m.sides[s].ns_per_event.median);
    }
    if (two) {
      std::printf("%*.3f %8.3f", ratio_width,
                  m.sides[1].ns_per_event.median / m.sides[0].ns_per_event.median, m.paired_ratio);
    } else {
      dash(ratio_width);
      std::printf(" ");
      dash(8);
    }
    std::printf(" %7zu%s\n", m.rounds, m.time_limited ? " (time limit)" : "");
  }
  for (const Measurement& m : results) {
    if (!two) break;
    const SideResult& a = m.sides[0];
    const SideResult& b = m.sides[1];
    if (a.events_per_round == b.events_per_round && a.events_per_poll == b.events_per_poll) {
      continue;
    }
    std::printf(
        "note: %zu pairs: %s handled up to %llu events per round, %.1f per poll; %s %llu, "
        "%.1f per poll\n",
        m.plan.pairs, a.label.c_str(), static_cast<unsigned long long>(a.events_per_round),
        a.events_per_poll, b.label.c_str(), static_cast<unsigned long long>(b.events_per_round),
        b.events_per_poll);
  }
  for (std::size_t s = 0; s < labels.size(); ++s) {
    std::printf("totals: %s calls=%llu events=%llu impl=%s\n", round_function(options.impls[s]),
                static_cast<unsigned long long>(totals[s].calls),
                static_cast<unsigned long long>(totals[s].events), labels[s].c_str());
  }
}

void print_summary_json(const SideResult& side, bool last) {
  const bench::Summary& s = side.ns_per_event;
  std::printf(
      "      \"%s\": {\"median_ns_per_event\": %.2f, \"p25\": %.2f, \"p75\": %.2f, "
      "\"min\": %.2f, \"events_per_round\": %llu, \"events_per_poll\": %.2f}%s\n",
      side.label.c_str(), s.median, s.p25, s.p75, s.min,
      static_cast<unsigned long long>(side.events_per_round), side.events_per_poll,
      last ? "" : ",");
}

void print_json(const Options& options, const std::vector<Measurement>& results,
                const std::vector<Totals>& totals) {
  const std::vector<std::string> labels = side_labels(options.impls);
  const bool two = labels.size() == 2;
  std::printf("{\n  \"impl\": \"%s\",\n  \"compare\": [", two ? "both" : labels[0].c_str());
  for (std::size_t s = 0; s < labels.size(); ++s) {
    std::printf("%s\"%s\"", s == 0 ? "" : ", ", labels[s].c_str());
  }
  std::printf("],\n  \"capacity\": %zu,\n  \"drain\": %s,\n  \"rounds\": %zu,\n", options.capacity,
              drains(options) ? "true" : "false", options.rounds);
  if (uses_poll(options.impls)) {
    std::printf("  \"poll_rounds\": %zu,\n", options.poll_rounds.value_or(options.rounds));
  }
  std::printf("  \"warmup\": %zu,\n  \"time_limit_s\": %zu,\n  \"results\": [\n", options.warmup,
              options.time_limit);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Measurement& m = results[i];
    const SideResult& first = m.sides.front();
    std::printf(
        "    {\n      \"pairs\": %zu,\n      \"active\": %zu,\n      \"writes\": %zu,\n"
        "      \"rounds\": %zu,\n      \"time_limited\": %s,\n"
        "      \"events_per_round\": %llu,\n      \"events_per_poll\": %.2f,\n",
        m.plan.pairs, m.plan.active, m.plan.writes, m.rounds, m.time_limited ? "true" : "false",
        static_cast<unsigned long long>(first.events_per_round), first.events_per_poll);
    if (two) {
      std::printf("      \"ratio_%s_over_%s\": %.4f,\n", labels[1].c_str(), labels[0].c_str(),
                  m.sides[1].ns_per_event.median / m.sides[0].ns_per_event.median);
      std::printf("      \"paired_ratio_median\": %.4f,\n", m.paired_ratio);
    }
    for (std::size_t s = 0; s < m.sides.size(); ++s) {
      print_summary_json(m.sides[s], s + 1 == m.sides.size());
    }
    std::printf("    }%s\n", i + 1 == results.size() ? "" : ",");
  }
  std::printf("  ],\n  \"totals\": {\n");
  for (std::size_t s = 0; s < labels.size(); ++s) {
    std::printf("    \"%s\": {\"function\": \"%s\", \"calls\": %llu, \"events\": %llu}%s\n",
                labels[s].c_str(), round_function(options.impls[s]),
                static_cast<unsigned long long>(totals[s].calls),
                static_cast<unsigned long long>(totals[s].events),
                s + 1 == labels.size() ? "" : ",");
  }
  std::printf("  }\n}\n");
}

// ---- command line -----------------------------------------------------------------------------

constexpr std::string_view kUsage =
    "usage: chain_bench [options]\n"
    "  --pairs N[,N...]   socket pairs; repeatable (default 100,1000,9984)\n"
    "  --active A         pairs written at the start of a round (default N/10, 1 to 100)\n"
    "  --writes W         chained writes per round (default N, as bench.c's num_writes)\n"
    "  --rounds R         timed rounds per implementation (default 200)\n"
    "  --poll-rounds R    timed rounds instead when an implementation runs on poll(2)\n"
    "                     (default: --rounds)\n"
    "  --warmup K         untimed rounds first (default 5)\n"
    "  --time-limit S     stop a configuration's rounds after S seconds, warm-up included,\n"
    "                     with at least one timed round done (default 600; 0: no limit);\n"
    "                     checked between rounds, which are never cut short\n"
    "  --capacity C       events per poll (default 1024)\n"
    "  --drain            read until would-block, not until a short read (the default when\n"
    "                     libpoll-poll runs, as libpoll's contract asks; --no-drain: never)\n"
    "  --compare A,B      the two implementations run interleaved (default raw,libpoll); A\n"
    "                     watches the first end of each pair, B the second\n"
    "  --impl both|I      both of --compare (default), or implementation I alone\n"
    "                     implementations: raw (epoll_wait by hand), libpoll (libpoll on\n"
    "                     epoll), libpoll-poll (libpoll on poll(2))\n"
    "  --json             print JSON instead of the table\n"
    "exit status: 0, 1 on failure, 3 when a requested libpoll backend is not in this build\n";

Impl impl_argument(std::string_view flag, std::string_view name) {
  if (auto impl = parse_impl(name)) return *impl;
  throw std::runtime_error(std::string(flag) + ": unknown implementation '" + std::string(name) +
                           "' (raw, libpoll or libpoll-poll)");
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool pairs_given = false;
  std::optional<Impl> alone;
  std::array<Impl, 2> compare{Impl::raw, Impl::libpoll};
  for (bench::Args args(argc, argv); args.next();) {
    const std::string_view arg = args.flag();
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      std::exit(0);
    } else if (arg == "--pairs") {
      bench::add_counts(arg, args.value(), pairs_given, options.pairs);
    } else if (arg == "--active") {
      options.active = bench::parse_count(arg, args.value());
    } else if (arg == "--writes") {
      options.writes = bench::parse_count(arg, args.value());
    } else if (arg == "--rounds") {
      options.rounds = bench::parse_count(arg, args.value());
    } else if (arg == "--poll-rounds") {
      options.poll_rounds = bench::parse_count(arg, args.value());
    } else if (arg == "--warmup") {
      options.warmup = bench::parse_count(arg, args.value());
    } else if (arg == "--time-limit") {
      options.time_limit = bench::parse_count(arg, args.value());
    } else if (arg == "--capacity") {
      options.capacity = bench::parse_count(arg, args.value());
    } else if (arg == "--compare") {
      const std::vector<std::string_view> names = bench::split(args.value());
      if (names.size() != 2) throw std::runtime_error("--compare takes two implementations, A,B");
      compare = {impl_argument(arg, names[0]), impl_argument(arg, names[1])};
    } else if (arg == "--impl") {
      const std::string_view impl = args.value();
      alone = impl == "both" ? std::nullopt : std::optional<Impl>(impl_argument(arg, impl));
    } else if (args.is_switch("--drain")) {
      options.drain = true;
    } else if (args.is_switch("--no-drain")) {
      options.drain = false;
    } else if (args.is_switch("--json")) {
      options.json = true;
    } else {
      args.reject();
    }
  }
  if (options.rounds == 0) throw std::runtime_error("--rounds must be at least 1");
  if (options.poll_rounds == std::size_t{0}) {
    throw std::runtime_error("--poll-rounds must be at least 1");
  }
  if (options.capacity == 0 || options.capacity > INT_MAX) {
    throw std::runtime_error("--capacity must be between 1 and " + std::to_string(INT_MAX));
  }
  options.impls =
      alone ? std::vector<Impl>{*alone} : std::vector<Impl>(compare.begin(), compare.end());
  return options;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  // A missing backend is reported before thousands of descriptors are opened for it.
  for (const Impl impl : options.impls) {
    if (impl != Impl::raw) (void)create_poll(impl);
  }
  const rlimit limit = bench::raise_fd_limit();
  std::vector<Totals> totals(options.impls.size());
  std::vector<Measurement> results;
  for (const std::size_t pairs : options.pairs) {
    results.push_back(measure(pairs, options, limit, totals));
  }
  if (options.json) {
    print_json(options, results, totals);
  } else {
    print_table(options, results, totals);
  }
  return 0;
}

}  // namespace chain_bench

int main(int argc, char** argv) {
  try {
    return chain_bench::run(argc, argv);
  } catch (const chain_bench::BackendUnavailable& error) {
    std::fprintf(stderr, "chain_bench: %s\n", error.what());
    return chain_bench::kExitBackendUnavailable;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "chain_bench: %s\n", error.what());
    return 1;
  }
}
