#include "libpoll/poll.hpp"

#include "poll_state.hpp"

namespace libpoll {

Result<Poll> Poll::create(Backend backend) noexcept {
  return create(PollOptions{.backend = backend});
}

Result<Poll> Poll::create(const PollOptions& options) noexcept {
  auto state = detail::PollState::create(options);
  if (!state) return Unexpected(state.error());
  return Poll(Registry(std::move(*state)));
}

Poll::Poll(Registry registry) noexcept : registry_(std::move(registry)) {}

Poll& Poll::operator=(Poll&& other) noexcept {
  if (this != &other) {
    report_leaks();
    registry_ = std::move(other.registry_);
  }
  return *this;
}

Poll::~Poll() {
  report_leaks();
}

void Poll::report_leaks() noexcept {
  if (registry_.state_) registry_.state_->report_leaks();
}

Result<void> Poll::poll_for_milliseconds(Events& events, int timeout_ms) noexcept {
  if (!registry_.state_) return Unexpected(std::errc::bad_file_descriptor);
  return registry_.state_->select(events, timeout_ms);
}

Backend Poll::backend() const noexcept {
  return registry_.state_ ? registry_.state_->selector().backend() : Backend::automatic;
}

std::vector<RegistrationInfo> Poll::registrations() const {
  if (!registry_.state_) return {};
  return registry_.state_->registrations();
}

Result<AuditReport> Poll::audit() const {
  if (!registry_.state_) return Unexpected(std::errc::bad_file_descriptor);
  return registry_.state_->audit();
}

PollMetrics Poll::metrics() const noexcept {
  return registry_.state_ ? registry_.state_->metrics() : PollMetrics{};
}

void Poll::set_leak_handler(LeakHandler handler) {
  if (registry_.state_) registry_.state_->set_leak_handler(std::move(handler));
}

void Poll::reset_leak_handler() {
  if (registry_.state_) registry_.state_->set_leak_handler(std::nullopt);
}

int Poll::as_raw_fd() const noexcept {
  return registry_.state_ ? registry_.state_->hand_out_handle() : -1;
}

}  // namespace libpoll
