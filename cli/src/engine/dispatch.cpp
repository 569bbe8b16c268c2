// Dispatching one event: ghosts and spurious readiness are counted, a reset peer is observed,
// writable flushes (a pipe's writing end too), readable receives, and toggles every k events
// follow.

#include "engine/poller.hpp"

namespace pollscope {

using libpoll::Interest;

void Poller::dispatch(PhaseRun& run, const libpoll::Event& event, std::uint64_t event_time) {
  const std::size_t e = event.token().value;
  if (is_capture(e)) {  // not a pair's event: the packets of the pairs' messages
    capture_->drain(run.figures);
    return;
  }
  if (e == kPeerToken && peer_) {
    hear_peer(run);  // the other side's notices: no event of the scenario's
    return;
  }
  ++run.figures.events;
  if ((e & kWriterToken) != 0) {
    dispatch_writer(run, event, e & ~kWriterToken);
    return;
  }
  if (e >= ends_.size() || ends_[e].gone) {
    ++run.figures.ghost_events;  // no source of ours has this token now
    return;
  }
  End& end = ends_[e];
  const bool closed = event.is_error() || event.is_read_closed() || event.is_write_closed();
  if ((event.is_readable() && !end.interest.is_readable() && !closed) ||
      (event.is_writable() && !end.interest.is_writable() && !closed)) {
    ++run.figures.spurious_events;
  }
  if (pair_state_[end.pair] == PairState::reset) {
    discard(run, e);  // what arrived before the reset, as the edge asks
    if (closed) observe_reset(run, e);
    return;
  }
  bool restored = false;
  if (event.is_writable()) {
    if (end.waiting_writable) {
      end.waiting_writable = false;
      reregister_end(e, resting_interest(end));
      restored = true;
    }
    flush(run, e);
  }
  if (event.is_readable() || closed) receive(run, e, event_time);
  // Toggles follow the handling of data, and never undo in the same event what the writable
  // event just restored (that would spin without moving a message).
  if (event.is_readable() && !restored && run.toggles_on_events &&
      ++end.events % run.phase.toggle.every_events == 0) {
    toggle(run, e);
  }
}

// A pipe's writing end: the reader drained the full pipe, which takes what waited for it.
void Poller::dispatch_writer(PhaseRun& run, const libpoll::Event& event, std::size_t e) {
  if (e >= ends_.size() || !ends_[e].writer_registered) {
    ++run.figures.ghost_events;  // deregistered: no source of ours has this token now
    return;
  }
  if (!event.is_writable() && !event.is_error() && !event.is_write_closed()) {
    ++run.figures.spurious_events;
  }
  flush(run, e);
}

}  // namespace pollscope
