#include "libpoll/registration.hpp"

#include "libpoll/error.hpp"
#include "poll_state.hpp"

namespace libpoll {

Result<Registration> Registration::create(const Registry& registry, Source& source, Token token,
                                          Interest interest,
                                          const std::source_location& site) noexcept {
  if (auto registered = registry.register_source(source, token, interest, site); !registered) {
    return Unexpected(registered.error());
  }
  return Registration(registry.clone(), source);
}

Registration::Registration(Registry registry, Source& source) noexcept
    : registry_(std::move(registry)), source_(&source) {}

Registration::Registration(Registration&& other) noexcept
    : registry_(std::move(other.registry_)), source_(std::exchange(other.source_, nullptr)) {}

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    deregister_counting_failure();
    registry_ = std::move(other.registry_);
    source_ = std::exchange(other.source_, nullptr);
  }
  return *this;
}

Registration::~Registration() {
  deregister_counting_failure();
}

void Registration::deregister_counting_failure() noexcept {
  if (!active()) return;
  if (auto deregistered = deregister(); !deregistered && registry_->state_) {
    registry_->state_->count_guard_failure();
  }
}

Result<void> Registration::reregister(Token token, Interest interest) noexcept {
  if (!active()) return Unexpected(Errc::not_registered);
  return registry_->reregister_source(*source_, token, interest);
}

Result<void> Registration::deregister() noexcept {
  if (!active()) return Unexpected(Errc::not_registered);
  Source* source = std::exchange(source_, nullptr);
  return registry_->deregister_source(*source);
}

void Registration::release() noexcept {
  source_ = nullptr;
}

}  // namespace libpoll
