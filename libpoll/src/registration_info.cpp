#include "libpoll/registration_info.hpp"

namespace libpoll {

std::string to_string(const std::source_location& site) {
  if (site.line() == 0) return "an unknown site";
  std::string text = site.file_name();
  text += ':' + std::to_string(site.line());
  if (*site.function_name() != '\0') text += std::string(" (") + site.function_name() + ')';
  return text;
}

std::string to_string(const RegistrationInfo& registration) {
  return "fd " + std::to_string(registration.fd) + ", token " +
         std::to_string(registration.token.value) + ", " + to_string(registration.interest) +
         ", registered at " + to_string(registration.site);
}

}  // namespace libpoll
