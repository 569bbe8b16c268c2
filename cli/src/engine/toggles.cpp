// Interest toggles: a pattern applied every k readable events of an end (every k writes for
// write_interest), or at a rate, going round the ends of the active pairs one tick at a time.

#include <utility>

#include "engine/poller.hpp"

namespace pollscope {

using libpoll::Interest;

void Poller::plan_toggles(PhaseRun& run) {
  const Toggle& toggle = run.phase.toggle;
  run.toggles_on_events = !toggle.rate_per_second && toggle.pattern != TogglePattern::none &&
                          toggle.pattern != TogglePattern::write_interest;
  const double rate = toggle.rate_per_second ? *toggle.rate_per_second * share_ : 0;
  if (rate <= 0) return;
  run.toggle_ticks = Ticker(rate, run.start, 1);
  // The ends whose pairs carry traffic (all of them when none does).
  for (std::size_t e = 0; e < ends_.size(); ++e) {
    if (active_ == 0 || ends_[e].pair < active_) run.toggled.push_back(e);
  }
}

// Whether this write of `end` is wrapped in a write_interest toggle.
bool Poller::wraps_write(const PhaseRun& run, End& end) const {
  const Toggle& toggle = run.phase.toggle;
  if (toggle.pattern != TogglePattern::write_interest || !end.registered) return false;
  if (toggle.rate_per_second) return std::exchange(end.write_toggle_due, false);
  return ++end.events % toggle.every_events == 0;
}

// Applies the phase's toggle pattern to end `e`, now.
void Poller::toggle(PhaseRun& run, std::size_t e) {
  End& end = ends_[e];
  if (!end.registered || end.gone) return;
  switch (run.phase.toggle.pattern) {
    case TogglePattern::readable_writable:
      // Writable fires at once on an idle socket; its event turns readable back on, and the
      // reregister reports any data that came meanwhile.
      if (pairs_[end.pair].two_way && !end.waiting_writable && !end.backlogged) {
        end.waiting_writable = true;
        reregister_end(e, Interest::writable);
        ++run.figures.toggles;
      }
      break;
    case TogglePattern::reregister_cycle:
      reregister_end(e, end.interest);
      ++run.figures.toggles;
      break;
    case TogglePattern::deregister_cycle:
      deregister_end(e);
      register_end(e);
      ++run.figures.toggles;
      break;
    case TogglePattern::none:
    case TogglePattern::write_interest:  // applied around a write, in send()
      break;
  }
}

void Poller::toggle_due(PhaseRun& run, std::uint64_t now_ns) {
  if (run.toggled.empty()) return;
  while (run.toggle_ticks.take(now_ns)) {  // a tick's time does not matter to a toggle
    toggle_at_rate(run, run.toggled[run.next_toggled++ % run.toggled.size()]);
  }
}

void Poller::toggle_at_rate(PhaseRun& run, std::size_t e) {
  if (run.phase.toggle.pattern == TogglePattern::write_interest) {
    ends_[e].write_toggle_due = true;  // the end's next write is wrapped
    return;
  }
  toggle(run, e);
}

}  // namespace pollscope
