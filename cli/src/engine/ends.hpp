#pragma once

// The engine's view of the pairs it drives: what each message carries, what an injected fault
// did to a pair, and what the engine knows of each registered end.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "engine/links.hpp"

namespace pollscope {

// Every message starts with two stamps, on the engine's clock (which a peer thread or process
// shares): `actual`, when it was sent, from which its one-way latency counts; and `intended`: in
// an open loop, its slot in the schedule (latency counts from it, so that a late send does not
// hide a stall), in a closed loop the `actual` stamp of the message it answers (0: none), so that
// its arrival closes that message's round trip.
struct Stamps {
  std::uint64_t intended;
  std::uint64_t actual;
};
static_assert(sizeof(Stamps) == 16);

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
[[nodiscard]] inline bool still_takes_data(PairState state) {
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
  libpoll::Interest interest = libpoll::Interest::readable;
  std::vector<std::byte> inbox;   // bytes of a message not complete yet (streams)
  std::vector<std::byte> outbox;  // bytes a write could not take yet: one message at most
  // The message whose rest the outbox holds, while this phase counts it as sent (size 0: an
  // earlier phase did): taken back when its peer goes away, or at a stop if the socket took none
  // of it yet.
  Stamps outbox_stamps{};
  std::uint32_t outbox_message = 0;
  // Messages due while the outbox is not empty wait as their stamps alone (16 bytes each, not a
  // payload each): what a pair holds stays bounded by one payload out, one in, and these. A
  // replayed message also keeps its size.
  std::deque<Stamps> owed;
  std::deque<std::uint32_t> owed_bytes;  // replay only
  bool backlogged = false;               // the outbox or owed messages wait for the socket
  std::uint64_t events = 0;
  bool waiting_writable = false;  // readable_writable toggle: registered writable only
  // A pipe's writing end (pair.a), registered for writable while the outbox waits for the pipe.
  bool writer_registered = false;
  bool write_toggle_due = false;  // write_interest toggle at a rate: wrap the next write
};

}  // namespace pollscope
