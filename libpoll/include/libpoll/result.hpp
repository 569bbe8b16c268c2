#pragma once

/// \file
/// `Result<T>`: the value of a fallible libpoll call, or the `std::error_code` that says why it
/// failed.
///
/// libpoll never throws. Every call that can fail is `noexcept` and returns a `Result`, whose
/// member names follow C++23's `std::expected<T, std::error_code>` so that code can move to it
/// later without renaming: `has_value()`, `operator bool`, `value()`, `error()`, `operator*`,
/// `operator->`, `value_or()`.
///
/// Errors are `std::error_code(errno, std::system_category())` and compare with `std::errc`:
///
/// ```cpp
/// auto n = stream.read(buffer);
/// if (!n && libpoll::is_would_block(n.error())) {
///   // drained: wait for the next readable event
/// }
/// ```
///
/// Calling `value()` or `operator*` on an error is a programming error: it prints the error and
/// aborts, as no exception may leave the library.

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace libpoll {

/// Wraps an error for returning it through a `Result` (like `std::unexpected`).
class Unexpected {
 public:
  explicit Unexpected(std::error_code error) noexcept : error_(error) {}
  explicit Unexpected(std::errc error) noexcept : error_(std::make_error_code(error)) {}
  [[nodiscard]] const std::error_code& error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

/// True for the error a non-blocking call returns when it would have to wait
/// (`EAGAIN`/`EWOULDBLOCK`): the source is drained and the next event says when to try again.
[[nodiscard]] inline bool is_would_block(const std::error_code& error) noexcept {
  // libpoll's own errors are errno values in the system category: compare those directly, since
  // comparing with std::errc costs two virtual calls on every drain.
  if (error.category() == std::system_category()) {
    return error.value() == EAGAIN || error.value() == EWOULDBLOCK;
  }
  return error == std::errc::resource_unavailable_try_again ||
         error == std::errc::operation_would_block;
}

namespace detail {
[[noreturn]] void bad_result_access(const std::error_code& error) noexcept;
}  // namespace detail

/// A `T`, or the error that kept the call from producing one.
template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");

 public:
  using value_type = T;
  using error_type = std::error_code;

  Result(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>)  // NOLINT: implicit
      : storage_(std::in_place_index<0>, value) {}
  Result(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>)  // NOLINT: implicit
      : storage_(std::in_place_index<0>, std::move(value)) {}
  Result(Unexpected error) noexcept  // NOLINT: implicit, like std::expected
      : storage_(std::in_place_index<1>, error.error()) {}

  [[nodiscard]] bool has_value() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & noexcept { return check(), *std::get_if<0>(&storage_); }
  [[nodiscard]] const T& value() const& noexcept { return check(), *std::get_if<0>(&storage_); }
  [[nodiscard]] T&& value() && noexcept { return check(), std::move(*std::get_if<0>(&storage_)); }

  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T&& operator*() && noexcept { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }

  /// The error; an empty (success) code when the result holds a value.
  [[nodiscard]] std::error_code error() const noexcept {
    const auto* error = std::get_if<1>(&storage_);
    return error != nullptr ? *error : std::error_code{};
  }

  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return has_value() ? *std::get_if<0>(&storage_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check() const noexcept {
    if (!has_value()) detail::bad_result_access(*std::get_if<1>(&storage_));
  }

  std::variant<T, std::error_code> storage_;
};

/// Success, or the error that made the call fail.
template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  using error_type = std::error_code;

  Result() noexcept = default;
  Result(Unexpected error) noexcept  // NOLINT: implicit, like std::expected
      : code_(error.error().value()), category_(code_ != 0 ? &error.error().category() : nullptr) {}

  [[nodiscard]] bool has_value() const noexcept { return category_ == nullptr; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const noexcept {
    if (!has_value()) detail::bad_result_access(error());
  }
  [[nodiscard]] std::error_code error() const noexcept {
    return has_value() ? std::error_code{} : std::error_code(static_cast<int>(code_), *category_);
  }

 private:
  // Success is a null category rather than an empty std::error_code, whose constructor calls
  // std::system_category(): a successful call then costs no function call on the hot path.
  // The code fills its register whole: with no padding to carry, a success is two zeroed
  // registers.
  std::int64_t code_ = 0;
  const std::error_category* category_ = nullptr;
};

}  // namespace libpoll
