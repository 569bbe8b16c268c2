#include "engine.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "clock.hpp"
#include "libpoll/libpoll.hpp"
#include "links.hpp"

namespace pollscope {

namespace {

using libpoll::Interest;
using libpoll::Token;

// Every message starts with two stamps: when it was meant to be sent (open loop: its slot in the
// schedule; closed loop: when it was sent) and when it really was.
struct Stamps {
  std::uint64_t intended;
  std::uint64_t actual;
};
static_assert(sizeof(Stamps) == 16);

constexpr std::uint64_t kLateNs = 1'000'000;       // an open-loop send later than this is late
constexpr std::uint64_t kDrainNs = 1'000'000'000;  // in-flight messages get this long to arrive

// What an injected fault did to a pair. Only a healthy pair's messages are counted in flight.
enum class PairState {
  healthy,
  leaked,  // its registered end was dropped without deregister: still open, still registered
  closed,  // its registered end was closed, then deregistered (which fails)
  zombie,  // its registered end was dup'd and closed: the kernel still watches the file
  reset,   // its peer was closed with a reset
};

// A pair whose registered end is gone but whose file still takes data: its peer goes on sending,
// as a peer that knows nothing of the fault would, so that the kernel's leftover registration
// shows as ghost events.
bool still_takes_data(PairState state) {
  return state == PairState::leaked || state == PairState::zombie;
}

// One registered end and what the engine knows of it.
struct End {
  Link* link = nullptr;
  std::size_t pair = 0;
  bool registered = false;
  // The engine no longer holds a source for this end (closed, dropped or reset): an event for
  // its token is a ghost, as it would be to an application.
  bool gone = false;
  Interest interest = Interest::readable;
  std::vector<std::byte> inbox;   // bytes of a message not complete yet (streams)
  std::vector<std::byte> outbox;  // bytes a write could not take yet
  std::uint64_t events = 0;
  bool waiting_writable = false;  // readable_writable toggle: registered writable only
  bool write_toggle_due = false;  // write_interest toggle at a rate: wrap the next write
};

class Worker {
 public:
  Worker(const Scenario& scenario, const RunOptions& options, std::size_t pairs, std::size_t active,
         bool inject_faults)
      : scenario_(scenario),
        options_(options),
        active_(active),
        inject_faults_(inject_faults),
        // This worker's part of the scenario's rates: open-loop sends and rate toggles are given
        // for the whole run, and go where the traffic is.
        share_(scenario.sockets.active > 0 ? static_cast<double>(active) / scenario.sockets.active
                                           : static_cast<double>(pairs) / scenario.sockets.count) {
    libpoll::PollOptions poll_options;
    poll_options.backend = options.backend.value_or(scenario.backend);
    poll_options.measure_blocked_time = true;
    auto poll = libpoll::Poll::create(poll_options);
    if (!poll) throw EnvironmentError("creating the Poll: " + poll.error().message());
    poll_.emplace(std::move(*poll));
    // pollscope reports leaks itself, in the report; the injected ones are expected.
    poll_->set_leak_handler(nullptr);
    pairs_ = make_pairs(scenario.sockets.kind, pairs);
    pair_state_.assign(pairs_.size(), PairState::healthy);
    pair_in_flight_.assign(pairs_.size(), 0);
    ends_.reserve(pairs_.size() * 2);
    for (std::size_t i = 0; i < pairs_.size(); ++i) {
      if (pairs_[i].two_way) add_end(*pairs_[i].a, i);
      add_end(*pairs_[i].b, i);
    }
    for (std::size_t e = 0; e < ends_.size(); ++e) register_end(e);
    calibrate();
  }

  RunOutcome run() {
    RunOutcome outcome;
    outcome.backend = std::string(libpoll::to_string(poll_->backend()));
    outcome.clock = std::string(clock_.name());
    libpoll::Events events(scenario_.events_capacity);
    for (const Phase& phase : scenario_.phases) {
      if (stopped()) break;
      PhaseOutcome phase_outcome;
      phase_outcome.name = phase.name;
      phase_outcome.figures = run_phase(phase, events);
      if (phase.leak_check) {
        phase_outcome.leak_checked = true;
        phase_outcome.leaks = audit();
      }
      outcome.overall.merge(phase_outcome.figures);
      outcome.phases.push_back(std::move(phase_outcome));
    }
    outcome.interrupted = stopped();
    teardown(outcome);
    const auto metrics = poll_->metrics();
    outcome.polls = metrics.polls;
    outcome.ghost_events = metrics.ghost_events;
    outcome.registers = metrics.registers;
    outcome.reregisters = metrics.reregisters;
    outcome.deregisters = metrics.deregisters;
    outcome.blocked_seconds =
        metrics.blocked_time ? static_cast<double>(metrics.blocked_time->count()) / 1e9 : 0;
    outcome.measured_seconds =
        metrics.measured_time ? static_cast<double>(metrics.measured_time->count()) / 1e9 : 0;
    outcome.register_ns = register_ns_;
    outcome.reregister_ns = reregister_ns_;
    outcome.deregister_ns = deregister_ns_;
    const auto events_seen = outcome.overall.events;
    outcome.overhead_ns_per_event = events_seen == 0
                                        ? 0
                                        : (clock_cost_ns_ * static_cast<double>(clock_reads_) +
                                           record_cost_ns_ * static_cast<double>(records_)) /
                                              static_cast<double>(events_seen);
    return outcome;
  }

 private:
  [[nodiscard]] std::uint64_t now_ns() const noexcept { return clock_.now_ns(); }

  void add_end(Link& link, std::size_t pair) {
    End end;
    end.link = &link;
    end.pair = pair;
    ends_.push_back(std::move(end));
  }

  [[nodiscard]] bool stopped() const {
    return options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed);
  }

  // What one clock read and one histogram record cost here, so that the report can say what
  // measuring added per event: the clock reads that stamp sends and dispatches, and the records
  // (a value kept during dispatch, and recorded with the rest of its poll's). Each cost is the
  // fastest of several short rounds: a round the scheduler interrupted (workers outnumber the
  // cores while they set up) says nothing about the cost itself.
  void calibrate() {
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

  void timed(Histogram& histogram, const auto& operation) {
    const auto start = now_ns();
    operation();
    histogram.record(now_ns() - start);
  }

  void register_end(std::size_t e) {
    End& end = ends_[e];
    libpoll::Result<void> result;
    timed(register_ns_, [&] {
      result = poll_->registry().register_source(end.link->source(), Token{e}, end.interest);
    });
    if (!result) throw EnvironmentError("register: " + result.error().message());
    end.registered = true;
  }

  void reregister_end(std::size_t e, Interest interest) {
    End& end = ends_[e];
    libpoll::Result<void> result;
    timed(reregister_ns_, [&] {
      result = poll_->registry().reregister_source(end.link->source(), Token{e}, interest);
    });
    if (!result) throw EnvironmentError("reregister: " + result.error().message());
    end.interest = interest;
  }

  void deregister_end(std::size_t e) {
    End& end = ends_[e];
    libpoll::Result<void> result;
    timed(deregister_ns_,
          [&] { result = poll_->registry().deregister_source(end.link->source()); });
    if (!result) throw EnvironmentError("deregister: " + result.error().message());
    end.registered = false;
  }

  // Sends one message from end `e` (for a pipe: into the pipe that `e` reads).
  void send(std::size_t e, std::uint64_t intended, Figures& figures) {
    End& end = ends_[e];
    LinkPair& pair = pairs_[end.pair];
    const PairState state = pair_state_[end.pair];
    if (state != PairState::healthy && !still_takes_data(state)) return;
    Link& writer = pair.two_way ? *end.link : *pair.a;
    const auto actual = now_ns();
    ++clock_reads_;
    std::vector<std::byte>& message = scratch_;
    message.assign(payload_, std::byte{0});
    const Stamps stamps{intended == 0 ? actual : intended, actual};
    std::memcpy(message.data(), &stamps, sizeof stamps);
    if (intended != 0 && actual > intended + kLateNs) ++figures.late_sends;
    ++figures.sent;
    if (state != PairState::healthy) {
      (void)writer.write(message);  // best effort: nobody reads it, and nothing waits for it
      return;
    }
    ++in_flight_;
    ++pair_in_flight_[end.pair];
    const Toggle& toggle = phase_toggle_;
    if (toggle.pattern == TogglePattern::write_interest && end.registered &&
        (toggle.rate_per_second ? std::exchange(end.write_toggle_due, false)
                                : ++end.events % toggle.every_events == 0)) {
      ++figures.toggles;
      reregister_end(e, Interest::readable | Interest::writable);
      write_all(e, writer, message);
      reregister_end(e, Interest::readable);
      return;
    }
    write_all(e, writer, message);
  }

  void write_all(std::size_t e, Link& writer, std::span<const std::byte> data) {
    End& end = ends_[e];
    if (!end.outbox.empty()) {  // keep order: queue behind what is waiting
      end.outbox.insert(end.outbox.end(), data.begin(), data.end());
      return;
    }
    auto written = writer.write(data);
    std::size_t done = written ? *written : 0;
    if (!written && !libpoll::is_would_block(written.error())) return;  // peer gone: dropped
    if (done < data.size() && !writer.datagram()) {
      end.outbox.assign(data.begin() + static_cast<std::ptrdiff_t>(done), data.end());
      if (end.registered && pairs_[end.pair].two_way) {
        reregister_end(e, end.interest | Interest::writable);
      }
    }
  }

  void flush(std::size_t e) {
    End& end = ends_[e];
    if (end.outbox.empty()) return;
    LinkPair& pair = pairs_[end.pair];
    Link& writer = pair.two_way ? *end.link : *pair.a;
    auto written = writer.write(end.outbox);
    if (written) {
      end.outbox.erase(end.outbox.begin(),
                       end.outbox.begin() + static_cast<std::ptrdiff_t>(*written));
    } else if (!libpoll::is_would_block(written.error())) {
      end.outbox.clear();  // the peer is gone: nothing will take it
    }
    if (end.outbox.empty() && end.interest.is_writable() && !end.waiting_writable) {
      reregister_end(e, Interest::readable);
    }
  }

  // Reads everything `e` has (to would-block, as the edge-triggered contract asks) and hands
  // each complete message to `on_message`.
  template <typename OnMessage>
  void drain(std::size_t e, std::uint64_t event_time, OnMessage&& on_message) {
    End& end = ends_[e];
    std::array<std::byte, 65536> buffer;
    for (;;) {
      auto got = end.link->read(buffer);
      if (!got) return;  // would-block, or an error the hang-up event reports
      if (*got == 0) return;
      if (end.link->datagram()) {
        if (*got >= sizeof(Stamps)) on_message(buffer.data(), event_time);
        continue;
      }
      end.inbox.insert(end.inbox.end(), buffer.begin(),
                       buffer.begin() + static_cast<std::ptrdiff_t>(*got));
      std::size_t used = 0;
      while (end.inbox.size() - used >= payload_) {
        on_message(end.inbox.data() + used, event_time);
        used += payload_;
      }
      end.inbox.erase(end.inbox.begin(), end.inbox.begin() + static_cast<std::ptrdiff_t>(used));
    }
  }

  // The ends whose pairs carry traffic (all of them when none does), for toggles at a rate.
  [[nodiscard]] std::vector<std::size_t> toggle_targets() const {
    std::vector<std::size_t> targets;
    for (std::size_t e = 0; e < ends_.size(); ++e) {
      if (active_ == 0 || ends_[e].pair < active_) targets.push_back(e);
    }
    return targets;
  }

  Figures run_phase(const Phase& phase, libpoll::Events& events) {
    Figures figures;
    payload_ = phase.payload_bytes;
    phase_toggle_ = phase.toggle;
    in_flight_ = 0;
    std::fill(pair_in_flight_.begin(), pair_in_flight_.end(), 0);
    if (inject_faults_ && !faults_injected_ && scenario_.faults.phase == phase.name) {
      inject_faults();
    }
    const bool open_loop = std::holds_alternative<OpenLoop>(phase.load);
    const double rate = open_loop ? std::get<OpenLoop>(phase.load).rate_per_second * share_ : 0;
    figures.target_rate = rate;
    const std::uint64_t start = now_ns();
    const std::uint64_t deadline =
        phase.duration_ms ? start + std::uint64_t{*phase.duration_ms} * 1'000'000 : UINT64_MAX;
    // A phase that ends after a number of messages splits them like the rate.
    const std::uint64_t budget =
        phase.messages
            ? static_cast<std::uint64_t>(std::ceil(static_cast<double>(*phase.messages) * share_))
            : UINT64_MAX;
    // The phase runs until its time or its messages are used up, traffic or not (idle pairs
    // still sit registered, and toggles at a rate still apply); then in-flight messages drain.
    bool running = true;
    bool sending = active_ > 0;
    std::uint64_t next_progress = start + 1'000'000'000;

    // The active ends: end 2i of each active pair (or the pipe's reader) starts the traffic;
    // pairs a fault left without a file to send to stay quiet.
    std::vector<std::size_t> starters;
    for (std::size_t e = 0; e < ends_.size(); ++e) {
      const std::size_t pair = ends_[e].pair;
      if (pair < active_ && (e == 0 || ends_[e - 1].pair != pair) &&
          (pair_state_[pair] == PairState::healthy || still_takes_data(pair_state_[pair]))) {
        starters.push_back(e);
      }
    }
    if (starters.empty()) sending = false;
    const double interval_ns = rate > 0 ? 1e9 / rate : 0;
    double next_due = static_cast<double>(start);
    std::size_t round_robin = 0;

    // Toggles every k events count readable events, except write_interest, which counts writes
    // (in send()); toggles at a rate go round the ends of the active pairs, one per tick.
    const bool toggles_on_events = !phase.toggle.rate_per_second &&
                                   phase.toggle.pattern != TogglePattern::none &&
                                   phase.toggle.pattern != TogglePattern::write_interest;
    const double toggle_rate =
        phase.toggle.rate_per_second ? *phase.toggle.rate_per_second * share_ : 0;
    const double toggle_interval_ns = toggle_rate > 0 ? 1e9 / toggle_rate : 0;
    const std::vector<std::size_t> toggled =
        toggle_rate > 0 ? toggle_targets() : std::vector<std::size_t>{};
    double next_toggle = static_cast<double>(start) + toggle_interval_ns;
    std::size_t toggle_round = 0;

    if (!open_loop && sending) {
      const auto in_flight = std::get<ClosedLoop>(phase.load).in_flight;
      for (std::size_t e : starters) {
        for (std::uint32_t i = 0; i < in_flight && figures.sent < budget; ++i) {
          send(e, 0, figures);
        }
      }
    }

    // Latencies are kept while a poll's events are dispatched, and recorded together after.
    std::vector<std::uint64_t>& latencies = latencies_;
    std::vector<std::uint64_t>& uncorrected = uncorrected_;
    const auto on_message = [&](std::size_t e, const std::byte* message, std::uint64_t at) {
      Stamps stamps;
      std::memcpy(&stamps, message, sizeof stamps);
      latencies.push_back(at > stamps.intended ? at - stamps.intended : 0);
      // Closed loop sends when it means to: the uncorrected figures are the same, and are
      // copied once at the end of the phase rather than recorded twice.
      if (open_loop) uncorrected.push_back(at > stamps.actual ? at - stamps.actual : 0);
      ++figures.messages;
      const std::size_t pair = ends_[e].pair;
      if (pair_state_[pair] == PairState::healthy && pair_in_flight_[pair] > 0) {
        --pair_in_flight_[pair];
        --in_flight_;
      }
      // Replies go out once the read is done: a pipe's reply lands in the pipe being drained.
      if (!open_loop && sending) ++replies_owed_;
    };

    std::uint64_t drain_until = 0;
    for (;;) {
      const auto now = now_ns();
      if (running && (now >= deadline || figures.sent >= budget || stopped())) {
        running = false;
        sending = false;
        drain_until = now + kDrainNs;
      }
      if (!running && (in_flight_ == 0 || now >= drain_until || stopped())) break;
      double wake_at = static_cast<double>(now) + 100e6;
      if (open_loop && sending) {
        while (static_cast<double>(now) >= next_due && figures.sent < budget) {
          send(starters[round_robin++ % starters.size()], static_cast<std::uint64_t>(next_due),
               figures);
          next_due += interval_ns;
        }
        wake_at = std::min(wake_at, next_due);
      }
      if (running && !toggled.empty()) {
        while (static_cast<double>(now) >= next_toggle) {
          toggle_at_rate(toggled[toggle_round++ % toggled.size()], figures);
          next_toggle += toggle_interval_ns;
        }
        wake_at = std::min(wake_at, next_toggle);
      }
      if (options_.progress && now >= next_progress) {
        options_.progress(phase.name, static_cast<double>(now - start) / 1e9, figures.events);
        next_progress = now + 1'000'000'000;
      }
      const double wait_ms = (wake_at - static_cast<double>(now_ns())) / 1e6;
      const int timeout_ms = wait_ms <= 0 ? 0 : std::min(static_cast<int>(wait_ms) + 1, 100);
      auto polled = poll_->poll(events, std::chrono::milliseconds(timeout_ms));
      if (!polled) {
        if (polled.error() == std::errc::interrupted) continue;
        throw EnvironmentError("poll: " + polled.error().message());
      }
      // One clock read per poll, not per event: the events of one poll are dispatched together.
      const auto event_time = now_ns();
      ++clock_reads_;
      for (const libpoll::Event& event : events) {
        const std::size_t e = event.token().value;
        ++figures.events;
        if (e >= ends_.size() || ends_[e].gone) {
          ++figures.ghost_events;  // no source of ours has this token now
          continue;
        }
        End& end = ends_[e];
        const bool closed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        if ((event.is_readable() && !end.interest.is_readable() && !closed) ||
            (event.is_writable() && !end.interest.is_writable() && !closed)) {
          ++figures.spurious_events;
        }
        if (pair_state_[end.pair] == PairState::reset) {
          // What arrived before the reset is read (and dropped), as the edge asks.
          drain(e, event_time, [](const std::byte*, std::uint64_t) {});
          if (closed) observe_reset(e, figures);
          continue;
        }
        bool restored = false;
        if (event.is_writable()) {
          if (end.waiting_writable) {
            end.waiting_writable = false;
            reregister_end(e, Interest::readable);
            restored = true;
          }
          flush(e);
        }
        if (event.is_readable() || closed) {
          replies_owed_ = 0;
          drain(e, event_time,
                [&](const std::byte* message, std::uint64_t at) { on_message(e, message, at); });
          for (; replies_owed_ > 0 && figures.sent < budget; --replies_owed_) send(e, 0, figures);
        }
        // Toggles follow the handling of data, and never undo in the same event what the
        // writable event just restored (that would spin without moving a message).
        if (event.is_readable() && !restored && toggles_on_events &&
            ++end.events % phase.toggle.every_events == 0) {
          toggle(e, figures);
        }
      }
      records_ += latencies.size() + uncorrected.size();
      figures.latency.record_all(latencies);
      figures.uncorrected.record_all(uncorrected);
      latencies.clear();
      uncorrected.clear();
    }
    figures.missed_events = in_flight_;
    figures.seconds = static_cast<double>(now_ns() - start) / 1e9;
    if (!open_loop) figures.uncorrected = figures.latency;
    // Bytes of messages that never completed are dropped with the phase.
    for (End& end : ends_) end.inbox.clear();
    return figures;
  }

  // Applies the phase's toggle pattern to end `e`, now.
  void toggle(std::size_t e, Figures& figures) {
    End& end = ends_[e];
    if (!end.registered || end.gone) return;
    switch (phase_toggle_.pattern) {
      case TogglePattern::readable_writable:
        // Writable fires at once on an idle socket; its event turns readable back on, and the
        // reregister reports any data that came meanwhile.
        if (pairs_[end.pair].two_way && !end.waiting_writable && end.outbox.empty()) {
          end.waiting_writable = true;
          reregister_end(e, Interest::writable);
          ++figures.toggles;
        }
        break;
      case TogglePattern::reregister_cycle:
        reregister_end(e, end.interest);
        ++figures.toggles;
        break;
      case TogglePattern::deregister_cycle:
        deregister_end(e);
        register_end(e);
        ++figures.toggles;
        break;
      case TogglePattern::none:
      case TogglePattern::write_interest:  // applied around a write, in send()
        break;
    }
  }

  void toggle_at_rate(std::size_t e, Figures& figures) {
    if (phase_toggle_.pattern == TogglePattern::write_interest) {
      ends_[e].write_toggle_due = true;  // the end's next write is wrapped
      return;
    }
    toggle(e, figures);
  }

  // The reset reached the registered end: like an application, deregister and close it.
  void observe_reset(std::size_t e, Figures& figures) {
    End& end = ends_[e];
    ++figures.peer_resets_observed;
    if (end.registered) deregister_end(e);
    ::close(end.link->release_fd());
    end.gone = true;
  }

  std::vector<LeakFinding> audit() {
    std::vector<LeakFinding> findings;
    auto report = poll_->audit();
    if (!report) throw EnvironmentError("audit: " + report.error().message());
    for (const auto& found : report->discrepancies) {
      findings.push_back(
          LeakFinding{std::string(libpoll::to_string(found.kind)), found.fd, found.token.value,
                      found.interest ? libpoll::to_string(*found.interest) : std::string(),
                      found.site ? libpoll::to_string(*found.site) : std::string(), found.detail});
    }
    return findings;
  }

  // Ends are laid out pair by pair: a two-way pair's peer (a) then its registered end (b); a
  // pipe's reading end (b) alone.
  [[nodiscard]] std::size_t registered_end_of(std::size_t pair) const {
    return pairs_[pair].two_way ? 2 * pair + 1 : pair;
  }

  // Only for a two-way pair (a peer reset needs TCP).
  [[nodiscard]] std::size_t peer_end_of(std::size_t pair) const { return 2 * pair; }

  // Injects the scenario's faults, each into a pair of its own: active pairs first, so that
  // faults injected during a phase meet traffic. The zombies' duplicates come first, while no
  // fault has freed a descriptor number they could take.
  void inject_faults() {
    faults_injected_ = true;
    const Faults& faults = scenario_.faults;
    std::vector<std::size_t> order;
    for (std::size_t pair = std::min(active_, pairs_.size()); pair-- > 0;) order.push_back(pair);
    for (std::size_t pair = pairs_.size(); pair-- > active_;) order.push_back(pair);
    std::size_t taken = 0;
    const auto take = [&](PairState state) {
      const std::size_t pair = order.at(taken++);  // the scenario's check keeps this in range
      pair_state_[pair] = state;
      in_flight_ -= std::min(in_flight_, std::uint64_t{pair_in_flight_[pair]});
      pair_in_flight_[pair] = 0;
      return pair;
    };
    for (std::uint32_t i = 0; i < faults.dup_then_close; ++i) {
      End& end = ends_[registered_end_of(take(PairState::zombie))];
      const int fd = end.link->release_fd();
      duplicates_.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
      ::close(fd);  // the kernel keeps watching the file through the duplicate
      end.gone = true;
    }
    for (std::uint32_t i = 0; i < faults.leak; ++i) {
      const std::size_t e = registered_end_of(take(PairState::leaked));
      leaked_.push_back(e);  // dropped without deregister: still open, still registered
      ends_[e].gone = true;
    }
    for (std::uint32_t i = 0; i < faults.close_before_deregister; ++i) {
      End& end = ends_[registered_end_of(take(PairState::closed))];
      const int fd = end.link->release_fd();
      ::close(fd);
      (void)poll_->registry().deregister_source(libpoll::SourceFd(fd));  // fails: EBADF
      end.gone = true;
    }
    for (std::uint32_t i = 0; i < faults.peer_reset; ++i) {
      // The peer is deregistered and closed properly, with SO_LINGER 0: a reset, and no leak.
      const std::size_t peer = peer_end_of(take(PairState::reset));
      End& end = ends_[peer];
      if (end.registered) deregister_end(peer);
      arm_reset(*end.link);
      ::close(end.link->release_fd());
      end.gone = true;
    }
  }

  // Injects the faults now unless a phase already did, deregisters everything else, and checks
  // what is left against the kernel: the check must find exactly the injected faults.
  void teardown(RunOutcome& outcome) {
    if (inject_faults_ && !faults_injected_) inject_faults();
    for (std::size_t e = 0; e < ends_.size(); ++e) {
      if (!ends_[e].gone && ends_[e].registered) deregister_end(e);
    }
    // Registrations still live in the book and unexplained by the audit were never deregistered.
    auto findings = audit();
    std::set<std::pair<int, std::uint64_t>> explained;
    for (const auto& finding : findings) explained.emplace(finding.fd, finding.token);
    for (const auto& info : poll_->registrations()) {
      if (explained.contains({info.fd, info.token.value})) continue;
      findings.push_back(LeakFinding{
          "leaked", info.fd, info.token.value, libpoll::to_string(info.interest),
          libpoll::to_string(info.site), "still registered at teardown: never deregistered"});
    }
    for (auto& finding : findings) outcome.leaks.push_back(std::move(finding));

    // Clean up after the check, so that the process leaves nothing behind.
    for (std::size_t e : leaked_)
      (void)poll_->registry().deregister_source(ends_[e].link->source());
    for (int duplicate : duplicates_) ::close(duplicate);
    pairs_.clear();
  }

  const Scenario& scenario_;
  const RunOptions& options_;
  const Clock& clock_ = Clock::get();
  std::size_t active_;
  bool inject_faults_;
  bool faults_injected_ = false;
  double share_;
  std::optional<libpoll::Poll> poll_;
  std::vector<LinkPair> pairs_;
  std::vector<PairState> pair_state_;
  std::vector<std::uint32_t> pair_in_flight_;
  std::vector<End> ends_;
  std::vector<std::size_t> leaked_;  // ends dropped without deregister, cleaned up after the check
  std::vector<int> duplicates_;      // the zombies' duplicates, closed after the check
  std::vector<std::byte> scratch_;
  std::vector<std::uint64_t> latencies_;  // of the messages of the poll being dispatched
  std::vector<std::uint64_t> uncorrected_;
  std::size_t payload_ = 64;
  Toggle phase_toggle_;
  std::uint64_t in_flight_ = 0;
  std::uint64_t replies_owed_ = 0;  // messages drained from an end and not yet answered
  Histogram register_ns_;
  Histogram reregister_ns_;
  Histogram deregister_ns_;
  double clock_cost_ns_ = 0;
  double record_cost_ns_ = 0;
  std::uint64_t clock_reads_ = 0;
  std::uint64_t records_ = 0;
};

void raise_fd_limit(const Scenario& scenario) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const auto needed = descriptors_needed(scenario);
  if (limit.rlim_cur < needed && limit.rlim_max >= needed) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < needed) {
    const auto per_process = limit.rlim_max > 64 ? limit.rlim_max - 64 : 1;
    const auto fds = std::uint64_t{scenario.sockets.count} * 2;
    throw EnvironmentError(
        "scenario \"" + scenario.name + "\" needs " + std::to_string(needed) +
        " descriptors per process (sockets.count " + std::to_string(scenario.sockets.count) +
        " pairs over " + std::to_string(scenario.workers) +
        " worker(s)), but RLIMIT_NOFILE allows " + std::to_string(limit.rlim_max) +
        "; set \"workers\" to at least " + std::to_string((fds + per_process - 1) / per_process));
  }
}

// One process's share: `threads` poller threads, each a Worker with its own Poll over its part
// of the pairs, merged like worker processes. Faults go to the first thread (when `faults`).
RunOutcome run_threads(const Scenario& scenario, const RunOptions& options, std::size_t pairs,
                       std::size_t active, bool faults) {
  const std::size_t threads =
      std::max<std::size_t>(1, std::min<std::size_t>(scenario.threads, pairs));
  if (threads == 1) return Worker(scenario, options, pairs, active, faults).run();
  const auto share = [threads](std::size_t total, std::size_t thread) {
    return total / threads + (thread < total % threads ? 1 : 0);
  };
  std::vector<RunOutcome> outcomes(threads);
  std::vector<std::string> failures(threads);
  std::vector<std::thread> running;
  for (std::size_t t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      try {
        RunOptions thread_options = options;
        if (t != 0) thread_options.progress = nullptr;
        outcomes[t] =
            Worker(scenario, thread_options, share(pairs, t), share(active, t), faults && t == 0)
                .run();
      } catch (const std::exception& error) {
        failures[t] = error.what();
      }
    });
  }
  for (auto& thread : running) thread.join();
  for (const auto& failure : failures) {
    if (!failure.empty()) throw EnvironmentError(failure);
  }
  for (std::size_t t = 1; t < threads; ++t) outcomes[0].merge(outcomes[t]);
  return std::move(outcomes[0]);
}

}  // namespace

std::uint64_t descriptors_needed(const Scenario& scenario) {
  const std::uint64_t pairs = (scenario.sockets.count + scenario.workers - 1) / scenario.workers;
  // Two per pair, plus the selector, its wake pipe, listeners, stdio and a margin.
  return pairs * 2 + 64;
}

RunOutcome run_scenario(const Scenario& scenario, const RunOptions& options) {
  raise_fd_limit(scenario);
  const std::size_t workers = scenario.workers;
  const auto share = [&](std::size_t total, std::size_t worker) {
    return total / workers + (worker < total % workers ? 1 : 0);
  };
  if (workers == 1)
    return run_threads(scenario, options, scenario.sockets.count, scenario.sockets.active, true);
  // Worker processes: each runs its share and sends its outcome back as JSON through a pipe.
  struct Child {
    pid_t pid;
    int pipe;
  };
  std::vector<Child> children;
  for (std::size_t w = 0; w < workers; ++w) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw EnvironmentError(std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) throw EnvironmentError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::close(ends[0]);
      std::string text;
      int status = 0;
      try {
        RunOptions child_options = options;
        if (w != 0) child_options.progress = nullptr;
        text = run_threads(scenario, child_options, share(scenario.sockets.count, w),
                           share(scenario.sockets.active, w), w == 0)
                   .serialize()
                   .dump();
      } catch (const std::exception& error) {
        text = nlohmann::json{{"error", error.what()}}.dump();
        status = 3;
      }
      for (std::size_t sent = 0; sent < text.size();) {
        const auto n = ::write(ends[1], text.data() + sent, text.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::_exit(status);
    }
    ::close(ends[1]);
    children.push_back({pid, ends[0]});
  }
  RunOutcome merged;
  std::string failure;
  bool first = true;
  // A stop request that reached only this process (kill -INT to the parent; a terminal's
  // Ctrl-C reaches the whole process group) is passed on to the workers, once.
  bool forwarded = false;
  const auto forward_stop = [&] {
    if (forwarded || options.stop == nullptr || !options.stop->load()) return;
    for (const Child& child : children) ::kill(child.pid, SIGINT);
    forwarded = true;
  };
  for (const Child& child : children) {
    std::string text;
    char buffer[65536];
    for (;;) {
      const auto n = ::read(child.pipe, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) {
        forward_stop();
        continue;
      }
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(child.pipe);
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const auto data = nlohmann::json::parse(text, nullptr, false);
    if (data.is_discarded() || !data.is_object()) {
      failure = "a worker process ended without a result";
      continue;
    }
    if (data.contains("error")) {
      failure = data["error"].get<std::string>();
      continue;
    }
    auto outcome = RunOutcome::deserialize(data);
    if (first) {
      merged = std::move(outcome);
      first = false;
    } else {
      merged.merge(outcome);
    }
  }
  if (!failure.empty()) throw EnvironmentError(failure);
  return merged;
}

}  // namespace pollscope
