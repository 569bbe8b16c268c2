#include "peer_loops.hpp"

#include <ev.h>

// libev's EV_READ (0x01) before libevent's header defines EV_READ as a macro (0x02, which is
// libev's EV_WRITE).
namespace {
constexpr int kLibevRead = EV_READ;
}

#include <event2/event.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>

#include "libpoll/libpoll.hpp"

namespace peers {

bool drain_one(int fd, bool echo) noexcept {
  std::array<char, 64> buffer{};
  const ssize_t got = ::read(fd, buffer.data(), buffer.size());
  if (got <= 0) return false;
  if (buffer[static_cast<std::size_t>(got) - 1] == 'q') return true;
  if (echo) (void)::write(fd, buffer.data(), static_cast<std::size_t>(got));
  return false;
}

namespace {

// ---- raw epoll: the floor every ratio is taken against ----------------------------------------
class RawLoop final : public Loop {
 public:
  RawLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}
  ~RawLoop() override { ::close(epoll_); }
  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    fds_.clear();
    for (auto& pair : pairs) fds_.push_back(pair.first.as_raw_fd());
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      epoll_event event{.events = EPOLLIN | EPOLLET, .data = {.u64 = i}};
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fds_[i], &event);
    }
  }
  void unwatch_all() override {
    for (int fd : fds_) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  }
  void apply() override {
    (void)::epoll_wait(epoll_, events_.data(), static_cast<int>(events_.size()), 0);
  }
  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool churn) override {
    std::size_t handled = 0;
    while (handled < expected) {
      const int ready = ::epoll_wait(epoll_, events_.data(), static_cast<int>(events_.size()), -1);
      for (int i = 0; i < ready; ++i) {
        const int fd = fds_[events_[static_cast<std::size_t>(i)].data.u64];
        drain_one(fd, false);
        if (churn) {
          epoll_event event = events_[static_cast<std::size_t>(i)];
          event.events = EPOLLIN | EPOLLET;
          ::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event);
        }
        ++handled;
      }
    }
    return handled;
  }
  void serve_echo() override {
    for (;;) {
      const int ready = ::epoll_wait(epoll_, events_.data(), static_cast<int>(events_.size()), -1);
      for (int i = 0; i < ready; ++i) {
        if (drain_one(fds_[events_[static_cast<std::size_t>(i)].data.u64], true)) return;
      }
    }
  }

 private:
  int epoll_;
  std::vector<int> fds_;
  std::array<epoll_event, 1024> events_{};
};

// ---- libpoll, through SourceFd or through its own sockets --------------------------------------
class LibpollLoop final : public Loop {
 public:
  LibpollLoop(libpoll::Poll poll, bool own) : poll_(std::move(poll)), own_(own) {}
  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    pairs_ = &pairs;
    fds_.clear();
    for (auto& pair : pairs) fds_.push_back(pair.first.as_raw_fd());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      if (own_) {
        (void)poll_.registry().register_source(pairs[i].first, libpoll::Token{i},
                                               libpoll::Interest::readable);
      } else {
        (void)poll_.registry().register_source(libpoll::SourceFd(pairs[i].first.as_raw_fd()),
                                               libpoll::Token{i}, libpoll::Interest::readable);
      }
    }
  }
  void unwatch_all() override {
    for (auto& pair : *pairs_) {
      if (own_) {
        (void)poll_.registry().deregister_source(pair.first);
      } else {
        (void)poll_.registry().deregister_source(libpoll::SourceFd(pair.first.as_raw_fd()));
      }
    }
  }
  void apply() override { (void)poll_.poll(events_, std::chrono::milliseconds(0)); }
  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool churn) override {
    return own_ ? own_round(expected, churn) : foreign_round(expected, churn);
  }
  void serve_echo() override {
    for (;;) {
      (void)poll_.poll(events_, std::nullopt);
      for (const libpoll::Event& event : events_) {
        auto& stream = (*pairs_)[event.token().value].first;
        if (own_ ? echo_own(stream) : drain_one(stream.as_raw_fd(), true)) return;
      }
    }
  }

 private:
  // drain_one's echo through the stream's own read and write, which a backend may serve
  // differently from the descriptor's; true when it read the stop byte.
  bool echo_own(libpoll::net::UnixStream& stream) {
    const auto got = stream.read(std::span(buffer_));
    if (!got || *got == 0) return false;
    if (buffer_[*got - 1] == std::byte{'q'}) return true;
    (void)stream.write(std::span<const std::byte>(buffer_.data(), *got));
    return false;
  }
  // Through libpoll's own sockets: their reads date their drains for the coalesced changes.
  std::size_t own_round(std::size_t expected, bool churn) {
    std::size_t handled = 0;
    const libpoll::Registry& registry = poll_.registry();
    while (handled < expected) {
      (void)poll_.poll(events_, std::nullopt);
      for (const libpoll::Event& event : events_) {
        auto& stream = (*pairs_)[event.token().value].first;
        (void)stream.read(std::span(buffer_));
        if (churn) (void)registry.reregister_source(stream, event.token(), kReadable);
        ++handled;
      }
    }
    return handled;
  }
  // Through raw descriptors, shaped as RawLoop's round (the same lookup and read), so that the
  // difference in instructions is libpoll's.
  std::size_t foreign_round(std::size_t expected, bool churn) {
    std::size_t handled = 0;
    while (handled < expected) {
      (void)poll_.poll(events_, std::nullopt);
      // The churn test out of the loop and the count per batch, as the compiler makes RawLoop's.
      if (!churn) {
        for (const libpoll::Event& event : events_) drain_one(fds_[event.token().value], false);
      } else {
        for (const libpoll::Event& event : events_) churn_one(fds_[event.token().value], event);
      }
      handled += events_.size();
    }
    return handled;
  }
  void churn_one(int fd, const libpoll::Event& event) {
    const libpoll::Registry& registry = poll_.registry();
    const ssize_t got = ::read(fd, buffer_.data(), buffer_.size());
    // What a correct user of a foreign descriptor does before a reregister: say that the read
    // drained it (a short read of a stream socket, or would-block).
    const bool drained =
        got < 0 ? errno == EAGAIN : got > 0 && static_cast<std::size_t>(got) < buffer_.size();
    if (drained) (void)registry.drained(libpoll::SourceFd(fd), kReadable);
    (void)registry.reregister_source(libpoll::SourceFd(fd), event.token(), kReadable);
  }

  static constexpr libpoll::Interest kReadable = libpoll::Interest::readable;
  libpoll::Poll poll_;
  bool own_;
  std::vector<bench::StreamPair>* pairs_ = nullptr;
  std::vector<int> fds_;  // by token, as RawLoop keeps them
  libpoll::Events events_{1024};
  std::array<std::byte, 64> buffer_{};
};

// ---- libev: ev_io watchers; a change is stop, modify, start (applied at the next iteration) ----
// libev compares each watched descriptor's final mask at its next iteration and makes no system
// call when it is unchanged. ev_io_set in place of ev_io_modify would also declare the
// descriptor new, and libev would then try an EPOLL_CTL_ADD on every event (failing with EEXIST).
class LibevLoop final : public Loop {
 public:
  LibevLoop() : loop_(ev_loop_new(EVBACKEND_EPOLL)) {}
  ~LibevLoop() override { ev_loop_destroy(loop_); }
  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    watchers_ = std::vector<Watcher>(pairs.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      watchers_[i].owner = this;
      ev_io_init(&watchers_[i].io, &LibevLoop::on_readable, pairs[i].first.as_raw_fd(), kLibevRead);
      ev_io_start(loop_, &watchers_[i].io);
    }
  }
  void unwatch_all() override {
    for (Watcher& watcher : watchers_) ev_io_stop(loop_, &watcher.io);
  }
  // libev applies changes at its next iteration: without one, its epoll set would still hold
  // the descriptors when they are closed, and it would take their reused numbers for its own.
  void apply() override { ev_run(loop_, EVRUN_NOWAIT); }
  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool churn) override {
    handled_ = 0;
    churn_ = churn;
    while (handled_ < expected) ev_run(loop_, EVRUN_ONCE);
    return handled_;
  }
  void serve_echo() override {
    echo_ = true;
    ev_run(loop_, 0);
  }

 private:
  struct Watcher {
    ev_io io;
    LibevLoop* owner;
  };
  static void on_readable(struct ev_loop* loop, ev_io* io, int /*revents*/) {
    auto* watcher = reinterpret_cast<Watcher*>(io);
    LibevLoop& self = *watcher->owner;
    if (drain_one(io->fd, self.echo_)) ev_break(loop, EVBREAK_ALL);
    if (self.churn_) {
      ev_io_stop(loop, io);
      ev_io_modify(io, kLibevRead);
      ev_io_start(loop, io);
    }
    ++self.handled_;
  }

  struct ev_loop* loop_;
  std::vector<Watcher> watchers_;
  std::size_t handled_ = 0;
  bool churn_ = false;
  bool echo_ = false;
};

// ---- libuv: uv_poll_t handles; a change is uv_poll_start again ---------------------------------
class LibuvLoop final : public Loop {
 public:
  LibuvLoop() { uv_loop_init(&loop_); }
  ~LibuvLoop() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // the closes
    uv_loop_close(&loop_);
  }
  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    handles_ = std::vector<Handle>(pairs.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      handles_[i].owner = this;
      handles_[i].fd = pairs[i].first.as_raw_fd();
      uv_poll_init(&loop_, &handles_[i].poll, handles_[i].fd);
      uv_poll_start(&handles_[i].poll, UV_READABLE, &LibuvLoop::on_readable);
    }
  }
  void unwatch_all() override {
    for (Handle& handle : handles_) uv_poll_stop(&handle.poll);
  }
  void apply() override { uv_run(&loop_, UV_RUN_NOWAIT); }
  void settle() override {
    for (Handle& handle : handles_) uv_close(reinterpret_cast<uv_handle_t*>(&handle.poll), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool churn) override {
    handled_ = 0;
    churn_ = churn;
    while (handled_ < expected) uv_run(&loop_, UV_RUN_ONCE);
    return handled_;
  }
  void serve_echo() override {
    echo_ = true;
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

 private:
  struct Handle {
    uv_poll_t poll;
    LibuvLoop* owner;
    int fd;
  };
  static void on_readable(uv_poll_t* poll, int /*status*/, int /*events*/) {
    auto* handle = reinterpret_cast<Handle*>(poll);
    LibuvLoop& self = *handle->owner;
    if (drain_one(handle->fd, self.echo_)) {
      uv_poll_stop(poll);
      uv_stop(&self.loop_);
    } else if (self.churn_) {
      uv_poll_start(poll, UV_READABLE, &LibuvLoop::on_readable);
    }
    ++self.handled_;
  }

  uv_loop_t loop_{};
  std::vector<Handle> handles_;
  std::size_t handled_ = 0;
  bool churn_ = false;
  bool echo_ = false;
};

// ---- libevent: persistent events; a change is event_del then event_add -------------------------
class LibeventLoop final : public Loop {
 public:
  LibeventLoop() {
    event_config* config = event_config_new();
    event_config_require_features(config, 0);
    event_config_avoid_method(config, "poll");
    event_config_avoid_method(config, "select");
    base_ = event_base_new_with_config(config);
    event_config_free(config);
  }
  ~LibeventLoop() override {
    for (event* watched : events_) event_free(watched);
    event_base_free(base_);
  }
  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    for (event* watched : events_) event_free(watched);
    events_.assign(pairs.size(), nullptr);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      events_[i] = event_new(base_, pairs[i].first.as_raw_fd(), EV_READ | EV_PERSIST,
                             &LibeventLoop::on_readable, this);
      event_add(events_[i], nullptr);
    }
  }
  void unwatch_all() override {
    for (event* watched : events_) event_del(watched);
  }
  void apply() override { event_base_loop(base_, EVLOOP_NONBLOCK); }
  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool churn) override {
    handled_ = 0;
    churn_ = churn;
    while (handled_ < expected) event_base_loop(base_, EVLOOP_ONCE);
    return handled_;
  }
  void serve_echo() override {
    echo_ = true;
    event_base_dispatch(base_);
  }

 private:
  static void on_readable(evutil_socket_t fd, short /*what*/, void* arg) {
    LibeventLoop& self = *static_cast<LibeventLoop*>(arg);
    if (drain_one(fd, self.echo_)) event_base_loopbreak(self.base_);
    if (self.churn_) {
      event* watched = event_base_get_running_event(self.base_);
      event_del(watched);
      event_add(watched, nullptr);
    }
    ++self.handled_;
  }

  event_base* base_ = nullptr;
  std::vector<event*> events_;
  std::size_t handled_ = 0;
  bool churn_ = false;
  bool echo_ = false;
};

// `bound`: PollOptions::single_thread (on io_uring, a ring bound to the polling thread);
// `ahead`: PollOptions::receive_ahead (io_uring reads libpoll's own streams as data arrives).
std::unique_ptr<Loop> make_libpoll(libpoll::Backend backend, bool own, bool bound = false,
                                   bool ahead = false) {
  auto poll = libpoll::Poll::create(
      libpoll::PollOptions{.backend = backend, .single_thread = bound, .receive_ahead = ahead});
  if (!poll) return nullptr;
  return std::make_unique<LibpollLoop>(std::move(*poll), own);
}

}  // namespace

std::unique_ptr<Loop> make_loop(std::string_view name) {
  if (name == "raw") return std::make_unique<RawLoop>();
#if PEERS_HAVE_URING_RECV
  if (name == "raw-io_uring-recv") return make_uring_recv_loop();
#endif
  if (name == "libpoll") return make_libpoll(libpoll::Backend::epoll, false);
  if (name == "libpoll-own") return make_libpoll(libpoll::Backend::epoll, true);
  if (name == "libpoll-io_uring") return make_libpoll(libpoll::Backend::io_uring, false);
  if (name == "libpoll-io_uring-own") return make_libpoll(libpoll::Backend::io_uring, true);
  if (name == "libpoll-io_uring-bound")
    return make_libpoll(libpoll::Backend::io_uring, false, true);
  if (name == "libpoll-io_uring-bound-own") {
    return make_libpoll(libpoll::Backend::io_uring, true, true);
  }
  if (name == "libpoll-io_uring-ahead-own") {
    return make_libpoll(libpoll::Backend::io_uring, true, false, true);
  }
  if (name == "libev") return std::make_unique<LibevLoop>();
  if (name == "libuv") return std::make_unique<LibuvLoop>();
  if (name == "libevent") return std::make_unique<LibeventLoop>();
  return nullptr;
}

}  // namespace peers
