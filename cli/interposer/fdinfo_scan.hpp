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
  // Only the registrations under the number whose data word is `data`.
  FdinfoScan(int fd, std::uint64_t data) : fd_(fd), data_(data), any_data_(false) {}

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
    const char* data = std::strstr(after, "data:");
    if (any_data_ || (data != nullptr && std::strtoull(data + 5, nullptr, 16) == data_)) ++count_;
  }

  int fd_;
  std::uint64_t data_ = 0;
  bool any_data_ = true;
  int count_ = 0;
  char line_[512];
  std::size_t size_ = 0;
  bool overlong_ = false;
};

}  // namespace pollscope::interposer
