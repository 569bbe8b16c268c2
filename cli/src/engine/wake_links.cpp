// Wake-up pairs (sockets.kind "waker" and "eventfd"), for a peer on a thread of its own: no
// bytes cross. A message's stamps go into the receiving end's one-message mailbox, then the
// sender wakes the receiver's Poll: through libpoll's Waker::wake (waker), or by write(2) on an
// eventfd the receiver registered raw and reads back when woken (eventfd). Both are timed alike,
// from the stamp taken before the wake to the return of the poll that was blocked.

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "base/failure.hpp"
#include "engine/ends.hpp"
#include "engine/links.hpp"

namespace pollscope {

namespace {

// What an end is woken through: a Source its own Poll registers, that the other side wakes.
class WakeTarget : public libpoll::Source {
 public:
  virtual ~WakeTarget() = default;
  virtual libpoll::Result<void> wake() noexcept = 0;
  // Takes the wake-up (an eventfd's counter is read back, to zero).
  virtual void take() noexcept = 0;
  [[nodiscard]] virtual int fd() const noexcept = 0;
};

// libpoll's Waker, made when the end is registered. The other side's thread wakes it; the lock
// keeps it alive for that call while its own thread may deregister it.
class WakerTarget final : public WakeTarget {
 public:
  libpoll::Result<void> wake() noexcept override {
    const std::lock_guard lock(mutex_);
    if (!waker_) return libpoll::Unexpected(std::errc::bad_file_descriptor);
    return waker_->wake();
  }
  void take() noexcept override {}  // a waker's wake-up needs no reading
  int fd() const noexcept override { return -1; }

 private:
  libpoll::Result<void> register_source(const libpoll::Registry& registry, libpoll::Token token,
                                        libpoll::Interest) noexcept override {
    auto waker = libpoll::Waker::create(registry, token);
    if (!waker) return libpoll::Unexpected(waker.error());
    const std::lock_guard lock(mutex_);
    waker_.emplace(std::move(*waker));
    return {};
  }
  libpoll::Result<void> reregister_source(const libpoll::Registry&, libpoll::Token,
                                          libpoll::Interest) noexcept override {
    return libpoll::Unexpected(std::errc::operation_not_supported);
  }
  libpoll::Result<void> deregister_source(const libpoll::Registry&) noexcept override {
    const std::lock_guard lock(mutex_);
    waker_.reset();
    return {};
  }

  std::mutex mutex_;
  std::optional<libpoll::Waker> waker_;
};

// A bare eventfd, registered as a raw descriptor: the kernel's own path, with no Waker around it.
// Its wake takes the same lock as a Waker's, so that the two differ only in what they call.
class EventfdTarget final : public WakeTarget {
 public:
  EventfdTarget() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw Failure::environment(std::string("eventfd: ") + std::strerror(errno));
  }
  ~EventfdTarget() override { ::close(fd_); }
  libpoll::Result<void> wake() noexcept override {
    const std::lock_guard lock(mutex_);
    const std::uint64_t one = 1;
    if (::write(fd_, &one, sizeof one) < 0) return libpoll::Unexpected(std::errc(errno));
    return {};
  }
  void take() noexcept override {
    std::uint64_t count = 0;
    (void)::read(fd_, &count, sizeof count);  // EAGAIN: already zero
  }
  int fd() const noexcept override { return fd_; }

 private:
  libpoll::Result<void> register_source(const libpoll::Registry& registry, libpoll::Token token,
                                        libpoll::Interest interest) noexcept override {
    return registry.register_source(libpoll::SourceFd(fd_), token, interest);
  }
  libpoll::Result<void> reregister_source(const libpoll::Registry& registry, libpoll::Token token,
                                          libpoll::Interest interest) noexcept override {
    return registry.reregister_source(libpoll::SourceFd(fd_), token, interest);
  }
  libpoll::Result<void> deregister_source(const libpoll::Registry& registry) noexcept override {
    return registry.deregister_source(libpoll::SourceFd(fd_));
  }

  std::mutex mutex_;
  int fd_;
};

// One end's mailbox: one message at a time (the scenario keeps one in flight per pair).
struct Mailbox {
  std::atomic<std::uint64_t> intended{0};
  std::atomic<std::uint64_t> actual{0};
  std::atomic<bool> full{false};
};

struct WakeChannel {
  std::unique_ptr<WakeTarget> targets[2];
  Mailbox boxes[2];
};

class WakeLink final : public Link {
 public:
  WakeLink(std::shared_ptr<WakeChannel> channel, int side)
      : channel_(std::move(channel)), side_(side) {}
  libpoll::Source& source() noexcept override { return *channel_->targets[side_]; }
  int fd() const noexcept override { return channel_->targets[side_]->fd(); }
  int release_fd() noexcept override { return -1; }  // faults are refused for wake-up pairs
  bool datagram() const noexcept override { return true; }

  libpoll::Result<std::size_t> read(std::span<std::byte> buffer) noexcept override {
    Mailbox& box = channel_->boxes[side_];
    channel_->targets[side_]->take();
    if (!box.full.load(std::memory_order_acquire) || buffer.size() < sizeof(Stamps)) {
      return libpoll::Unexpected(std::errc::resource_unavailable_try_again);
    }
    const Stamps stamps{box.intended.load(std::memory_order_relaxed),
                        box.actual.load(std::memory_order_relaxed)};
    box.full.store(false, std::memory_order_release);
    std::memcpy(buffer.data(), &stamps, sizeof stamps);
    return sizeof stamps;
  }

  libpoll::Result<std::size_t> write(std::span<const std::byte> data) noexcept override {
    Mailbox& box = channel_->boxes[1 - side_];
    if (data.size() < sizeof(Stamps) || box.full.load(std::memory_order_acquire)) {
      return libpoll::Unexpected(std::errc::resource_unavailable_try_again);
    }
    Stamps stamps;
    std::memcpy(&stamps, data.data(), sizeof stamps);
    box.intended.store(stamps.intended, std::memory_order_relaxed);
    box.actual.store(stamps.actual, std::memory_order_relaxed);
    box.full.store(true, std::memory_order_release);
    if (auto woken = channel_->targets[1 - side_]->wake(); !woken) {
      return libpoll::Unexpected(woken.error());
    }
    return data.size();
  }

 private:
  std::shared_ptr<WakeChannel> channel_;
  int side_;
};

}  // namespace

std::vector<LinkPair> make_wake_pairs(SocketKind kind, std::size_t count) {
  std::vector<LinkPair> pairs;
  for (std::size_t i = 0; i < count; ++i) {
    auto channel = std::make_shared<WakeChannel>();
    for (auto& target : channel->targets) {
      if (kind == SocketKind::waker) {
        target = std::make_unique<WakerTarget>();
      } else {
        target = std::make_unique<EventfdTarget>();
      }
    }
    pairs.push_back(LinkPair{std::make_unique<WakeLink>(channel, 0),
                             std::make_unique<WakeLink>(channel, 1), true});
  }
  return pairs;
}

}  // namespace pollscope
