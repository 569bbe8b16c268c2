#include "libpoll/waker.hpp"

#include "libpoll/error.hpp"
#include "libpoll/interest.hpp"
#include "poll_state.hpp"

namespace libpoll {

Result<Waker> Waker::create(const Registry& registry, Token token,
                            const std::source_location& site) noexcept {
  if (!registry.state_) return Unexpected(std::errc::bad_file_descriptor);
  detail::RegistrationSiteScope scope(site);
  // Checked again, atomically, when the handle is registered; this spares making one in vain.
  if (registry.state_->has_waker()) return Unexpected(Errc::waker_exists);
  auto handle = registry.state_->selector().make_waker();
  if (!handle) return Unexpected(handle.error());
  if (auto registered = registry.register_waker_fd((*handle)->fd(), token); !registered) {
    return Unexpected(registered.error());
  }
  return Waker(registry.clone(), std::move(*handle));
}

Waker::Waker(Registry registry, std::unique_ptr<sys::WakerHandle> handle) noexcept
    : registry_(std::move(registry)), handle_(std::move(handle)) {}

Waker::Waker(Waker&&) noexcept = default;

Waker& Waker::operator=(Waker&& other) noexcept {
  if (this != &other) {
    close();
    registry_ = std::move(other.registry_);
    handle_ = std::move(other.handle_);
  }
  return *this;
}

Waker::~Waker() {
  close();
}

Result<void> Waker::wake() const noexcept {
  if (!handle_) return Unexpected(std::errc::bad_file_descriptor);
  return handle_->wake();
}

void Waker::close() noexcept {
  if (!handle_) return;
  // Deregistering can only fail if the selector is already gone, and then there is nothing
  // left to clean up.
  (void)registry_.deregister_fd(handle_->fd());
  handle_.reset();
}

}  // namespace libpoll
