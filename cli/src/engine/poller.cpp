// A poller's set-up, its registry calls and its run through the phases.

#include "engine/poller.hpp"

#include <algorithm>
#include <iterator>

#include "base/failure.hpp"

namespace pollscope {

using libpoll::Interest;
using libpoll::Token;

namespace {

// Pairs and registrations are made this many at a time between looks at the stop flag: a worker
// of scale_100k makes 8,000 pairs and 16,000 registrations, seconds on a loaded machine.
constexpr std::size_t kSetUpBatch = 256;

bool stop_set(const std::atomic<bool>* stop) {
  return stop != nullptr && stop->load(std::memory_order_relaxed);
}

}  // namespace

std::vector<LinkPair> make_pairs_until_stopped(SocketKind kind, std::size_t count,
                                               const std::atomic<bool>* stop) {
  std::vector<LinkPair> pairs;
  pairs.reserve(count);
  while (pairs.size() < count && !stop_set(stop)) {
    auto batch = make_pairs(kind, std::min(kSetUpBatch, count - pairs.size()));
    std::move(batch.begin(), batch.end(), std::back_inserter(pairs));
  }
  return pairs;
}

Poller::Poller(const Scenario& scenario, const RunOptions& options, std::size_t pairs,
               std::size_t active, std::size_t first_active, bool inject_faults)
    : Poller(scenario, options,
             PollerPart{make_pairs_until_stopped(scenario.sockets.kind, pairs, options.stop),
                        active, first_active, inject_faults, Side::both, std::nullopt}) {}

Poller::Poller(const Scenario& scenario, const RunOptions& options, PollerPart part)
    : scenario_(scenario),
      options_(options),
      active_(part.active),
      first_active_(part.first_active),
      inject_faults_(part.inject_faults),
      share_(scenario.sockets.active > 0
                 ? static_cast<double>(part.active) / scenario.sockets.active
                 : static_cast<double>(part.pairs.size()) / scenario.sockets.count),
      side_(part.side),
      peer_(std::move(part.peer)),
      pairs_(std::move(part.pairs)) {
  libpoll::PollOptions poll_options;
  poll_options.backend = options.backend.value_or(scenario.backend);
  poll_options.measure_blocked_time = true;
  // Constructed, run and destroyed on its thread: its Poll is polled by that thread alone.
  poll_options.single_thread = scenario.single_thread_polls;
  poll_options.receive_ahead = scenario.receive_ahead;
  auto poll = libpoll::Poll::create(poll_options);
  if (!poll) {
    throw Failure::environment("creating the Poll (backend " +
                               std::string(libpoll::to_string(poll_options.backend)) +
                               "): " + poll.error().message());
  }
  poll_.emplace(std::move(*poll));
  // pollscope reports leaks itself, in the report; the injected ones are expected.
  poll_->set_leak_handler(nullptr);
  pair_state_.assign(pairs_.size(), PairState::healthy);
  ends_.reserve(pairs_.size() * 2);
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    if (holds_peer_ends() && pairs_[i].two_way) add_end(*pairs_[i].a, i);
    if (holds_registered_ends()) add_end(*pairs_[i].b, i);
  }
  register_ends();
  // Stopped during set-up, the run ends here: no phase runs, and teardown undoes what was done.
  set_up_cut_short_ = stopped();
  if (set_up_cut_short_) return;
  if (scenario.capture) start_capture();
  calibrate();
}

// Every end, then the channel to the peer; the ends a few at a time, until a stop.
void Poller::register_ends() {
  for (std::size_t e = 0; e < ends_.size(); ++e) {
    if (e % kSetUpBatch == 0 && stopped()) return;
    register_end(e);
  }
  if (peer_ && !stopped()) {
    auto registered =
        poll_->registry().register_source(peer_->source(), Token{kPeerToken}, Interest::readable);
    if (!registered) throw Failure::environment("register: " + registered.error().message());
    peer_registered_ = true;
  }
}

RunOutcome Poller::run() {
  RunOutcome outcome;
  outcome.backend = std::string(libpoll::to_string(poll_->backend()));
  outcome.clock = std::string(clock_.name());
  libpoll::Events events(scenario_.events_capacity);
  for (std::size_t i = 0; i < scenario_.phases.size(); ++i) {
    const Phase& phase = scenario_.phases[i];
    if (stopped() || !meet_peer(i)) break;
    PhaseOutcome phase_outcome;
    phase_outcome.name = phase.name;
    phase_outcome.figures = run_phase(phase, events, i + 1 == scenario_.phases.size());
    if (phase.leak_check) {
      phase_outcome.leak_checked = true;
      phase_outcome.leaks = audit();
    }
    outcome.add_phase(std::move(phase_outcome));
  }
  outcome.interrupted = stopped();
  if (capture_) stop_capture();
  teardown(outcome);
  record_loop_metrics(outcome.overall);
  return outcome;
}

// libpoll's loop metrics, the registry timings, and what measuring cost per event.
void Poller::record_loop_metrics(Figures& overall) {
  const auto metrics = poll_->metrics();
  overall.polls = metrics.polls;
  overall.book_ghost_events = metrics.ghost_events;
  overall.registers = metrics.registers;
  overall.reregisters = metrics.reregisters;
  overall.deregisters = metrics.deregisters;
  const auto seconds = [](const auto& time) {
    return time ? static_cast<double>(time->count()) / 1e9 : 0.0;
  };
  overall.blocked_seconds = seconds(metrics.blocked_time);
  overall.measured_seconds = seconds(metrics.measured_time);
  overall.register_ns = register_ns_;
  overall.reregister_ns = reregister_ns_;
  overall.deregister_ns = deregister_ns_;
  const double cost = clock_cost_ns_ * static_cast<double>(clock_reads_) +
                      record_cost_ns_ * static_cast<double>(records_);
  overall.overhead_ns_per_event =
      overall.events == 0 ? 0 : cost / static_cast<double>(overall.events);
}

void Poller::add_end(Link& link, std::size_t pair) {
  End end;
  end.link = &link;
  end.pair = pair;
  ends_.push_back(std::move(end));
}

// The near side begins each phase and tells its peer, which waits for that: traffic of one phase
// never lands in the other's previous one.
bool Poller::meet_peer(std::size_t phase) {
  if (!peer_ || peer_gone_) return !peer_gone_;
  if (side_ == Side::near) {
    peer_->tell_begin(phase);
    return true;
  }
  peer_gone_ = !peer_->await_begin(phase, options_.stop);
  return !peer_gone_;
}

bool Poller::stopped() const {
  return stop_set(options_.stop);
}

// What one clock read and one histogram record cost here, so that the report can say what
// measuring added per event: the clock reads that stamp sends and dispatches, and the records
// (a value kept during dispatch, and recorded with the rest of its poll's). Each cost is the
// fastest of several short rounds: a round the scheduler interrupted (workers outnumber the
// cores while they set up) says nothing about the cost itself.
void Poller::calibrate() {
  constexpr int kRounds = 25;
  constexpr int kSamples = 1000;
  constexpr std::size_t kBatch = 16;
  std::uint64_t sink = 0;
  Histogram scratch;
  std::vector<std::uint64_t> values;
  values.reserve(kBatch);
  double clock_cost = 1e9;
  double record_cost = 1e9;
  for (int round = 0; round < kRounds; ++round) {
    auto start = now_ns();
    for (int i = 0; i < kSamples; ++i) sink += now_ns();
    clock_cost = std::min(clock_cost, static_cast<double>(now_ns() - start) / (kSamples + 1));
    start = now_ns();
    for (int i = 0; i < kSamples; ++i) {
      values.push_back((sink + static_cast<std::uint64_t>(i) * 7919) & 0xffffff);
      if (values.size() == kBatch) {
        scratch.record_all(values);
        values.clear();
      }
    }
    record_cost = std::min(record_cost, static_cast<double>(now_ns() - start) / kSamples);
  }
  clock_cost_ns_ = clock_cost;
  record_cost_ns_ = record_cost;
}

namespace {

// Runs a registry call, records its time in `histogram`, and fails the run when it fails.
template <typename Clock, typename Call>
void timed(const Clock& clock, Histogram& histogram, const char* what, const Call& call) {
  const auto start = clock.now_ns();
  const libpoll::Result<void> result = call();
  histogram.record(clock.now_ns() - start);
  if (!result) throw Failure::environment(std::string(what) + ": " + result.error().message());
}

}  // namespace

void Poller::register_end(std::size_t e) {
  End& end = ends_[e];
  timed(clock_, register_ns_, "register", [&] {
    return poll_->registry().register_source(end.link->source(), Token{e}, end.interest);
  });
  end.registered = true;
}

void Poller::reregister_end(std::size_t e, Interest interest) {
  End& end = ends_[e];
  timed(clock_, reregister_ns_, "reregister", [&] {
    return poll_->registry().reregister_source(end.link->source(), Token{e}, interest);
  });
  end.interest = interest;
}

void Poller::deregister_end(std::size_t e) {
  End& end = ends_[e];
  timed(clock_, deregister_ns_, "deregister",
        [&] { return poll_->registry().deregister_source(end.link->source()); });
  end.registered = false;
}

// A pipe's writing end, while its outbox waits: edge-triggered, the pipe's drain is its edge.
void Poller::register_writer(std::size_t e) {
  End& end = ends_[e];
  if (end.writer_registered) return;
  Link& writer = *pairs_[end.pair].a;
  timed(clock_, register_ns_, "register", [&] {
    return poll_->registry().register_source(writer.source(), Token{kWriterToken | e},
                                             Interest::writable);
  });
  end.writer_registered = true;
}

void Poller::deregister_writer(std::size_t e) {
  End& end = ends_[e];
  if (!end.writer_registered) return;
  Link& writer = *pairs_[end.pair].a;
  timed(clock_, deregister_ns_, "deregister",
        [&] { return poll_->registry().deregister_source(writer.source()); });
  end.writer_registered = false;
}

std::vector<LeakFinding> Poller::audit() {
  std::vector<LeakFinding> findings;
  auto report = poll_->audit();
  if (!report) throw Failure::environment("audit: " + report.error().message());
  for (const auto& found : report->discrepancies) {
    findings.push_back(
        LeakFinding{std::string(libpoll::to_string(found.kind)), found.fd, found.token.value,
                    found.interest ? libpoll::to_string(*found.interest) : std::string(),
                    found.site ? libpoll::to_string(*found.site) : std::string(), found.detail});
  }
  return findings;
}

}  // namespace pollscope
