#include "libpoll/poll.hpp"

#include "sys/selector.hpp"

namespace libpoll {

Result<Poll> Poll::create(Backend backend) noexcept {
  auto selector = sys::make_selector(backend);
  if (!selector) return Unexpected(selector.error());
  return Poll(Registry(std::move(*selector)));
}

Result<void> Poll::poll_for_milliseconds(Events& events, int timeout_ms) noexcept {
  if (!registry_.selector_) return Unexpected(std::errc::bad_file_descriptor);
  return registry_.selector_->select(events, timeout_ms);
}

Backend Poll::backend() const noexcept {
  return registry_.selector_ ? registry_.selector_->backend() : Backend::automatic;
}

}  // namespace libpoll
