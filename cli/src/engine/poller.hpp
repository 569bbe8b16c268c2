#pragma once

// One poller: a Poll over its share of the pairs, driving them through the scenario's phases
// and measuring what the loop does. A process runs one per poller thread. Its work is split by
// concern: poller.cpp (set-up, registry calls, the run and its audit), phase.cpp (a phase's
// loop: schedule, poll, dispatch), traffic.cpp (sending and reading messages), toggles.cpp and
// faults.cpp.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "capture/capture_session.hpp"
#include "engine/clock.hpp"
#include "engine/ends.hpp"
#include "engine/engine.hpp"
#include "engine/framing.hpp"
#include "engine/peer_channel.hpp"
#include "engine/replay_schedule.hpp"
#include "engine/ticker.hpp"
#include "libpoll/libpoll.hpp"

namespace pollscope {

// What one phase of one poller is doing: its figures, its schedule and its traffic in flight.
struct PhaseRun {
  explicit PhaseRun(const Phase& of) : phase(of) {}

  const Phase& phase;
  Figures figures;
  bool open_loop = false;  // a replay is one too: it sends on a schedule
  bool last = false;       // the scenario's last phase
  Framing framing = Framing::fixed(64);
  bool running = true;   // until its time or its messages are used up
  bool sending = false;  // new messages go out (the active pairs, while running)
  std::uint64_t start = 0;
  std::uint64_t deadline = UINT64_MAX;
  std::uint64_t budget = UINT64_MAX;  // messages this poller may send
  std::uint64_t drain_until = 0;      // once stopped: in-flight messages get until then
  std::uint64_t owing_until = 0;      // a replay done, with the peer elsewhere: writes until then
  std::uint64_t next_progress = 0;
  std::vector<std::size_t> starters;  // the ends that start the traffic
  std::size_t next_starter = 0;
  std::vector<std::size_t> starter_of;  // replay: each active pair's starter (SIZE_MAX: none)
  Ticker sends;                         // open loop
  ReplaySchedule replay;                // replay
  Ticker toggle_ticks;                  // toggles at a rate
  std::vector<std::size_t> toggled;     // the ends toggles at a rate go round
  std::size_t next_toggled = 0;
  bool toggles_on_events = false;             // toggles every k readable events
  std::uint64_t in_flight = 0;                // messages sent on healthy pairs, not yet received
  std::vector<std::uint32_t> pair_in_flight;  // the same, pair by pair
  std::vector<std::uint64_t> answers;    // send stamps of messages drained and not answered yet
  std::vector<std::uint64_t> latencies;  // of the messages of the poll being dispatched
  std::vector<std::uint64_t> uncorrected;
  std::uint64_t event_realtime = 0;  // with a capture: CLOCK_REALTIME at the poll's dispatch
  std::vector<std::uint64_t> round_trips;
  // With a peer elsewhere, what crossed between the sides on healthy pairs: each side says what
  // it sent when it stops, and the other waits for exactly that.
  std::uint64_t sent_healthy = 0;
  std::uint64_t received_healthy = 0;
  std::optional<std::uint64_t> peer_sent;  // once the peer stopped
};

// What one poller drives: its pairs (the first `active` carry traffic), which of their ends it
// holds, and, when the others run elsewhere, the channel to the poller that holds them.
struct PollerPart {
  std::vector<LinkPair> pairs;
  std::size_t active = 0;
  std::size_t first_active = 0;  // the run's index of its first active pair
  bool inject_faults = false;    // the one poller of the run (and its peer) that injects faults
  Side side = Side::both;
  std::optional<PeerChannel> peer;
};

// `count` pairs of `kind`, made a few at a time: fewer once `stop` is set, so that a stop during
// the set-up of thousands of pairs is answered at once, not after it.
[[nodiscard]] std::vector<LinkPair> make_pairs_until_stopped(SocketKind kind, std::size_t count,
                                                             const std::atomic<bool>* stop);

class Poller {
 public:
  // `pairs` pairs, of which the first `active` carry traffic (the run's from `first_active` on);
  // `inject_faults` for the one poller of the run that injects the scenario's faults.
  Poller(const Scenario& scenario, const RunOptions& options, std::size_t pairs, std::size_t active,
         std::size_t first_active, bool inject_faults);
  Poller(const Scenario& scenario, const RunOptions& options, PollerPart part);

  RunOutcome run();

 private:
  [[nodiscard]] std::uint64_t now_ns() const noexcept { return clock_.now_ns(); }
  [[nodiscard]] bool stopped() const;
  void register_ends();
  void add_end(Link& link, std::size_t pair);
  [[nodiscard]] bool meet_peer(std::size_t phase);
  void calibrate();
  void record_loop_metrics(Figures& overall);

  // Registry calls, timed.
  void register_end(std::size_t e);
  void reregister_end(std::size_t e, libpoll::Interest interest);
  void deregister_end(std::size_t e);
  void register_writer(std::size_t e);
  void deregister_writer(std::size_t e);
  [[nodiscard]] std::vector<LeakFinding> audit();

  // phase.cpp
  Figures run_phase(const Phase& phase, libpoll::Events& events, bool last);
  void begin_phase(PhaseRun& run);
  void find_starters(PhaseRun& run);
  void start_traffic(PhaseRun& run);
  void plan_replay(PhaseRun& run, const Replay& replay);
  void send_due(PhaseRun& run, std::uint64_t now);
  [[nodiscard]] bool keep_going(PhaseRun& run);
  [[nodiscard]] bool still_owing(PhaseRun& run, std::uint64_t now);
  [[nodiscard]] int tick(PhaseRun& run);
  void poll_once(PhaseRun& run, libpoll::Events& events, int timeout_ms);
  void dispatch(PhaseRun& run, const libpoll::Event& event, std::uint64_t event_time);
  void dispatch_writer(PhaseRun& run, const libpoll::Event& event, std::size_t e);
  void end_phase(PhaseRun& run);
  void stop_sending(PhaseRun& run, std::uint64_t now);
  [[nodiscard]] bool awaiting(const PhaseRun& run) const;
  [[nodiscard]] bool ends_run(const PhaseRun& run) const;
  void hear_peer(PhaseRun& run);

  // traffic.cpp
  // `payload`: a replayed message's recorded size (0: the phase's payload_bytes).
  void send(PhaseRun& run, std::size_t e, std::uint64_t intended, std::uint32_t payload = 0);
  void build_message(const Stamps& stamps, std::uint32_t bytes, Framing framing);
  void count_sent(PhaseRun& run, const Stamps& stamps, std::uint32_t bytes);
  [[nodiscard]] bool write_all(std::size_t e, Link& writer, std::span<const std::byte> data);
  void flush(PhaseRun& run, std::size_t e);
  void settle_backlog(std::size_t e);
  // What an end is registered for between toggles: readable, and writable while its outbox
  // waits (a pipe's reading end never writes: its writing end is registered instead).
  [[nodiscard]] libpoll::Interest resting_interest(const End& end) const {
    return pairs_[end.pair].two_way && end.backlogged
               ? libpoll::Interest::readable | libpoll::Interest::writable
               : libpoll::Interest::readable;
  }
  void drop_backlog(std::size_t e);
  void unsend(PhaseRun& run, std::size_t pair, const Stamps& stamps, std::uint32_t bytes);
  // `unfinished`: nothing will write the rest of a message the socket took part of.
  void unsend_owed(PhaseRun& run, std::size_t e, bool unfinished = false);
  void unsend_all_owed(PhaseRun& run, bool unfinished);
  void drop_unwritten(PhaseRun& run, std::size_t e);
  void flush_due(PhaseRun& run);
  void receive(PhaseRun& run, std::size_t e, std::uint64_t event_time);
  void read_due(PhaseRun& run);
  void discard(const PhaseRun& run, std::size_t e);
  template <typename OnMessage>
  [[nodiscard]] bool drain(std::size_t e, Framing framing, OnMessage&& on_message);
  [[nodiscard]] std::size_t complete_length(const End& end, std::size_t at, Framing framing) const;
  [[nodiscard]] bool sent_earlier(const std::byte* head) const;
  [[nodiscard]] Framing framing_of(const std::byte* head, Framing current) const;
  void on_message(PhaseRun& run, std::size_t e, std::span<const std::byte> message,
                  std::uint64_t at);

  // toggles.cpp
  void plan_toggles(PhaseRun& run);
  void toggle(PhaseRun& run, std::size_t e);
  void toggle_at_rate(PhaseRun& run, std::size_t e);
  // The toggles at a rate whose ticks are due at `now_ns`, each on the next end in turn.
  void toggle_due(PhaseRun& run, std::uint64_t now_ns);
  [[nodiscard]] bool wraps_write(const PhaseRun& run, End& end) const;

  // capture.cpp: the run's own packets, when the scenario captures them
  void start_capture();
  void stop_capture();
  void stamp_sequence(std::vector<std::byte>& message);
  void record_wire(const PhaseRun& run, std::span<const std::byte> message, std::uint64_t sent,
                   std::uint64_t at);
  [[nodiscard]] bool is_capture(std::size_t token) const {
    return capture_ != nullptr && token == ends_.size();
  }
  // A pipe's writing end is no end of its own: registered under its reading end's token with
  // this bit set (the channel's token, all bits set, is told apart first).
  static constexpr std::size_t kWriterToken = std::size_t{1} << 62;

  // faults.cpp
  void inject_faults(PhaseRun* run);
  void observe_reset(PhaseRun& run, std::size_t e);
  void teardown(RunOutcome& outcome);
  [[nodiscard]] std::size_t registered_end_of(std::size_t pair) const;
  [[nodiscard]] std::size_t peer_end_of(std::size_t pair) const {
    return side_ == Side::both ? 2 * pair : pair;
  }
  [[nodiscard]] bool holds_registered_ends() const { return side_ != Side::far; }
  [[nodiscard]] bool holds_peer_ends() const { return side_ != Side::near; }

  const Scenario& scenario_;
  const RunOptions& options_;
  const Clock& clock_ = Clock::get();
  std::size_t active_;
  std::size_t first_active_;
  bool inject_faults_;
  bool faults_injected_ = false;
  bool set_up_cut_short_ = false;  // stopped during set-up: fewer pairs, not all registered
  // This poller's part of the scenario's rates: open-loop sends and rate toggles are given for
  // the whole run, and go where the traffic is.
  double share_;
  Side side_;
  std::optional<PeerChannel> peer_;
  bool peer_registered_ = false;
  bool peer_gone_ = false;  // the other side ended before it said what it sent
  std::optional<libpoll::Poll> poll_;
  std::vector<LinkPair> pairs_;
  std::vector<PairState> pair_state_;
  std::vector<End> ends_;
  std::vector<std::size_t> leaked_;  // ends dropped without deregister, cleaned up after the check
  std::vector<int> duplicates_;      // the zombies' duplicates, closed after the check
  std::vector<std::byte> scratch_;
  std::size_t backlogged_ = 0;          // ends whose outbox or owed messages wait
  std::vector<std::size_t> flush_due_;  // ends a flush left with room in the socket
  std::vector<std::size_t> flushing_;
  std::vector<std::size_t> read_due_;  // ends a drain left with bytes perhaps still to read
  std::vector<std::size_t> reading_;
  // Streams stay whole across phases: a message sent before a phase ended (stamped no later than
  // its `until`) that arrives in a later one is framed as its own phase framed it, and dropped.
  // Every ended phase is kept, not only the last: a stream whose drains run out in phases in a
  // row still holds messages from two or more phases back. One per phase: 16 at most.
  struct PhaseEnded {
    std::uint64_t until;
    Framing framing;
  };
  std::vector<PhaseEnded> ended_;
  Histogram register_ns_;
  Histogram reregister_ns_;
  Histogram deregister_ns_;
  double clock_cost_ns_ = 0;
  double record_cost_ns_ = 0;
  std::uint64_t clock_reads_ = 0;
  std::uint64_t records_ = 0;
  std::unique_ptr<CaptureSession> capture_;  // destroyed before the Poll, deregistered first
  std::uint64_t next_sequence_ = 0;
};

}  // namespace pollscope
