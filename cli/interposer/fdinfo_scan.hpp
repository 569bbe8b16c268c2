#pragma once

// Counts the registrations under one descriptor number in an epoll instance's /proc/self/fdinfo
// text, fed in pieces as read(2) returns them: a line may be split between two reads, so a
// partial line is carried over to the next piece. No allocation (it runs inside the
// interposer's wrappers).
//
// The kernel lists a registration as
//   tfd: <fd> events: <hex> data: <hex>  pos:<n> ino:<hex> sdev:<hex>
// Several can share a number: a zombie's, and the registration of the file given the number
// since (files without an inode of their own, such as eventfds, look alike here).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace pollscope::interposer {

class FdinfoScan {
 public:
  explicit FdinfoScan(int fd) : fd_(fd) {}
  // Only the registrations under the number whose data word is `data` and, when `inode` is not 0,
  // whose file is on that inode and device (sdev, the kernel's encoding).
  FdinfoScan(int fd, std::uint64_t data, std::uint64_t inode = 0, std::uint32_t device = 0)
      : fd_(fd), data_(data), any_data_(false), inode_(inode), device_(device) {}

  void feed(const char* text, std::size_t length) {
    while (length > 0) {
      const auto* end = static_cast<const char*>(std::memchr(text, '\n', length));
      const std::size_t piece = end == nullptr ? length : static_cast<std::size_t>(end - text);
      carry(text, piece);
      if (end == nullptr) return;  // the rest of this line comes with the next read
      line();
      text += piece + 1;
      length -= piece + 1;
    }
  }
  // The registrations listed under the number so far.
  [[nodiscard]] int count() const { return count_; }

 private:
  void carry(const char* text, std::size_t length) {
    // A line longer than the buffer is none of the kernel's registration lines.
    if (length > sizeof line_ - 1 - size_) {
      overlong_ = true;
      return;
    }
    std::memcpy(line_ + size_, text, length);
    size_ += length;
  }

  void line() {
    line_[size_] = '\0';
    const bool whole = !overlong_;
    size_ = 0;
    overlong_ = false;
    if (!whole || std::strncmp(line_, "tfd:", 4) != 0) return;
    char* after = nullptr;
    const long number = std::strtol(line_ + 4, &after, 10);
    if (after == line_ + 4 || number != fd_) return;
    if (any_data_ || (field(after, "data:") == data_ && same_file(after))) ++count_;
  }

  // The hexadecimal value after `name`; ~0 when the line has none.
  static std::uint64_t field(const char* text, const char* name) {
    const char* at = std::strstr(text, name);
    return at == nullptr ? ~std::uint64_t{0} : std::strtoull(at + std::strlen(name), nullptr, 16);
  }

  // A line without ino and sdev (kernels before 4.13) may be any file.
  [[nodiscard]] bool same_file(const char* text) const {
    if (inode_ == 0 || std::strstr(text, "ino:") == nullptr) return true;
    return field(text, "ino:") == inode_ && field(text, "sdev:") == device_;
  }

  int fd_;
  std::uint64_t data_ = 0;
  bool any_data_ = true;
  std::uint64_t inode_ = 0;
  std::uint32_t device_ = 0;
  int count_ = 0;
  char line_[512];
  std::size_t size_ = 0;
  bool overlong_ = false;
};

}  // namespace pollscope::interposer
