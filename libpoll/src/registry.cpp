#include "libpoll/registry.hpp"

#include "libpoll/detail/io_result.hpp"
#include "libpoll/source_fd.hpp"
#include "poll_state.hpp"

namespace libpoll {

Result<void> Registry::register_source(SourceFd source, Token token, Interest interest,
                                       const std::source_location& site) const noexcept {
  detail::RegistrationSiteScope scope(site);
  return register_fd(source.fd(), token, interest);
}

// Straight to the book, not through reregister_fd and deregister_fd: one call less on the
// paths a churning loop takes for every event.
Result<void> Registry::reregister_source(SourceFd source, Token token,
                                         Interest interest) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->reregister_fd(source.fd(), token, interest);
}

Result<void> Registry::deregister_source(SourceFd source) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->deregister_fd(source.fd());
}

Result<void> Registry::register_fd(int fd, Token token, Interest interest) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->register_fd(fd, token, interest, sys::IoPath::foreign);
}

Result<void> Registry::register_io_fd(int fd, Token token, Interest interest,
                                      detail::EdgeLink& edge) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->register_fd(fd, token, interest, sys::IoPath::libpoll, &edge);
}

Result<void> Registry::register_waker_fd(int fd, Token token) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->register_waker_fd(fd, token);
}

Result<void> Registry::drained(SourceFd source, Interest kinds) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->drained(source.fd(), kinds);
}

Result<void> Registry::reregister_fd(int fd, Token token, Interest interest) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->reregister_fd(fd, token, interest);
}

Result<void> Registry::reregister_io_fd(int fd, Token token, Interest interest,
                                        std::uint64_t drained_at) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->reregister_fd(fd, token, interest, sys::IoPath::libpoll, drained_at);
}

Result<void> Registry::deregister_io_fd(int fd) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->deregister_fd(fd, true);
}

Result<void> Registry::deregister_fd(int fd) const noexcept {
  if (!state_) return Unexpected(std::errc::bad_file_descriptor);
  return state_->deregister_fd(fd);
}

}  // namespace libpoll
