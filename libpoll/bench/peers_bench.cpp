// peers_bench: libpoll against raw epoll, libev, libuv and libevent on the same workloads, in
// one process, each implementation's rounds interleaved with the others' in blocks; beside them
// the completion floor (raw-io_uring-recv, uring_recv_loop.cpp), which reads without a read call:
//   dispatch  write one byte to each of `active` (100) of N socket pairs, run the loop until
//             every byte was read: ns per event;
//   churn     the same, with every handled source watched anew (a reregister);
//   register  watch then unwatch all N read ends, each followed by one loop iteration that
//             waits for nothing (which makes what libev and libuv defer): ns per register, per
//             deregister;
//   pingpong  a byte bounced off a loop serving echo in another thread, both on one CPU: p50
//             round trip, and the median over blocks of each block's p50 over raw epoll's.
// Prints "result <work> <pairs> <impl> <value>" lines; scripts/bench.sh makes the ratio table.
// --work picks the workloads of a run (a comma list; all four by default): scripts/bench.sh runs
// ping-pong alone in several processes, since one process can keep an implementation's p50 on
// either of a trip's two paths (see run_pingpong).
// With --impl, one implementation's dispatch or churn rounds alone, for callgrind: its
// "totals: dispatch_round events=<n>" line gives the events to divide the instructions by;
// with --work register, its register rounds ("totals: register_round calls=<n>", registers
// and deregisters together).

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "peer_loops.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> impls = {"raw",
                                    "raw-io_uring-recv",
                                    "libpoll",
                                    "libpoll-own",
                                    "libpoll-io_uring",
                                    "libpoll-io_uring-own",
                                    "libpoll-io_uring-bound",
                                    "libpoll-io_uring-bound-own",
                                    "libpoll-io_uring-ahead-own",
                                    "libev",
                                    "libuv",
                                    "libevent"};
  std::vector<std::size_t> pairs = {100, 1000, 9984};
  std::size_t rounds = 100;  // timed dispatch/churn rounds per implementation and size
  std::size_t blocks = 4;    // interleaving blocks
  std::size_t trips = 1000;  // ping-pong round trips per implementation
  std::string single;        // --impl: one implementation, for callgrind
  // --work: with --impl, dispatch, churn or register (dispatch when empty); otherwise the
  // workloads to run, all four when empty.
  std::vector<std::string> work;

  [[nodiscard]] bool runs(std::string_view name) const {
    return work.empty() || std::find(work.begin(), work.end(), name) != work.end();
  }
  [[nodiscard]] std::string single_work() const { return work.empty() ? "dispatch" : work[0]; }
};

constexpr std::array<std::string_view, 4> kWorkloads = {"dispatch", "churn", "register",
                                                        "pingpong"};

double ns_since(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

void write_active(std::vector<bench::StreamPair>& pairs, std::size_t active) {
  const std::size_t stride = pairs.size() / active;
  for (std::size_t i = 0; i < active; ++i) (void)pairs[i * stride].second.write("x");
}

void report(const char* work, std::size_t pairs, const std::string& impl, double value) {
  std::printf("result %s %zu %s %.1f\n", work, pairs, impl.c_str(), value);
}

// dispatch and churn at one size: ns per event, median of the rounds.
void run_dispatch(const Options& options, std::vector<bench::StreamPair>& pairs, bool churn,
                  std::vector<std::unique_ptr<peers::Loop>>& loops) {
  const std::size_t active = std::min<std::size_t>(100, pairs.size());
  std::vector<std::vector<double>> samples(loops.size());
  for (std::size_t block = 0; block < options.blocks; ++block) {
    // Each block starts with the next implementation: what ran just before a loop (its caches,
    // the kernel's slabs) moves its time by a few hundredths, so none always follows the same.
    for (std::size_t turn = 0; turn < loops.size(); ++turn) {
      const std::size_t i = (block + turn) % loops.size();
      loops[i]->watch_all(pairs);
      for (std::size_t round = 0; round < 2 + options.rounds / options.blocks; ++round) {
        const auto start = Clock::now();
        write_active(pairs, active);
        loops[i]->dispatch_round(active, churn);
        if (round >= 2) samples[i].push_back(ns_since(start) / static_cast<double>(active));
      }
      loops[i]->unwatch_all();
      loops[i]->settle();
    }
  }
  for (std::size_t i = 0; i < loops.size(); ++i) {
    report(churn ? "churn" : "dispatch", pairs.size(), options.impls[i],
           bench::summarize(samples[i]).median);
  }
}

// register/deregister at one size: ns per call, median of the blocks' rounds.
void run_register(const Options& options, std::vector<bench::StreamPair>& pairs,
                  std::vector<std::unique_ptr<peers::Loop>>& loops) {
  std::vector<std::vector<double>> added(loops.size());
  std::vector<std::vector<double>> removed(loops.size());
  const auto n = static_cast<double>(pairs.size());
  for (std::size_t block = 0; block < options.blocks * 3; ++block) {
    for (std::size_t turn = 0; turn < loops.size(); ++turn) {  // rotating, as run_dispatch
      const std::size_t i = (block + turn) % loops.size();
      // Each with the loop iteration that makes what a loop defers (libev, libuv): a register
      // a loop never makes costs its user nothing, and measures nothing.
      auto start = Clock::now();
      loops[i]->watch_all(pairs);
      loops[i]->apply();
      added[i].push_back(ns_since(start) / n);
      start = Clock::now();
      loops[i]->unwatch_all();
      loops[i]->apply();
      removed[i].push_back(ns_since(start) / n);
      loops[i]->settle();
    }
  }
  for (std::size_t i = 0; i < loops.size(); ++i) {
    report("register", pairs.size(), options.impls[i], bench::summarize(added[i]).median);
    report("deregister", pairs.size(), options.impls[i], bench::summarize(removed[i]).median);
  }
}

// Pins the calling thread to `cpu` when the machine has more than one; returns whether it did.
bool pin_to_cpu(int cpu) {
  if (std::thread::hardware_concurrency() < 2) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set) == 0;
}

// Each block's value over raw epoll's in the same block, and the median of those: the ratio
// that a drift of the machine's speed between blocks does not move.
void report_paired(const char* work, const Options& options,
                   const std::vector<std::vector<double>>& per_block) {
  const auto raw = std::find(options.impls.begin(), options.impls.end(), "raw");
  if (raw == options.impls.end()) return;
  const auto& reference = per_block[static_cast<std::size_t>(raw - options.impls.begin())];
  for (std::size_t i = 0; i < per_block.size(); ++i) {
    std::vector<double> ratios;
    for (std::size_t block = 0; block < reference.size(); ++block) {
      ratios.push_back(per_block[i][block] / reference[block]);
    }
    std::printf("result %s 1 %s %.3f\n", work, options.impls[i].c_str(),
                bench::summarize(ratios).median);
  }
}

double mean_of(const std::vector<double>& values) {
  double sum = 0;
  for (const double value : values) sum += value;
  return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

// ping-pong: the round trips of a byte bounced off each loop. The client and the echo thread
// are pinned to one CPU, so that every implementation gets the same wake-up path (each trip is
// two switches on that CPU, never a wake-up across CPUs, whose cost the VM varies), and the
// implementations take turns in short blocks, in an order that rotates, each beginning with a
// few unmeasured trips, so that a change of load on the machine falls on all of them alike.
// A trip takes one of two paths: the echo thread runs as soon as the byte is written, and the
// reply is there at the client's first read; or the client first waits in poll(). About half
// the trips take each, about 3 us apart here, so the p50 is whichever path just passes half;
// the mean moves with the share of each, and is reported beside it.
void run_pingpong(const Options& options, std::vector<std::unique_ptr<peers::Loop>>& loops,
                  const rlimit& limit) {
  constexpr std::size_t kWarmTrips = 20;
  const std::size_t blocks = std::max<std::size_t>(options.blocks, 20);
  cpu_set_t before;
  const bool restore = ::pthread_getaffinity_np(::pthread_self(), sizeof(before), &before) == 0;
  const bool pinned = pin_to_cpu(0);
  std::vector<std::vector<double>> trips(loops.size());
  std::vector<std::vector<double>> block_p50(loops.size());
  std::vector<std::vector<double>> block_mean(loops.size());
  for (std::size_t block = 0; block < blocks; ++block) {
    // Each block starts with the next implementation, so that none always follows the same one.
    for (std::size_t turn = 0; turn < loops.size(); ++turn) {
      const std::size_t i = (block + turn) % loops.size();
      const std::size_t first_trip = trips[i].size();
      auto pair = bench::make_pairs(1, limit);
      loops[i]->watch_all(pair);
      std::thread echo([&loop = *loops[i], pinned] {
        if (pinned) (void)pin_to_cpu(0);
        loop.serve_echo();
      });
      const int fd = pair[0].second.as_raw_fd();
      char byte = 0;
      for (std::size_t trip = 0; trip < kWarmTrips + options.trips / blocks; ++trip) {
        const auto start = Clock::now();
        (void)::write(fd, "x", 1);
        pollfd wanted{.fd = fd, .events = POLLIN, .revents = 0};
        while (::read(fd, &byte, 1) != 1) (void)::poll(&wanted, 1, 1000);
        if (trip >= kWarmTrips) trips[i].push_back(ns_since(start));
      }
      (void)::write(fd, "q", 1);
      echo.join();
      loops[i]->unwatch_all();
      loops[i]->settle();
      const std::vector<double> this_block(trips[i].begin() + first_trip, trips[i].end());
      block_p50[i].push_back(bench::summarize(this_block).median);
      block_mean[i].push_back(mean_of(this_block));
    }
  }
  if (restore) (void)::pthread_setaffinity_np(::pthread_self(), sizeof(before), &before);
  for (std::size_t i = 0; i < loops.size(); ++i) {
    report("pingpong", 1, options.impls[i], bench::summarize(trips[i]).median);
    report("pingpong_mean", 1, options.impls[i], mean_of(trips[i]));
  }
  report_paired("pingpong_paired", options, block_p50);
  report_paired("pingpong_mean_paired", options, block_mean);
}

Options parse(int argc, char** argv) {
  Options options;
  bench::Args args(argc, argv);
  bool pairs_given = false;
  while (args.next()) {
    if (args.flag() == "--impls") {
      options.impls.clear();
      for (auto name : bench::split(args.value())) options.impls.emplace_back(name);
    } else if (args.flag() == "--pairs") {
      bench::add_counts("--pairs", args.value(), pairs_given, options.pairs);
    } else if (args.flag() == "--rounds") {
      options.rounds = bench::parse_count("--rounds", args.value());
    } else if (args.flag() == "--trips") {
      options.trips = bench::parse_count("--trips", args.value());
    } else if (args.flag() == "--impl") {
      options.single = std::string(args.value());
    } else if (args.flag() == "--work") {
      options.work.clear();
      for (auto name : bench::split(args.value())) {
        if (std::find(kWorkloads.begin(), kWorkloads.end(), name) == kWorkloads.end()) {
          throw std::runtime_error("--work: unknown workload '" + std::string(name) +
                                   "' (dispatch, churn, register or pingpong)");
        }
        options.work.emplace_back(name);
      }
    } else {
      args.reject();
    }
  }
  if (options.rounds < options.blocks) options.rounds = options.blocks;
  return options;
}

// One register round for callgrind: watch every pair and let the loop make what it deferred,
// then the same for unwatch. Never inlined, so that --toggle-collect can name it.
[[gnu::noinline]] void register_round(peers::Loop& loop, std::vector<bench::StreamPair>& pairs) {
  loop.watch_all(pairs);
  loop.apply();
  loop.unwatch_all();
  loop.apply();
}

// One implementation alone (for callgrind): its dispatch, churn or register rounds at the first
// size.
int run_single(const Options& options, const rlimit& limit) {
  auto loop = peers::make_loop(options.single);
  if (!loop) {
    std::fprintf(stderr, "peers_bench: implementation '%s' is unavailable\n",
                 options.single.c_str());
    return 3;
  }
  auto pairs = bench::make_pairs(options.pairs.front(), limit);
  const std::string work = options.single_work();
  if (work == "pingpong" || options.work.size() > 1) {
    std::fprintf(stderr, "peers_bench: --impl takes one --work of dispatch, churn or register\n");
    return 2;
  }
  if (work == "register") {
    loop->apply();  // a first loop iteration, as a loop makes before it serves
    for (std::size_t round = 0; round < options.rounds + 2; ++round) {
      register_round(*loop, pairs);
      loop->settle();  // as the timed rounds do (libuv closes its handles here)
    }
    std::printf("totals: register_round calls=%zu\n", 2 * pairs.size() * (options.rounds + 2));
    return 0;
  }
  const std::size_t active = std::min<std::size_t>(100, pairs.size());
  loop->watch_all(pairs);
  // The registrations a loop defers (libpoll's own sources, io_uring, libev, libuv) are made
  // here, outside the counted rounds, as the timed runs leave them to their unrecorded rounds.
  loop->apply();
  std::size_t events = 0;
  for (std::size_t round = 0; round < options.rounds + 2; ++round) {
    write_active(pairs, active);
    events += loop->dispatch_round(active, work == "churn");
  }
  loop->unwatch_all();
  loop->settle();
  std::printf("totals: dispatch_round events=%zu\n", events);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options options = parse(argc, argv);
    const rlimit limit = bench::raise_fd_limit();
    if (!options.single.empty()) return run_single(options, limit);
    std::vector<std::unique_ptr<peers::Loop>> loops;
    std::vector<std::string> present;
    for (const std::string& name : options.impls) {
      if (auto loop = peers::make_loop(name)) {
        loops.push_back(std::move(loop));
        present.push_back(name);
      } else {
        std::printf("note: %s is unavailable here\n", name.c_str());
      }
    }
    options.impls = present;
    for (std::size_t size : options.pairs) {
      if (!options.runs("dispatch") && !options.runs("churn") && !options.runs("register")) break;
      auto pairs = bench::make_pairs(size, limit);
      if (options.runs("dispatch")) run_dispatch(options, pairs, false, loops);
      if (options.runs("churn")) run_dispatch(options, pairs, true, loops);
      if (options.runs("register") && size == options.pairs.back()) {
        run_register(options, pairs, loops);
      }
      std::fflush(stdout);
    }
    if (options.runs("pingpong")) run_pingpong(options, loops, limit);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "peers_bench: %s\n", error.what());
    return 1;
  }
}
