#include "libpoll/fdinfo.hpp"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "libpoll/detail/syscall.hpp"
#include "libpoll/owned_fd.hpp"

namespace libpoll {

namespace {

// The next whitespace-separated word of `line`, consumed.
std::string_view next_word(std::string_view& line) {
  const auto start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  const auto end = line.find_first_of(" \t");
  const auto word = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return word;
}

template <typename T>
std::optional<T> parse_number(std::string_view text, int base) {
  T value{};
  const auto* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(text.data(), last, value, base);
  if (error != std::errc() || end != last || text.empty()) return std::nullopt;
  return value;
}

// The kernel prints the superblock's device in its internal encoding (major << 20 | minor);
// stat() reports the user-space one. Convert so that the two compare.
std::uint64_t user_device(std::uint64_t kernel_device) {
  return makedev(static_cast<unsigned>(kernel_device >> 20),
                 static_cast<unsigned>(kernel_device & 0xfffff));
}

// One `tfd:` line: "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x". Fields come
// as "name:" followed by a value, either in the same word or the next one.
std::optional<KernelRegistration> parse_tfd_line(std::string_view line) {
  KernelRegistration registration;
  bool has_fd = false;
  bool has_events = false;
  bool has_data = false;
  while (!line.empty()) {
    auto word = next_word(line);
    if (word.empty()) break;
    const auto colon = word.find(':');
    if (colon == std::string_view::npos) continue;  // not a field: a newer kernel's addition
    const auto name = word.substr(0, colon);
    auto value = word.substr(colon + 1);
    if (value.empty()) value = next_word(line);
    if (name == "tfd") {
      auto fd = parse_number<int>(value, 10);
      if (!fd) return std::nullopt;
      registration.target_fd = *fd;
      has_fd = true;
    } else if (name == "events") {
      auto events = parse_number<std::uint32_t>(value, 16);
      if (!events) return std::nullopt;
      registration.events = *events;
      has_events = true;
    } else if (name == "data") {
      auto data = parse_number<std::uint64_t>(value, 16);
      if (!data) return std::nullopt;
      registration.data = *data;
      has_data = true;
    } else if (name == "pos") {
      registration.position = parse_number<std::int64_t>(value, 10);
    } else if (name == "ino") {
      registration.inode = parse_number<std::uint64_t>(value, 16);
    } else if (name == "sdev") {
      if (auto device = parse_number<std::uint64_t>(value, 16)) {
        registration.device = user_device(*device);
      }
    }
    // Any other field is from a newer kernel: skipped.
  }
  if (!has_fd || !has_events || !has_data) return std::nullopt;
  return registration;
}

}  // namespace

std::vector<KernelRegistration> parse_epoll_fdinfo(std::string_view text) {
  std::vector<KernelRegistration> registrations;
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) continue;
    line.remove_prefix(start);
    if (!line.starts_with("tfd:")) continue;
    if (auto registration = parse_tfd_line(line)) registrations.push_back(*registration);
  }
  return registrations;
}

Result<std::vector<KernelRegistration>> read_epoll_fdinfo(pid_t pid, int epoll_fd) {
  const std::string process = pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
  // Any other kind of fd would parse as an epoll with no registrations: say what it is instead.
  // (Both files need the same rights, so a failure here is the one reading would give.)
  const std::string link_path = process + "/fd/" + std::to_string(epoll_fd);
  char target[64] = {};
  const auto length = ::readlink(link_path.c_str(), target, sizeof target - 1);
  if (length < 0) return detail::last_error();
  if (std::string_view(target, static_cast<std::size_t>(length)) != "anon_inode:[eventpoll]") {
    return Unexpected(std::errc::invalid_argument);
  }

  const std::string path = process + "/fdinfo/" + std::to_string(epoll_fd);
  OwnedFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.is_valid()) return detail::last_error();
  std::string text;
  char buffer[8192];
  for (;;) {
    auto got = detail::syscall_result(::read(file.get(), buffer, sizeof buffer));
    if (!got) {
      if (got.error() == std::errc::interrupted) continue;
      return Unexpected(got.error());
    }
    if (*got == 0) break;
    text.append(buffer, *got);
  }
  return parse_epoll_fdinfo(text);
}

}  // namespace libpoll
