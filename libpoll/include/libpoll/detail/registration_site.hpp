#pragma once

// Carries the caller's std::source_location from Registry::register_source down to the book,
// through Source implementations that cannot take an extra parameter. Only the outermost
// register call on a thread sets it, so a Source that delegates to inner sources records its
// user's call site, not its own.

#include <source_location>

namespace libpoll::detail {

inline thread_local const std::source_location* current_registration_site = nullptr;

class RegistrationSiteScope {
 public:
  explicit RegistrationSiteScope(const std::source_location& site) noexcept
      : owner_(current_registration_site == nullptr) {
    if (owner_) current_registration_site = &site;
  }
  ~RegistrationSiteScope() {
    if (owner_) current_registration_site = nullptr;
  }
  RegistrationSiteScope(const RegistrationSiteScope&) = delete;
  RegistrationSiteScope& operator=(const RegistrationSiteScope&) = delete;

 private:
  bool owner_;
};

}  // namespace libpoll::detail
