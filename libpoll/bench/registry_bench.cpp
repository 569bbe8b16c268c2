// registry_bench: what the registration book costs. Every Registry call goes through PollState,
// which checks the book, claims the descriptor process-wide (so that no other Poll registers it),
// keeps a per-fd entry and a token count, and only then calls epoll_ctl. This program times
// those calls against the bare epoll_ctl calls underneath, in the same process, round by round.
//
// The workload (per round, per implementation): N descriptors are registered for readable, then
// reregistered for readable and writable, then deregistered, each phase a loop over all N and
// timed on its own. Reregistering changes the interest and keeps the token, which is what an
// event loop does when it starts or stops waiting for writability; the token table is updated
// all the same (the new token is added before the old one is removed).
//
// raw is epoll_ctl on its own epoll descriptor with exactly what libpoll's epoll backend passes:
// EPOLLIN | EPOLLRDHUP | EPOLLET (| EPOLLOUT after the reregister) and the token in data.u64, and
// a zeroed event for EPOLL_CTL_DEL. libpoll is Registry::register_source, reregister_source and
// deregister_source on UnixStreams (IoSources) of a Poll created with Backend::epoll.
//
// The two implementations use different descriptors: N socket pairs, raw takes the first end of
// each and libpoll the second, so that neither's registrations share a kernel object with the
// other's (each end is its own file, with its own wait queue). Rounds alternate (raw, libpoll,
// libpoll, raw, ...) so that machine noise hits both alike. `--impl twin` puts a second raw loop
// in libpoll's place, on the second ends and an epoll descriptor of its own: the A/A check that
// the two sides cost the same when they do the same (its paired ratios should be 1.00).
//
// The phase functions (run_raw_register, run_raw_reregister, run_raw_deregister and the same for
// libpoll) are never inlined and never cloned, so that
//   valgrind --tool=callgrind --toggle-collect='registry_bench::run_libpoll_register(*'
//     registry_bench --impl libpoll ...
// counts exactly the user-space instructions of the registrations; the "totals:" lines give the
// operations to divide by (warm-up rounds included, as callgrind sees them too).

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libpoll/backend.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source_fd.hpp"
#include "libpoll/token.hpp"

#include "bench_support.hpp"

namespace registry_bench {

using bench::StreamPair;

enum class Impl { both, raw, libpoll, twin };

struct Options {
  std::vector<std::size_t> fds{1000};
  std::size_t rounds = 200;
  std::size_t warmup = 5;
  Impl impl = Impl::both;
  bool json = false;
};

// The three phases of a round, in the order they run.
enum Phase : std::size_t { kRegister, kReregister, kDeregister, kPhases };
constexpr std::array<const char*, kPhases> kPhaseNames{"register", "reregister", "deregister"};

// What a phase did: `done` operations succeeded; when fewer than all, `error` is the failing
// one's.
struct PhaseResult {
  std::size_t done = 0;
  std::error_code error;
};

// ---- raw epoll --------------------------------------------------------------------------------

// Built with LIBPOLL_BENCH_WITHOUT_BOOK, libpoll's registry calls skip its book: the
// difference between the two builds' instruction counts is what the book costs.
#if defined(LIBPOLL_BENCH_WITHOUT_BOOK)
constexpr bool kWithoutBook = true;
#else
constexpr bool kWithoutBook = false;
#endif

constexpr std::uint32_t kRawReadable = EPOLLIN | EPOLLRDHUP | EPOLLET;
constexpr std::uint32_t kRawReadableWritable = EPOLLIN | EPOLLRDHUP | EPOLLOUT | EPOLLET;

struct RawSide {
  RawSide() = default;
  RawSide(const RawSide&) = delete;
  RawSide& operator=(const RawSide&) = delete;
  // Closing the epoll descriptor drops whatever a failed round left registered.
  ~RawSide() {
    if (epoll_fd >= 0) ::close(epoll_fd);
  }

  int epoll_fd = -1;
  std::vector<int> fds;  // the first end of each pair; token = index
};

[[gnu::noinline, gnu::noclone]] PhaseResult run_raw_register(RawSide& side) noexcept {
  const int epoll_fd = side.epoll_fd;
  const int* fds = side.fds.data();
  const std::size_t n = side.fds.size();
  for (std::size_t i = 0; i < n; ++i) {
    epoll_event event{};
    event.events = kRawReadable;
    event.data.u64 = i;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fds[i], &event) < 0) return {i, bench::last_errno()};
  }
  return {n, {}};
}

[[gnu::noinline, gnu::noclone]] PhaseResult run_raw_reregister(RawSide& side) noexcept {
  const int epoll_fd = side.epoll_fd;
  const int* fds = side.fds.data();
  const std::size_t n = side.fds.size();
  for (std::size_t i = 0; i < n; ++i) {
    epoll_event event{};
    event.events = kRawReadableWritable;
    event.data.u64 = i;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fds[i], &event) < 0) return {i, bench::last_errno()};
  }
  return {n, {}};
}

[[gnu::noinline, gnu::noclone]] PhaseResult run_raw_deregister(RawSide& side) noexcept {
  const int epoll_fd = side.epoll_fd;
  const int* fds = side.fds.data();
  const std::size_t n = side.fds.size();
  for (std::size_t i = 0; i < n; ++i) {
    // Non-null, as libpoll's backend passes it (kernels before 2.6.9 required one).
    epoll_event unused{};
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fds[i], &unused) < 0) return {i, bench::last_errno()};
  }
  return {n, {}};
}

// ---- libpoll ----------------------------------------------------------------------------------

struct LibpollSide {
  LibpollSide(libpoll::Poll created, std::vector<StreamPair>& all)
      : poll(std::move(created)), pairs(&all) {}
  LibpollSide(const LibpollSide&) = delete;
  LibpollSide& operator=(const LibpollSide&) = delete;
  ~LibpollSide() { (void)close(); }

  // Deregisters whatever the book still lists (after a failed round), so that the Poll's leak
  // report stays quiet and the descriptors may be closed; the first error, if any.
  std::error_code close() noexcept {
    std::error_code first;
    try {
      for (const libpoll::RegistrationInfo& live : poll.registrations()) {
        if (auto done = poll.registry().deregister_source(libpoll::SourceFd(live.fd));
            !done && !first) {
          first = done.error();
        }
      }
    } catch (const std::bad_alloc&) {
      first = std::make_error_code(std::errc::not_enough_memory);
    }
    return first;
  }

  libpoll::Poll poll;
  std::vector<StreamPair>* pairs;  // registers the second end of each pair; token = index
};

[[gnu::noinline, gnu::noclone]] PhaseResult run_libpoll_register(LibpollSide& side) noexcept {
  const libpoll::Registry& registry = side.poll.registry();
  StreamPair* pairs = side.pairs->data();
  const std::size_t n = side.pairs->size();
  for (std::size_t i = 0; i < n; ++i) {
    if (auto done = registry.register_source(pairs[i].second, libpoll::Token{i},
                                             libpoll::Interest::readable);
        !done) {
      return {i, done.error()};
    }
  }
  return {n, {}};
}

[[gnu::noinline, gnu::noclone]] PhaseResult run_libpoll_reregister(LibpollSide& side) noexcept {
  const libpoll::Registry& registry = side.poll.registry();
  StreamPair* pairs = side.pairs->data();
  const std::size_t n = side.pairs->size();
  for (std::size_t i = 0; i < n; ++i) {
    if (auto done =
            registry.reregister_source(pairs[i].second, libpoll::Token{i},
                                       libpoll::Interest::readable | libpoll::Interest::writable);
        !done) {
      return {i, done.error()};
    }
  }
  return {n, {}};
}

[[gnu::noinline, gnu::noclone]] PhaseResult run_libpoll_deregister(LibpollSide& side) noexcept {
  const libpoll::Registry& registry = side.poll.registry();
  StreamPair* pairs = side.pairs->data();
  const std::size_t n = side.pairs->size();
  for (std::size_t i = 0; i < n; ++i) {
    if (auto done = registry.deregister_source(pairs[i].second); !done) return {i, done.error()};
  }
  return {n, {}};
}

// ---- set-up -----------------------------------------------------------------------------------

// Owns the pairs and both implementations; the implementations go first (members are destroyed
// in reverse order), so that nothing is registered when the pairs are closed.
class Fixture {
 public:
  Fixture(std::size_t n, const rlimit& limit) : pairs_(bench::make_pairs(n, limit)) {
    raw_.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (raw_.epoll_fd < 0) bench::throw_error("epoll_create1", bench::last_errno());
    raw_.fds.reserve(n);
    for (const StreamPair& pair : pairs_) raw_.fds.push_back(pair.first.as_raw_fd());
    twin_.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (twin_.epoll_fd < 0) bench::throw_error("epoll_create1", bench::last_errno());
    twin_.fds.reserve(n);
    for (const StreamPair& pair : pairs_) twin_.fds.push_back(pair.second.as_raw_fd());
    // Backend::epoll, not automatic: LIBPOLL_BACKEND in the environment must not change what
    // is measured.
    auto poll = libpoll::Poll::create(libpoll::Backend::epoll);
    if (!poll) bench::throw_error("Poll::create(Backend::epoll)", poll.error());
    libpoll_.emplace(std::move(*poll), pairs_);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() = default;

  RawSide& raw() noexcept { return raw_; }
  LibpollSide& libpoll() noexcept { return *libpoll_; }
  RawSide& twin() noexcept { return twin_; }

  // Undoes what a failed round left registered and closes everything, reporting failures.
  void close() {
    if (libpoll_) {
      if (auto error = libpoll_->close()) bench::throw_error("deregister_source", error);
      libpoll_.reset();
    }
    for (RawSide* side : {&raw_, &twin_}) {
      if (side->epoll_fd >= 0) {
        ::close(side->epoll_fd);
        side->epoll_fd = -1;
      }
    }
    pairs_.clear();
  }

 private:
  std::vector<StreamPair> pairs_;
  RawSide raw_;
  RawSide twin_;  // the second ends under raw epoll: --impl twin
  std::optional<LibpollSide> libpoll_;
};

// ---- measurement ------------------------------------------------------------------------------

// The rows of the report: the three phases, and a register followed by a deregister (the
// lifetime of a short-lived connection's registration).
enum Row : std::size_t { kRowRegister, kRowReregister, kRowDeregister, kRowPair, kRows };
constexpr std::array<const char*, kRows> kRowNames{"register", "reregister", "deregister",
                                                   "register+deregister"};

// Phase calls over the whole run, for callgrind's instruction counts.
struct Totals {
  std::array<std::uint64_t, kPhases> calls{};
  std::array<std::uint64_t, kPhases> operations{};
};

using RoundNs = std::array<std::uint64_t, kPhases>;

template <class Side>
using PhaseFunction = PhaseResult (*)(Side&) noexcept;

// Runs the three phases of one round on `side`, timing each; throws on the first failure.
template <class Side>
RoundNs timed_round(Side& side, const std::array<PhaseFunction<Side>, kPhases>& phases,
                    std::size_t n, Totals& totals, const char* name, std::size_t round) {
  RoundNs ns{};
  for (std::size_t phase = 0; phase < kPhases; ++phase) {
    const auto start = std::chrono::steady_clock::now();
    const PhaseResult result = phases[phase](side);
    const auto stop = std::chrono::steady_clock::now();
    ns[phase] = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
    ++totals.calls[phase];
    totals.operations[phase] += result.done;
    if (result.done != n) {
      throw std::runtime_error(std::string(name) + " round " + std::to_string(round) + ", " +
                               kPhaseNames[phase] + " of descriptor " +
                               std::to_string(result.done) + " of " + std::to_string(n) + ": " +
                               result.error.message());
    }
  }
  return ns;
}

struct Measurement {
  std::size_t fds = 0;
  std::size_t rounds = 0;
  std::array<bench::Summary, kRows> raw;      // ns per operation
  std::array<bench::Summary, kRows> libpoll;  // ns per operation
  // Median over rounds of libpoll/raw for the two rounds run back to back: less sensitive than
  // the ratio of medians to load that drifts during the run.
  std::array<double, kRows> paired_ratio{};
};

constexpr std::array<PhaseFunction<RawSide>, kPhases> kRawPhases{
    run_raw_register, run_raw_reregister, run_raw_deregister};
constexpr std::array<PhaseFunction<LibpollSide>, kPhases> kLibpollPhases{
    run_libpoll_register, run_libpoll_reregister, run_libpoll_deregister};

// ns per operation for each row, from one round's phase times.
std::array<double, kRows> per_operation(const RoundNs& ns, std::size_t n) {
  const auto per = [n](std::uint64_t total) {
    return static_cast<double>(total) / static_cast<double>(n);
  };
  return {per(ns[kRegister]), per(ns[kReregister]), per(ns[kDeregister]),
          per(ns[kRegister] + ns[kDeregister])};
}

Measurement measure(std::size_t n, const Options& options, const rlimit& limit, Totals& raw_totals,
                    Totals& libpoll_totals) {
  if (n == 0) throw std::runtime_error("--fds must be at least 1");
  // N pairs (N descriptors per implementation) and one epoll descriptor each.
  bench::check_fd_budget(std::to_string(n) + " descriptors per implementation", 2 * n + 2, limit);
  Fixture fixture(n, limit);
  const bool run_raw = options.impl != Impl::libpoll;
  const bool run_libpoll = options.impl != Impl::raw;

  std::array<std::vector<double>, kRows> raw_ns;
  std::array<std::vector<double>, kRows> libpoll_ns;
  std::array<std::vector<double>, kRows> ratios;
  for (std::size_t row = 0; row < kRows; ++row) {
    raw_ns[row].reserve(options.rounds);
    libpoll_ns[row].reserve(options.rounds);
    ratios[row].reserve(options.rounds);
  }

  for (std::size_t round = 0; round < options.warmup + options.rounds; ++round) {
    RoundNs raw{};
    RoundNs lp{};
    const auto do_raw = [&] {
      raw = timed_round(fixture.raw(), kRawPhases, n, raw_totals, "raw", round);
    };
    const auto do_libpoll = [&] {
      if (options.impl == Impl::twin) {
        lp = timed_round(fixture.twin(), kRawPhases, n, libpoll_totals, "twin", round);
      } else {
        lp = timed_round(fixture.libpoll(), kLibpollPhases, n, libpoll_totals, "libpoll", round);
      }
    };
    // Alternate which goes first, so that neither always runs on the other's warm caches.
    if (round % 2 == 0) {
      if (run_raw) do_raw();
      if (run_libpoll) do_libpoll();
    } else {
      if (run_libpoll) do_libpoll();
      if (run_raw) do_raw();
    }
    if (round < options.warmup) continue;
    const std::array<double, kRows> raw_op = per_operation(raw, n);
    const std::array<double, kRows> lp_op = per_operation(lp, n);
    for (std::size_t row = 0; row < kRows; ++row) {
      if (run_raw) raw_ns[row].push_back(raw_op[row]);
      if (run_libpoll) libpoll_ns[row].push_back(lp_op[row]);
      if (run_raw && run_libpoll && raw_op[row] > 0) {
        ratios[row].push_back(lp_op[row] / raw_op[row]);
      }
    }
  }

  // The book must agree with what the phases reported: every operation counted, none failed
  // (unless it was compiled out, for scripts/bench.sh's measure of what it costs).
  if (options.impl != Impl::twin && run_libpoll && !kWithoutBook) {
    const libpoll::PollMetrics metrics = fixture.libpoll().poll.metrics();
    const std::uint64_t expected =
        static_cast<std::uint64_t>(n) * (options.warmup + options.rounds);
    if (metrics.registers != expected || metrics.reregisters != expected ||
        metrics.deregisters != expected || metrics.failed_operations != 0) {
      throw std::runtime_error("libpoll's metrics disagree: " + std::to_string(metrics.registers) +
                               " registers, " + std::to_string(metrics.reregisters) +
                               " reregisters, " + std::to_string(metrics.deregisters) +
                               " deregisters, " + std::to_string(metrics.failed_operations) +
                               " failed; expected " + std::to_string(expected) +
                               " of each and none failed");
    }
  }
  fixture.close();

  Measurement result;
  result.fds = n;
  result.rounds = options.rounds;
  for (std::size_t row = 0; row < kRows; ++row) {
    result.raw[row] = bench::summarize(std::move(raw_ns[row]));
    result.libpoll[row] = bench::summarize(std::move(libpoll_ns[row]));
    result.paired_ratio[row] = bench::summarize(std::move(ratios[row])).median;
  }
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
    case Impl::twin:
      return "twin";
  }
  return "?";
}

// What runs beside raw: libpoll, or raw's twin for the A/A check.
const char* second_side(Impl impl) {
  return impl == Impl::twin ? "twin" : "libpoll";
}

constexpr std::array<const char*, kPhases> kRawFunctions{"run_raw_register", "run_raw_reregister",
                                                         "run_raw_deregister"};
constexpr std::array<const char*, kPhases> kLibpollFunctions{
    "run_libpoll_register", "run_libpoll_reregister", "run_libpoll_deregister"};

void print_table(const Options& options, const std::vector<Measurement>& results,
                 const Totals& raw_totals, const Totals& libpoll_totals) {
  const bool twin = options.impl == Impl::twin;
  const std::string second = second_side(options.impl);
  std::printf(
      "registry_bench: impl %s (%s), %zu timed rounds (+%zu warm-up) per "
      "implementation, rounds interleaved; median ns per operation; paired = median of "
      "per-round %s/raw\n",
      impl_name(options.impl), twin ? "raw epoll against raw epoll" : "libpoll on epoll",
      options.rounds, options.warmup, second.c_str());
  std::printf("%7s  %-20s %11s %14s %12s %8s\n", "fds", "operation", "raw ns/op",
              (second + " ns/op").c_str(), (second + "/raw").c_str(), "paired");
  const bool raw = options.impl != Impl::libpoll;
  const bool lp = options.impl != Impl::raw;
  const auto cell = [](bool present, double value, int width, const char* format) {
    if (present) {
      std::printf(format, width, value);
    } else {
      std::printf("%*s", width, "-");
    }
  };
  for (const Measurement& m : results) {
    for (std::size_t row = 0; row < kRows; ++row) {
      std::printf("%7zu  %-20s", m.fds, kRowNames[row]);
      cell(raw, m.raw[row].median, 12, "%*.1f");
      cell(lp, m.libpoll[row].median, 15, "%*.1f");
      cell(raw && lp, m.libpoll[row].median / m.raw[row].median, 13, "%*.3f");
      cell(raw && lp, m.paired_ratio[row], 9, "%*.3f");
      std::printf("\n");
    }
  }
  const auto totals = [](const std::array<const char*, kPhases>& functions, const Totals& t) {
    for (std::size_t phase = 0; phase < kPhases; ++phase) {
      std::printf("totals: %s calls=%llu operations=%llu\n", functions[phase],
                  static_cast<unsigned long long>(t.calls[phase]),
                  static_cast<unsigned long long>(t.operations[phase]));
    }
  };
  if (raw) totals(kRawFunctions, raw_totals);
  if (lp && !twin) totals(kLibpollFunctions, libpoll_totals);
}

void print_summary_json(const char* name, const bench::Summary& s, bool last) {
  std::printf(
      "        \"%s\": {\"median_ns_per_op\": %.2f, \"p25\": %.2f, \"p75\": %.2f, "
      "\"min\": %.2f}%s\n",
      name, s.median, s.p25, s.p75, s.min, last ? "" : ",");
}

void print_json(const Options& options, const std::vector<Measurement>& results,
                const Totals& raw_totals, const Totals& libpoll_totals) {
  const bool raw = options.impl != Impl::libpoll;
  const bool lp = options.impl != Impl::raw;
  const bool twin = options.impl == Impl::twin;
  const char* second = second_side(options.impl);
  std::printf("{\n  \"impl\": \"%s\",\n  \"backend\": \"epoll\",\n  \"rounds\": %zu,\n",
              impl_name(options.impl), options.rounds);
  std::printf("  \"warmup\": %zu,\n  \"results\": [\n", options.warmup);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Measurement& m = results[i];
    std::printf("    {\n      \"fds\": %zu,\n", m.fds);
    for (std::size_t row = 0; row < kRows; ++row) {
      std::printf("      \"%s\": {\n", kRowNames[row]);
      if (raw && lp) {
        std::printf("        \"ratio_%s_over_raw\": %.4f,\n", second,
                    m.libpoll[row].median / m.raw[row].median);
        std::printf("        \"paired_ratio_median\": %.4f,\n", m.paired_ratio[row]);
      }
      if (raw) print_summary_json("raw", m.raw[row], !lp);
      if (lp) print_summary_json(second, m.libpoll[row], true);
      std::printf("      }%s\n", row + 1 == kRows ? "" : ",");
    }
    std::printf("    }%s\n", i + 1 == results.size() ? "" : ",");
  }
  std::printf("  ],\n  \"totals\": {\n");
  std::vector<std::string> lines;
  const auto add = [&lines](const std::array<const char*, kPhases>& functions, const Totals& t) {
    for (std::size_t phase = 0; phase < kPhases; ++phase) {
      lines.push_back("    \"" + std::string(functions[phase]) +
                      "\": {\"calls\": " + std::to_string(t.calls[phase]) +
                      ", \"operations\": " + std::to_string(t.operations[phase]) + "}");
    }
  };
  if (raw) add(kRawFunctions, raw_totals);
  if (lp && !twin) add(kLibpollFunctions, libpoll_totals);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::printf("%s%s\n", lines[i].c_str(), i + 1 == lines.size() ? "" : ",");
  }
  std::printf("  }\n}\n");
}

// ---- command line -----------------------------------------------------------------------------

constexpr std::string_view kUsage =
    "usage: registry_bench [options]\n"
    "  --fds N[,N...]     descriptors per implementation; repeatable (default 1000)\n"
    "  --rounds R         timed rounds per implementation (default 200)\n"
    "  --warmup K         untimed rounds first (default 5)\n"
    "  --impl both|raw|libpoll|twin   (default both; twin: raw against a second raw loop,\n"
    "                     the A/A check of the two sides)\n"
    "  --json             print JSON instead of the table\n"
    "A round registers all N descriptors, reregisters them (readable -> readable|writable),\n"
    "then deregisters them; each phase is timed on its own.\n";

Options parse_options(int argc, char** argv) {
  Options options;
  bool fds_given = false;
  for (bench::Args args(argc, argv); args.next();) {
    const std::string_view arg = args.flag();
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage.data(), stdout);
      std::exit(0);
    } else if (arg == "--fds") {
      bench::add_counts(arg, args.value(), fds_given, options.fds);
    } else if (arg == "--rounds") {
      options.rounds = bench::parse_count(arg, args.value());
    } else if (arg == "--warmup") {
      options.warmup = bench::parse_count(arg, args.value());
    } else if (arg == "--impl") {
      const std::string_view impl = args.value();
      if (impl == "both") {
        options.impl = Impl::both;
      } else if (impl == "raw") {
        options.impl = Impl::raw;
      } else if (impl == "libpoll") {
        options.impl = Impl::libpoll;
      } else if (impl == "twin") {
        options.impl = Impl::twin;
      } else {
        throw std::runtime_error("--impl must be both, raw, libpoll or twin");
      }
    } else if (args.is_switch("--json")) {
      options.json = true;
    } else {
      args.reject();
    }
  }
  if (options.rounds == 0) throw std::runtime_error("--rounds must be at least 1");
  return options;
}

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const rlimit limit = bench::raise_fd_limit();
  Totals raw_totals;
  Totals libpoll_totals;
  std::vector<Measurement> results;
  for (const std::size_t fds : options.fds) {
    results.push_back(measure(fds, options, limit, raw_totals, libpoll_totals));
  }
  if (options.json) {
    print_json(options, results, raw_totals, libpoll_totals);
  } else {
    print_table(options, results, raw_totals, libpoll_totals);
  }
  return 0;
}

}  // namespace registry_bench

int main(int argc, char** argv) {
  try {
    return registry_bench::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "registry_bench: %s\n", error.what());
    return 1;
  }
}
