// A phase's loop: until its time or its messages are used up (traffic or not: idle pairs still
// sit registered, and toggles at a rate still apply), then while in-flight messages drain, it
// sends what the schedule says is due, polls, and dispatches what the poll returned.

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "base/failure.hpp"
#include "engine/callgrind_zone.hpp"
#include "engine/fan_out.hpp"
#include "engine/poller.hpp"

namespace pollscope {

namespace {

constexpr std::uint64_t kDrainNs = 1'000'000'000;  // in-flight messages get this long to arrive
constexpr std::uint64_t kProgressNs = 1'000'000'000;
constexpr double kLongestWaitNs = 100e6;
// Sends one tick makes at most, however far behind the schedule is: the rest wait for the next,
// so that the loop still polls, reads and sees its deadline and a stop.
constexpr std::size_t kMostSendsPerTick = 1024;

}  // namespace

Figures Poller::run_phase(const Phase& phase, libpoll::Events& events, bool last) {
  PhaseRun run{phase};
  run.last = last;
  begin_phase(run);
  {
    const CallgrindZone measured;  // the phase's traffic, not its set-up or teardown
    start_traffic(run);
    while (keep_going(run)) {
      const int timeout_ms = tick(run);
      poll_once(run, events, timeout_ms);
    }
  }
  end_phase(run);
  return std::move(run.figures);
}

void Poller::begin_phase(PhaseRun& run) {
  const Phase& phase = run.phase;
  run.pair_in_flight.assign(pairs_.size(), 0);
  if (inject_faults_ && !faults_injected_ && scenario_.faults.phase == phase.name) {
    inject_faults(&run);
  }
  const auto* open = std::get_if<OpenLoop>(&phase.load);
  run.open_loop = open != nullptr || replay_of(phase) != nullptr;
  run.framing = replay_of(phase) ? Framing::variable() : Framing::fixed(phase.payload_bytes);
  // With the peer elsewhere, the peer sends the open loop and the near side only receives: the
  // target is the peer's alone (counted on both sides, it was twice the rate asked for).
  const double rate = open && side_ != Side::near ? open->rate_per_second * share_ : 0;
  run.figures.target_rate = rate;
  find_starters(run);
  // A replay's schedule is laid out before the phase's clock starts: its time is set-up, not
  // traffic (neither the first messages' latency nor a part of duration_ms).
  if (const Replay* replay = replay_of(phase); replay && side_ != Side::near) {
    plan_replay(run, *replay);
  }
  run.start = now_ns();
  run.replay.begin(run.start);
  run.next_progress = run.start + kProgressNs;
  if (phase.duration_ms) run.deadline = run.start + std::uint64_t{*phase.duration_ms} * 1'000'000;
  // A phase that ends after a number of messages splits them like the rate; with the peer
  // elsewhere, a closed loop's two sides send half each.
  if (phase.messages) {
    const double halves = side_ != Side::both && !run.open_loop ? 2 : 1;
    run.budget = static_cast<std::uint64_t>(
        std::ceil(static_cast<double>(*phase.messages) * share_ / halves));
  }
  run.sends = Ticker(rate, run.start, 0);
  plan_toggles(run);
  if (capture_) capture_->begin_phase(run.framing, clock_);
}

// The active ends: end 2i of each active pair (or the pipe's reader) starts the traffic; pairs a
// fault left without a file to send to stay quiet. With the peer elsewhere, the peer starts,
// and the near side answers.
void Poller::find_starters(PhaseRun& run) {
  for (std::size_t e = 0; e < ends_.size() && side_ != Side::near; ++e) {
    const std::size_t pair = ends_[e].pair;
    if (pair < active_ && (e == 0 || ends_[e - 1].pair != pair) &&
        (pair_state_[pair] == PairState::healthy || still_takes_data(pair_state_[pair]))) {
      run.starters.push_back(e);
    }
  }
}

// A closed loop sends its first messages now.
void Poller::start_traffic(PhaseRun& run) {
  run.sending = !run.starters.empty() || (side_ == Side::near && active_ > 0);
  if (!run.open_loop && !run.starters.empty()) {
    const auto in_flight = std::get<ClosedLoop>(run.phase.load).in_flight;
    for (std::size_t e : run.starters) {
      for (std::uint32_t i = 0; i < in_flight && run.figures.sent < run.budget; ++i) {
        send(run, e, 0);
      }
    }
  }
  // A phase that ends after its messages, whose faults left no pair to carry them (a closed loop
  // goes on only on a healthy pair: a faulted one's messages are never answered), would never
  // end: it ends now, once what is in flight has arrived.
  const bool carried = std::any_of(run.starters.begin(), run.starters.end(), [&](std::size_t e) {
    return run.open_loop || pair_state_[ends_[e].pair] == PairState::healthy;
  });
  if (run.phase.messages && side_ != Side::near && !carried) run.budget = run.figures.sent;
}

// This poller's part of the replay (begun once the phase starts): the messages of the flows
// its active pairs carry (those a fault left without a file to send to stay quiet). The phase
// ends once they are sent.
void Poller::plan_replay(PhaseRun& run, const Replay& replay) {
  run.starter_of.assign(active_, SIZE_MAX);
  for (std::size_t e : run.starters) run.starter_of[ends_[e].pair] = e;
  run.replay = ReplaySchedule(*replay.trace, replay.speed,
                              {first_active_, active_, scenario_.sockets.active},
                              [&](std::size_t pair) { return run.starter_of[pair] != SIZE_MAX; });
  run.budget = run.replay.size();
  const double span_s = static_cast<double>(replay.trace->span_ns()) / replay.speed / 1e9;
  if (span_s > 0) run.figures.target_rate = static_cast<double>(run.replay.size()) / span_s;
}

// Stops sending when the phase is over (or the peer ended it), and says whether to poll again.
bool Poller::keep_going(PhaseRun& run) {
  const auto now = now_ns();
  const bool used_up = run.figures.sent >= run.budget && !still_owing(run, now);
  if (run.running && (now >= run.deadline || used_up || stopped() || run.peer_sent || peer_gone_)) {
    stop_sending(run, now);
  }
  return run.running || (awaiting(run) && now < run.drain_until && !stopped() && !peer_gone_);
}

// With the peer elsewhere, what a side says it sent when it stops is all the other waits for:
// a replay whose schedule is done first writes what it owes (a drain's time at most), so that
// the messages it tells of were written. Another stop ends it at once: what is owed then is
// dropped unsent.
bool Poller::still_owing(PhaseRun& run, std::uint64_t now) {
  if (!peer_ || !run.open_loop || run.sends.active() || backlogged_ == 0) return false;
  if (run.owing_until == 0) run.owing_until = now + kDrainNs;
  return now < run.owing_until;
}

void Poller::stop_sending(PhaseRun& run, std::uint64_t now) {
  // Toggles due before the phase stopped are made now, as a late tick is on the next turn: the
  // count follows the schedule however late the loop last came round.
  toggle_due(run, std::min(now, run.deadline));
  run.running = false;
  run.sending = false;
  // A replay's slots due before the phase stopped (its deadline at the latest) and not sent yet
  // never will be: late sends, like what it still owes when dropped.
  run.figures.late_sends += run.replay.drop_due_before(std::min(now, run.deadline));
  run.drain_until = now + kDrainNs;
  // An open loop's backlog is dropped, so that the phase ends near its time instead of writing
  // what its socket could not take; a replay's (a schedule, bounded) and a closed loop's get the
  // drain, unless the peer is told now what was sent: it must count only what was written (a
  // replay had its drain before, still_owing), and, when the run ends here, only messages written
  // whole: the rest of one begun would arrive untold, or never.
  if (run.sends.active() || peer_) unsend_all_owed(run, peer_ && ends_run(run));
  if (peer_ && !peer_gone_) peer_->tell_stopped(run.sent_healthy);
}

// Messages still due: in the same loop, those in flight; with the peer elsewhere, what it says it
// sent and has not arrived yet (and, until it says, its word), and what this side told it of
// and has not written yet (a message its socket took only part of).
bool Poller::awaiting(const PhaseRun& run) const {
  if (!peer_) return run.in_flight != 0;
  return !run.peer_sent || run.received_healthy < *run.peer_sent || backlogged_ != 0;
}

// Whether the run ends with this phase: no later one finishes a message begun in it.
bool Poller::ends_run(const PhaseRun& run) const {
  return run.last || stopped() || peer_gone_;
}

// Does what is due (flushes left for the tick, open-loop sends, toggles at a rate, the progress
// line) and returns how long the poll may wait for the next of them, in milliseconds.
int Poller::tick(PhaseRun& run) {
  flush_due(run);  // what the last flushes left, before new sends queue behind it
  read_due(run);   // and what the last reads left
  const auto now = now_ns();
  double wake_at = static_cast<double>(now) + kLongestWaitNs;
  // The phase ends at its deadline, however far off the next send is.
  if (run.running) wake_at = std::min(wake_at, static_cast<double>(run.deadline));
  bool sends_due = false;  // an open loop's or a replay's send is what the poll waits for
  if (run.open_loop && run.sending && !run.starters.empty()) {  // the near side only answers
    send_due(run, now);
    wake_at = run.sends.sooner(run.replay.sooner(wake_at));
    sends_due = run.figures.sent < run.budget;
  }
  if (run.running && !run.toggled.empty()) {
    toggle_due(run, now);
    wake_at = run.toggle_ticks.sooner(wake_at);
  }
  if (options_.progress && now >= run.next_progress) {
    options_.progress(run.phase.name, static_cast<double>(now - run.start) / 1e9,
                      run.figures.events);
    run.next_progress = now + kProgressNs;
  }
  // The sockets have room, or bytes to read: no edge will come for it.
  if (!flush_due_.empty() || !read_due_.empty()) return 0;
  return poll_wait_ms((wake_at - static_cast<double>(now_ns())) / 1e6, sends_due);
}

// The open loop's sends that are due, or the replay's.
void Poller::send_due(PhaseRun& run, std::uint64_t now) {
  for (std::size_t made = 0;
       made < kMostSendsPerTick && run.figures.sent < run.budget && !stopped(); ++made) {
    if (const auto slot = run.replay.take(now)) {
      send(run, run.starter_of[slot->pair], slot->due_ns, slot->bytes);
      continue;
    }
    const auto slot = run.sends.take(now);
    if (!slot) break;
    send(run, run.starters[run.next_starter++ % run.starters.size()],
         static_cast<std::uint64_t>(*slot));
  }
}

void Poller::poll_once(PhaseRun& run, libpoll::Events& events, int timeout_ms) {
  auto polled = poll_->poll(events, std::chrono::milliseconds(timeout_ms));
  if (!polled) {
    if (polled.error() == std::errc::interrupted) return;
    throw Failure::environment("poll: " + polled.error().message());
  }
  // One clock read per poll, not per event: the events of one poll are dispatched together.
  const auto event_time = now_ns();
  ++clock_reads_;
  if (capture_) run.event_realtime = realtime_ns();
  for (const libpoll::Event& event : events) dispatch(run, event, event_time);
  records_ += run.latencies.size() + run.uncorrected.size() + run.round_trips.size();
  run.figures.latency.record_all(run.latencies);
  run.figures.uncorrected.record_all(run.uncorrected);
  run.figures.round_trip.record_all(run.round_trips);
  run.latencies.clear();
  run.uncorrected.clear();
  run.round_trips.clear();
}

// The peer's notices. Once it said what it sent, its end of the channel may close (it is done):
// what it sent is still there to read. Before that, a near side whose peer is gone fails the run;
// a far side whose near side is gone stops quietly (the near side says why).
void Poller::hear_peer(PhaseRun& run) {
  const PeerChannel::Heard heard = peer_->listen();
  if (heard.stopped_after) run.peer_sent = heard.stopped_after;
  if (!heard.closed || !peer_registered_) return;
  peer_registered_ = false;
  (void)poll_->registry().deregister_source(peer_->source());
  if (run.peer_sent || peer_gone_) return;
  peer_gone_ = true;
  if (side_ == Side::near && !stopped()) {
    throw ConsequentFailure(kExitEnvironment,
                            fmt::format("the peer ({}) ended during phase {}",
                                        to_string(scenario_.sockets.peer), run.phase.name));
  }
}

void Poller::end_phase(PhaseRun& run) {
  // What the drain did not write was not sent; nor, when the run ends here, a message it did not
  // finish (with the peer elsewhere, the stop decided that, and told it).
  unsend_all_owed(run, !peer_ && ends_run(run));
  std::uint64_t lost = run.in_flight;
  if (peer_) {
    if (!run.peer_sent && !stopped() && !peer_gone_) {
      throw Failure::environment(
          fmt::format("the peer ({}) did not end phase {} within a second of this side",
                      to_string(scenario_.sockets.peer), run.phase.name));
    }
    lost = run.peer_sent ? *run.peer_sent - std::min(*run.peer_sent, run.received_healthy) : 0;
  }
  (stopped() ? run.figures.in_flight_at_stop : run.figures.missed_events) = lost;
  run.figures.seconds = static_cast<double>(now_ns() - run.start) / 1e9;
  if (run.open_loop) {
    run.figures.open_loop_sent = run.figures.sent;
    // A replay asked for the slots that came due before it stopped (its own, summed over the
    // pollers); its target rate is the whole trace's, and its time includes the drain.
    run.figures.open_loop_intended = replay_of(run.phase)
                                         ? static_cast<double>(run.replay.taken())
                                         : run.figures.target_rate * run.figures.seconds;
  } else {
    run.figures.uncorrected = run.figures.latency;
  }
  if (capture_) capture_->finish_phase(run.figures);
  // A message partly written or partly read when the drain ran out is finished in the next
  // phase, and dropped there (sent_earlier): dropped here, its stream would be read out of step.
  for (End& end : ends_) end.outbox_message = 0;  // counted by this phase
  ended_.push_back({now_ns(), run.framing});
  flush_due_.clear();  // nothing is owed now
}

}  // namespace pollscope
