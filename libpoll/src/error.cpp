#include "libpoll/error.hpp"

#include <string>

namespace libpoll {

namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "libpoll"; }

  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::already_registered:
        return "source is already registered with this Poll";
      case Errc::registered_with_another_poll:
        return "source is registered with another Poll; deregister it there first";
      case Errc::not_registered:
        return "source is not registered with this Poll";
      case Errc::waker_exists:
        return "the Poll has a live Waker already; share that one";
      case Errc::backend_unavailable:
        return "the backend is unavailable here: not built in, or refused by the kernel (too old, "
               "disabled by sysctl, or a seccomp filter); use epoll or poll";
      case Errc::nested_io_uring_poll:
        return "an io_uring Poll's descriptor cannot be registered: its ring reports only what its "
               "own poll() submitted; nest an epoll Poll instead";
    }
    return "unknown libpoll error";
  }

  [[nodiscard]] std::error_condition default_error_condition(int code) const noexcept override {
    switch (static_cast<Errc>(code)) {
      case Errc::already_registered:
      case Errc::registered_with_another_poll:
      case Errc::waker_exists:
        return std::errc::file_exists;
      case Errc::not_registered:
        return std::errc::no_such_file_or_directory;
      case Errc::backend_unavailable:
        return std::errc::function_not_supported;
      case Errc::nested_io_uring_poll:
        return std::errc::operation_not_supported;
    }
    return {code, *this};
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace libpoll
