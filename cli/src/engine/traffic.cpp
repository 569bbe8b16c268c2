// Messages: sending them (stamped), writing what a socket buffer could not take yet, and reading
// them back to would-block, as the edge-triggered contract asks.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/poller.hpp"

namespace pollscope {

using libpoll::Interest;

namespace {

// The messages an end of an open loop at a rate may owe: a second of its pair's schedule (what
// the memory budget counts, scenario/memory.hpp). Past that the loop is a second behind, and
// more would grow without bound while the socket cannot take them. Other loads owe less: a
// closed loop its in-flight count, a replay at most its schedule.
std::size_t most_owed(const PhaseRun& run) {
  if (!run.sends.active() || run.starters.empty()) return SIZE_MAX;
  const double per_pair = run.figures.target_rate / static_cast<double>(run.starters.size());
  return static_cast<std::size_t>(std::max(1.0, std::ceil(per_pair)));
}

// Messages one flush builds at most, as a tick sends at most kMostSendsPerTick: with a peer that
// reads as fast as it is written, the socket never fills, and the loop must still poll and see
// its deadline and a stop.
constexpr std::size_t kMostBuiltPerFlush = 1024;

// Bytes one drain reads at most (four reads of 64 KiB), for the same reason: a peer that writes
// as fast as it is read never lets the socket say would-block.
constexpr std::size_t kMostBytesPerDrain = 256 * 1024;

// The send stamp of the message starting at `head`.
std::uint64_t sent_at(const std::byte* head) {
  Stamps stamps;
  std::memcpy(&stamps, head, sizeof stamps);
  return stamps.actual;
}

}  // namespace

// Sends one message from end `e` (for a pipe: into the pipe that `e` reads). `intended` is its
// slot in an open-loop or replay schedule; in a closed loop, the send stamp of the message it
// answers (0 for none).
void Poller::send(PhaseRun& run, std::size_t e, std::uint64_t intended, std::uint32_t payload) {
  End& end = ends_[e];
  LinkPair& pair = pairs_[end.pair];
  const PairState state = pair_state_[end.pair];
  if (state != PairState::healthy && !still_takes_data(state)) return;
  const bool full = !end.outbox.empty() || !end.owed.empty();  // the socket took all it could
  if (state == PairState::healthy && full && end.owed.size() >= most_owed(run)) {
    ++run.figures.late_sends;  // never sent: the schedule is a second ahead of the socket
    return;
  }
  Link& writer = pair.two_way ? *end.link : *pair.a;
  const auto actual = now_ns();
  ++clock_reads_;
  const std::uint32_t bytes = run.framing.message_bytes(payload);
  const Stamps stamps{intended, actual};
  if (state != PairState::healthy) {
    build_message(stamps, bytes, run.framing);
    // Best effort: nobody reads it, and nothing waits for it. Sent only when the socket took it
    // whole, which a dropped end's full buffer soon stops doing.
    const auto written = writer.write(scratch_);
    if (written && *written == scratch_.size()) {
      count_sent(run, stamps, bytes);
    } else if (run.open_loop) {
      ++run.figures.late_sends;  // never sent
    }
    return;
  }
  count_sent(run, stamps, bytes);
  ++run.in_flight;
  ++run.pair_in_flight[end.pair];
  ++run.sent_healthy;
  if (full) {  // the socket is full: the stamps wait (the message is built when it has room)
    end.owed.push_back(stamps);
    if (run.framing.is_variable()) end.owed_bytes.push_back(bytes);
    return;
  }
  build_message(stamps, bytes, run.framing);
  const bool wrapped = wraps_write(run, end);
  if (wrapped) {
    ++run.figures.toggles;
    reregister_end(e, Interest::readable | Interest::writable);
  }
  if (!write_all(e, writer, scratch_)) unsend(run, end.pair, stamps, bytes);
  settle_backlog(e);
  // The wrap takes writable off again, unless what the socket did not take needs it.
  if (wrapped) reregister_end(e, resting_interest(end));
}

// The message in scratch_: its stamps, its sequence number and, when variable, its length.
void Poller::build_message(const Stamps& stamps, std::uint32_t bytes, Framing framing) {
  std::vector<std::byte>& message = scratch_;
  message.assign(bytes, std::byte{0});
  std::memcpy(message.data(), &stamps, sizeof stamps);
  stamp_sequence(message);
  if (framing.is_variable()) Framing::write_length(message.data(), bytes);
}

// A message sent: counted, and in an open loop late when it went out over 1 ms after its slot.
void Poller::count_sent(PhaseRun& run, const Stamps& stamps, std::uint32_t bytes) {
  if (run.open_loop && stamps.actual > stamps.intended + kLateSendNs) ++run.figures.late_sends;
  ++run.figures.sent;
  if (run.framing.is_variable()) run.figures.replay_bytes_sent += bytes;
}

// Writes the message in `data` (the outbox is empty: messages due while it is not are owed),
// keeping what the socket does not take yet in the outbox. False when it was dropped instead:
// the peer is gone, or a datagram found no room.
bool Poller::write_all(std::size_t e, Link& writer, std::span<const std::byte> data) {
  End& end = ends_[e];
  auto written = writer.write(data);
  std::size_t done = written ? *written : 0;
  if (!written && !libpoll::is_would_block(written.error())) return false;
  if (done == data.size()) return true;
  if (writer.datagram()) return false;
  end.outbox.assign(data.begin() + static_cast<std::ptrdiff_t>(done), data.end());
  std::memcpy(&end.outbox_stamps, data.data(), sizeof end.outbox_stamps);
  end.outbox_message = static_cast<std::uint32_t>(data.size());
  return true;
}

void Poller::flush(PhaseRun& run, std::size_t e) {
  End& end = ends_[e];
  if (!end.backlogged) return;
  const Framing framing = run.framing;
  LinkPair& pair = pairs_[end.pair];
  Link& writer = pair.two_way ? *end.link : *pair.a;
  if (!end.outbox.empty()) {
    auto written = writer.write(end.outbox);
    if (written) {
      end.outbox.erase(end.outbox.begin(),
                       end.outbox.begin() + static_cast<std::ptrdiff_t>(*written));
    } else if (!libpoll::is_would_block(written.error())) {
      drop_unwritten(run, e);  // the peer is gone: nothing will take it
    }
  }
  // The messages owed, built one at a time as the socket takes them: a tick's worth at most.
  for (std::size_t built = 0; end.outbox.empty() && !end.owed.empty(); ++built) {
    if (built == kMostBuiltPerFlush) {  // the socket has room still, which no edge will say
      flush_due_.push_back(e);
      return;
    }
    std::uint32_t bytes = framing.message_bytes(0);
    if (framing.is_variable()) {
      bytes = end.owed_bytes.front();
      end.owed_bytes.pop_front();
    }
    const Stamps stamps = end.owed.front();
    build_message(stamps, bytes, framing);
    end.owed.pop_front();
    if (!write_all(e, writer, scratch_)) {  // the peer is gone: this one and the rest are dropped
      unsend(run, end.pair, stamps, bytes);
      drop_unwritten(run, e);
    }
  }
  settle_backlog(e);
}

// Whether `e` has bytes or messages waiting for its socket, kept with what that needs: the
// socket's writable edge says when it takes more. A two-way end adds writable to its interest;
// a pipe's writing end, registered for nothing else, is registered.
void Poller::settle_backlog(std::size_t e) {
  End& end = ends_[e];
  const bool waiting = !end.outbox.empty() || !end.owed.empty();
  if (waiting == end.backlogged) return;
  end.backlogged = waiting;
  const bool two_way = pairs_[end.pair].two_way;
  if (waiting) {
    ++backlogged_;
    if (!two_way) register_writer(e);
    if (two_way && end.registered && !end.interest.is_writable()) {
      reregister_end(e, end.interest | Interest::writable);
    }
    return;
  }
  --backlogged_;
  deregister_writer(e);
  if (end.registered && end.interest.is_writable() && !end.waiting_writable) {
    reregister_end(e, Interest::readable);
  }
}

// A faulted pair's unwritten bytes: nothing healthy reads them now (and a pipe whose reader is
// closed would answer the next write with SIGPIPE).
void Poller::drop_backlog(std::size_t e) {
  End& end = ends_[e];
  end.outbox.clear();
  end.owed.clear();
  end.owed_bytes.clear();
  settle_backlog(e);
}

// A message counted when it was sent, but never written whole: dropped, it is taken back out of
// every figure that counted it (replayed bytes too), and an open loop's counts as a late send
// (unless it already did), like those its schedule could not make.
void Poller::unsend(PhaseRun& run, std::size_t pair, const Stamps& stamps, std::uint32_t bytes) {
  if (run.open_loop && stamps.actual <= stamps.intended + kLateSendNs) ++run.figures.late_sends;
  if (run.framing.is_variable()) run.figures.replay_bytes_sent -= bytes;
  --run.figures.sent;
  --run.sent_healthy;
  if (run.pair_in_flight[pair] > 0) {
    --run.pair_in_flight[pair];
    --run.in_flight;
  }
}

// Messages owed were counted when scheduled, but never written; so was the outbox's, when the
// socket took none of it. One it took part of is on the wire, and its stream owes the rest (the
// next phase writes it), unless `unfinished`: then it never arrives whole, and was never sent.
void Poller::unsend_owed(PhaseRun& run, std::size_t e, bool unfinished) {
  End& end = ends_[e];
  if (end.outbox_message != 0 && !end.outbox.empty() &&
      (unfinished || end.outbox.size() == end.outbox_message)) {
    unsend(run, end.pair, end.outbox_stamps, end.outbox_message);
    end.outbox.clear();
  }
  for (std::size_t i = 0; i < end.owed.size(); ++i) {
    unsend(run, end.pair, end.owed[i], end.owed_bytes.empty() ? 0 : end.owed_bytes[i]);
  }
  end.owed.clear();
  end.owed_bytes.clear();
  settle_backlog(e);
}

// The peer is gone: the message the outbox holds the rest of (when this phase counted it) and
// the messages owed will never be written.
void Poller::drop_unwritten(PhaseRun& run, std::size_t e) {
  End& end = ends_[e];
  if (!end.outbox.empty() && end.outbox_message != 0) {
    unsend(run, end.pair, end.outbox_stamps, end.outbox_message);
  }
  end.outbox.clear();
  unsend_owed(run, e);
}

void Poller::unsend_all_owed(PhaseRun& run, bool unfinished) {
  for (std::size_t e = 0; e < ends_.size(); ++e) unsend_owed(run, e, unfinished);
}

// The flushes a tick goes on with (each stopped at kMostBuiltPerFlush).
void Poller::flush_due(PhaseRun& run) {
  std::swap(flush_due_, flushing_);
  for (const std::size_t e : flushing_) flush(run, e);
  flushing_.clear();
}

// Reads what `e` has and hands each complete message to `on_message`, until would-block or
// kMostBytesPerDrain: false when it stopped there, with more perhaps still to read. A message
// sent before this phase began (the drain of its own ran out) is framed as its phase framed it,
// and dropped: its phase counted it already.
template <typename OnMessage>
bool Poller::drain(std::size_t e, Framing framing, OnMessage&& on_message) {
  End& end = ends_[e];
  std::array<std::byte, 65536> buffer;
  for (std::size_t taken = 0; taken < kMostBytesPerDrain;) {
    auto got = end.link->read(buffer);
    if (!got || *got == 0) return true;  // would-block, or an error the hang-up event reports
    taken += *got;
    if (end.link->datagram()) {
      if (*got >= sizeof(Stamps) && !sent_earlier(buffer.data())) {
        on_message(std::span<const std::byte>(buffer.data(), *got));
      }
      continue;
    }
    end.inbox.insert(end.inbox.end(), buffer.begin(),
                     buffer.begin() + static_cast<std::ptrdiff_t>(*got));
    std::size_t used = 0;
    for (std::size_t length; (length = complete_length(end, used, framing)) != 0; used += length) {
      const std::byte* message = end.inbox.data() + used;
      if (!sent_earlier(message)) on_message(std::span<const std::byte>(message, length));
    }
    end.inbox.erase(end.inbox.begin(), end.inbox.begin() + static_cast<std::ptrdiff_t>(used));
  }
  return false;
}

// The length of the message at `at` in `end`'s inbox once it is all there (0 before).
std::size_t Poller::complete_length(const End& end, std::size_t at, Framing framing) const {
  const std::size_t have = end.inbox.size() - at;
  if (have < sizeof(Stamps)) return 0;
  const std::byte* head = end.inbox.data() + at;
  framing = framing_of(head, framing);
  if (have < framing.length_known_after()) return 0;
  const std::size_t length = framing.length(head);
  return have < length ? 0 : length;
}

// Whether the message starting at `head` was sent before the last phase ended: every message of
// a phase is stamped before its sender stops, and this side ends its phase after that.
bool Poller::sent_earlier(const std::byte* head) const {
  return !ended_.empty() && sent_at(head) <= ended_.back().until;
}

// The framing of the phase that sent the message at `head`: the first to end after its send
// stamp (a phase's messages are stamped after the one before it ended), else `current`.
Framing Poller::framing_of(const std::byte* head, Framing current) const {
  const std::uint64_t sent = sent_at(head);
  const auto phase = std::partition_point(ended_.begin(), ended_.end(),
                                          [sent](const PhaseEnded& p) { return p.until < sent; });
  return phase == ended_.end() ? current : phase->framing;
}

// Reads `e`'s messages, then sends the replies a closed loop owes (once the read is done: a
// pipe's reply lands in the pipe being drained). A read cut short is taken up by the next tick,
// after a look at the deadline and a stop: no edge will say that more is there.
void Poller::receive(PhaseRun& run, std::size_t e, std::uint64_t event_time) {
  run.answers.clear();
  const bool whole = drain(e, run.framing, [&](std::span<const std::byte> message) {
    on_message(run, e, message, event_time);
  });
  if (!whole) read_due_.push_back(e);
  for (const std::uint64_t answered : run.answers) {
    if (run.figures.sent >= run.budget) break;
    send(run, e, answered);
  }
  run.answers.clear();
}

// The reads a tick goes on with (each cut short at kMostBytesPerDrain), unless the end is gone.
void Poller::read_due(PhaseRun& run) {
  if (read_due_.empty()) return;
  std::swap(read_due_, reading_);
  const auto now = now_ns();
  ++clock_reads_;
  for (const std::size_t e : reading_) {
    if (!ends_[e].gone && pair_state_[ends_[e].pair] != PairState::reset) receive(run, e, now);
  }
  reading_.clear();
}

// What arrived before a reset is read, and dropped (the rest, if any, with the socket).
void Poller::discard(const PhaseRun& run, std::size_t e) {
  (void)drain(e, run.framing, [](std::span<const std::byte>) {});
}

// Latencies are kept while a poll's events are dispatched, and recorded together after: one way
// from the send stamp (open loop: the intended one), and in a closed loop the round trip of the
// message this one answers. `at` is when the poll saw the event; a message sent after it came
// in while the drain read on, and is dated by the clock now rather than counted as 0.
void Poller::on_message(PhaseRun& run, std::size_t e, std::span<const std::byte> message,
                        std::uint64_t at) {
  Stamps stamps;
  std::memcpy(&stamps, message.data(), sizeof stamps);
  if (stamps.actual >= at) {
    at = now_ns();
    ++clock_reads_;
  }
  const auto since = [at](std::uint64_t stamp) { return at > stamp ? at - stamp : 0; };
  // Closed loop sends when it means to: the uncorrected figures are the same, and are copied
  // once at the end of the phase rather than recorded twice.
  if (run.open_loop) {
    run.latencies.push_back(since(stamps.intended));
    run.uncorrected.push_back(since(stamps.actual));
  } else {
    run.latencies.push_back(since(stamps.actual));
    if (stamps.intended != 0) run.round_trips.push_back(since(stamps.intended));
  }
  if (capture_) record_wire(run, message, stamps.actual, at);
  ++run.figures.messages;
  if (run.framing.is_variable()) run.figures.replay_bytes_received += message.size();
  const std::size_t pair = ends_[e].pair;
  if (pair_state_[pair] == PairState::healthy) {
    ++run.received_healthy;
    if (run.pair_in_flight[pair] > 0) {
      --run.pair_in_flight[pair];
      --run.in_flight;
    }
  }
  if (!run.open_loop && run.sending) run.answers.push_back(stamps.actual);
}

}  // namespace pollscope
