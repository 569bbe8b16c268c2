#include "libpoll/registry.hpp"

#include "sys/selector.hpp"

namespace libpoll {

Result<void> Registry::register_fd(int fd, Token token, Interest interest) const noexcept {
  if (!selector_) return Unexpected(std::errc::bad_file_descriptor);
  return selector_->register_fd(fd, token, interest);
}

Result<void> Registry::reregister_fd(int fd, Token token, Interest interest) const noexcept {
  if (!selector_) return Unexpected(std::errc::bad_file_descriptor);
  return selector_->reregister_fd(fd, token, interest);
}

Result<void> Registry::deregister_fd(int fd) const noexcept {
  if (!selector_) return Unexpected(std::errc::bad_file_descriptor);
  return selector_->deregister_fd(fd);
}

}  // namespace libpoll
