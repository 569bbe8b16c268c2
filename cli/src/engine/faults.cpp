// Injected faults, and the teardown whose leak check must find exactly them.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <utility>

#include "engine/poller.hpp"

namespace pollscope {

// Ends are laid out pair by pair: a two-way pair's peer (a) then its registered end (b); a
// pipe's reading end (b) alone; with the peer elsewhere, each side's one end of each pair.
std::size_t Poller::registered_end_of(std::size_t pair) const {
  return side_ == Side::both && pairs_[pair].two_way ? 2 * pair + 1 : pair;
}

// Injects the scenario's faults, each into a pair of its own: active pairs first, so that
// faults injected during a phase (`run`) meet traffic. The zombies' duplicates come first, while
// no fault has freed a descriptor number they could take. With the peer elsewhere, both sides
// mark the same pairs, and each does what concerns its ends: the near side drops, closes and
// dup's registered ends, the peer resets its own.
void Poller::inject_faults(PhaseRun* run) {
  faults_injected_ = true;
  const Faults& faults = scenario_.faults;
  std::vector<std::size_t> order;
  for (std::size_t pair = std::min(active_, pairs_.size()); pair-- > 0;) order.push_back(pair);
  for (std::size_t pair = pairs_.size(); pair-- > active_;) order.push_back(pair);
  std::size_t taken = 0;
  const auto take = [&](PairState state) {
    const std::size_t pair = order.at(taken++);  // the scenario's check keeps this in range
    pair_state_[pair] = state;
    if (holds_registered_ends()) drop_backlog(registered_end_of(pair));
    if (holds_peer_ends() && pairs_[pair].two_way) drop_backlog(peer_end_of(pair));
    if (run != nullptr) {  // its messages in flight are lost with it
      run->in_flight -= std::min(run->in_flight, std::uint64_t{run->pair_in_flight[pair]});
      run->pair_in_flight[pair] = 0;
    }
    return pair;
  };
  for (std::uint32_t i = 0; i < faults.dup_then_close; ++i) {
    const std::size_t pair = take(PairState::zombie);
    if (!holds_registered_ends()) continue;
    End& end = ends_[registered_end_of(pair)];
    const int fd = end.link->release_fd();
    duplicates_.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    ::close(fd);  // the kernel keeps watching the file through the duplicate
    end.gone = true;
  }
  for (std::uint32_t i = 0; i < faults.leak; ++i) {
    const std::size_t pair = take(PairState::leaked);
    if (!holds_registered_ends()) continue;
    const std::size_t e = registered_end_of(pair);
    leaked_.push_back(e);  // dropped without deregister: still open, still registered
    ends_[e].gone = true;
  }
  for (std::uint32_t i = 0; i < faults.close_before_deregister; ++i) {
    const std::size_t pair = take(PairState::closed);
    if (!holds_registered_ends()) continue;
    End& end = ends_[registered_end_of(pair)];
    const int fd = end.link->release_fd();
    ::close(fd);
    (void)poll_->registry().deregister_source(libpoll::SourceFd(fd));  // fails: EBADF
    end.gone = true;
  }
  for (std::uint32_t i = 0; i < faults.peer_reset; ++i) {
    // The peer is deregistered and closed properly, with SO_LINGER 0: a reset, and no leak.
    const std::size_t pair = take(PairState::reset);
    if (!holds_peer_ends()) continue;
    const std::size_t peer = peer_end_of(pair);
    End& end = ends_[peer];
    if (end.registered) deregister_end(peer);
    arm_reset(*end.link);
    ::close(end.link->release_fd());
    end.gone = true;
  }
}

// The reset reached the registered end: like an application, deregister and close it.
void Poller::observe_reset(PhaseRun& run, std::size_t e) {
  End& end = ends_[e];
  ++run.figures.peer_resets_observed;
  drop_backlog(e);
  if (end.registered) deregister_end(e);
  ::close(end.link->release_fd());
  end.gone = true;
}

// Injects the faults now unless a phase already did, deregisters everything else, and checks
// what is left against the kernel: the check must find exactly the injected faults.
void Poller::teardown(RunOutcome& outcome) {
  // A set-up cut short by a stop may lack the pairs the faults need: no phase ran to see them.
  if (inject_faults_ && !faults_injected_ && !set_up_cut_short_) inject_faults(nullptr);
  for (std::size_t e = 0; e < ends_.size(); ++e) {
    if (!ends_[e].gone && ends_[e].registered) deregister_end(e);
    deregister_writer(e);  // a pipe's writing end, registered while its outbox waited
  }
  if (peer_registered_) {
    peer_registered_ = false;
    (void)poll_->registry().deregister_source(peer_->source());
  }
  // Registrations still live in the book and unexplained by the audit were never deregistered.
  auto findings = audit();
  std::set<std::pair<int, std::uint64_t>> explained;
  for (const auto& finding : findings) explained.emplace(finding.fd, finding.token);
  for (const auto& info : poll_->registrations()) {
    if (explained.contains({info.fd, info.token.value})) continue;
    findings.push_back(LeakFinding{"leaked", info.fd, info.token.value,
                                   libpoll::to_string(info.interest), libpoll::to_string(info.site),
                                   "still registered at teardown: never deregistered"});
  }
  for (auto& finding : findings) outcome.leaks.push_back(std::move(finding));

  // Clean up after the check, so that the process leaves nothing behind.
  for (std::size_t e : leaked_) {
    (void)poll_->registry().deregister_source(ends_[e].link->source());
  }
  for (int duplicate : duplicates_) ::close(duplicate);
  pairs_.clear();
}

}  // namespace pollscope
