#include "libpoll/poll.hpp"

#include <cstdio>

#include "poll_state.hpp"

namespace libpoll {

namespace {

// The default leak handler: one line per registration, with its site, on stderr.
void print_leaks(std::span<const RegistrationInfo> leaked) {
  std::fprintf(stderr,
               "libpoll: Poll destroyed with %zu live registration(s); deregister sources before "
               "dropping them:\n",
               leaked.size());
  for (const RegistrationInfo& registration : leaked) {
    std::fprintf(stderr, "  %s\n", to_string(registration).c_str());
  }
}

}  // namespace

Result<Poll> Poll::create(Backend backend) noexcept {
  return create(PollOptions{.backend = backend});
}

Result<Poll> Poll::create(const PollOptions& options) noexcept {
  auto state = detail::PollState::create(options);
  if (!state) return Unexpected(state.error());
  return Poll(Registry(std::move(*state)));
}

Poll::Poll(Registry registry) noexcept
    : registry_(std::move(registry)), leak_handler_(print_leaks) {}

Poll& Poll::operator=(Poll&& other) noexcept {
  if (this != &other) {
    report_leaks();
    registry_ = std::move(other.registry_);
    leak_handler_ = std::move(other.leak_handler_);
  }
  return *this;
}

Poll::~Poll() {
  report_leaks();
}

void Poll::report_leaks() noexcept {
  if (!registry_.state_ || !leak_handler_) return;
  try {
    const auto leaked = registry_.state_->registrations();
    if (!leaked.empty()) leak_handler_(leaked);
  } catch (...) {
    // A destructor must not throw; a handler that does loses its report.
  }
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
  leak_handler_ = std::move(handler);
}

int Poll::as_raw_fd() const noexcept {
  return registry_.state_ ? registry_.state_->selector().native_handle() : -1;
}

}  // namespace libpoll
