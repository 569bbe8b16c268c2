#include "received_bytes.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace libpoll::detail {

std::size_t ReceivedBytes::append(std::span<const std::byte> bytes) noexcept {
  const std::scoped_lock lock(mutex_);
  if (head_ == bytes_.size()) {  // read empty: start over at the front, with room for a burst
    if (bytes_.capacity() > 2 * kHighWater) std::vector<std::byte>().swap(bytes_);
    bytes_.clear();
    head_ = 0;
  } else if (head_ > bytes_.size() / 2) {  // mostly read: move the rest down
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  try {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  } catch (const std::bad_alloc&) {
    error_ = ENOMEM;
  }
  return bytes_.size() - head_;
}

std::size_t ReceivedBytes::copy_out(std::span<const iovec> buffers, bool peek) noexcept {
  std::size_t from = head_;
  for (const iovec& buffer : buffers) {
    if (from == bytes_.size()) break;
    const std::size_t n = std::min(buffer.iov_len, bytes_.size() - from);
    if (n > 0) std::memcpy(buffer.iov_base, bytes_.data() + from, n);
    from += n;
  }
  const std::size_t copied = from - head_;
  if (!peek) head_ = from;
  return copied;
}

ssize_t ReceivedBytes::read(int fd, std::span<const iovec> buffers, bool peek) noexcept {
  const std::scoped_lock lock(mutex_);
  const std::size_t copied = copy_out(buffers, peek);
  if (copied > 0) {
    std::size_t requested = 0;
    for (const iovec& buffer : buffers) requested += buffer.iov_len;
    // With no request in flight the descriptor may hold more: a read goes on there, so that a
    // short count still means the stream was drained (which a reregister may rely on).
    if (receiving_ || peek || copied == requested) return static_cast<ssize_t>(copied);
    constexpr std::size_t kRest = 64;  // a partial transfer is a read's right
    std::array<iovec, kRest> rest{};
    std::size_t skipped = copied;
    std::size_t count = 0;
    for (const iovec& buffer : buffers) {
      if (count == kRest) break;
      if (skipped >= buffer.iov_len) {
        skipped -= buffer.iov_len;
        continue;
      }
      rest[count++] =
          iovec{static_cast<char*>(buffer.iov_base) + skipped, buffer.iov_len - skipped};
      skipped = 0;
    }
    const int saved = errno;
    const ssize_t more = ::readv(fd, rest.data(), static_cast<int>(count));
    errno = saved;  // what the descriptor said shows at the next read
    return static_cast<ssize_t>(copied) + std::max<ssize_t>(more, 0);
  }
  if (error_ != 0) {
    errno = std::exchange(error_, 0);
    return -1;
  }
  if (receiving_) {
    errno = EAGAIN;
    return -1;
  }
  if (peek) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(buffers.data());
    message.msg_iovlen = buffers.size();
    return ::recvmsg(fd, &message, MSG_PEEK);
  }
  return ::readv(fd, buffers.data(), static_cast<int>(buffers.size()));
}

}  // namespace libpoll::detail
