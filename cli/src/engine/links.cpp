#include "engine/links.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "base/failure.hpp"

namespace pollscope {

namespace {

template <typename T>
T must(libpoll::Result<T> result, const char* what) {
  if (!result) throw Failure::environment(std::string(what) + ": " + result.error().message());
  return std::move(*result);
}

void must(libpoll::Result<void> result, const char* what) {
  if (!result) throw Failure::environment(std::string(what) + ": " + result.error().message());
}

// Stream and datagram sockets: read and write through the socket itself.
template <typename Socket>
class SocketLink final : public Link {
 public:
  explicit SocketLink(Socket socket) : socket_(std::move(socket)) {}
  libpoll::Source& source() noexcept override { return socket_; }
  int fd() const noexcept override { return socket_.as_raw_fd(); }
  int release_fd() noexcept override { return socket_.into_raw_fd(); }
  libpoll::Result<std::size_t> read(std::span<std::byte> buffer) noexcept override {
    if constexpr (std::is_same_v<Socket, libpoll::net::UdpSocket>) {
      return socket_.recv(buffer);
    } else {
      return socket_.read(buffer);
    }
  }
  libpoll::Result<std::size_t> write(std::span<const std::byte> data) noexcept override {
    if constexpr (std::is_same_v<Socket, libpoll::net::UdpSocket>) {
      return socket_.send(data);
    } else {
      return socket_.write(data);
    }
  }
  bool datagram() const noexcept override {
    return std::is_same_v<Socket, libpoll::net::UdpSocket>;
  }

 private:
  Socket socket_;
};

class PipeWriteLink final : public Link {
 public:
  explicit PipeWriteLink(libpoll::net::PipeSender sender) : sender_(std::move(sender)) {}
  libpoll::Source& source() noexcept override { return sender_; }
  int fd() const noexcept override { return sender_.as_raw_fd(); }
  int release_fd() noexcept override { return sender_.into_raw_fd(); }
  libpoll::Result<std::size_t> read(std::span<std::byte>) noexcept override {
    return libpoll::Unexpected(std::errc::operation_not_supported);
  }
  libpoll::Result<std::size_t> write(std::span<const std::byte> data) noexcept override {
    return sender_.write(data);
  }
  bool datagram() const noexcept override { return false; }

 private:
  libpoll::net::PipeSender sender_;
};

class PipeReadLink final : public Link {
 public:
  explicit PipeReadLink(libpoll::net::PipeReceiver receiver) : receiver_(std::move(receiver)) {}
  libpoll::Source& source() noexcept override { return receiver_; }
  int fd() const noexcept override { return receiver_.as_raw_fd(); }
  int release_fd() noexcept override { return receiver_.into_raw_fd(); }
  libpoll::Result<std::size_t> read(std::span<std::byte> buffer) noexcept override {
    return receiver_.read(buffer);
  }
  libpoll::Result<std::size_t> write(std::span<const std::byte>) noexcept override {
    return libpoll::Unexpected(std::errc::operation_not_supported);
  }
  bool datagram() const noexcept override { return false; }

 private:
  libpoll::net::PipeReceiver receiver_;
};

// Connections per listener: well under the ~28,000 ephemeral ports, so that each listener's
// 4-tuples never run out.
constexpr std::size_t kPairsPerListener = 16384;

std::vector<LinkPair> make_tcp_pairs(std::size_t count) {
  using libpoll::net::TcpListener;
  using libpoll::net::TcpStream;
  std::vector<LinkPair> pairs;
  pairs.reserve(count);
  while (pairs.size() < count) {
    auto listener = must(TcpListener::bind(libpoll::net::SocketAddr::loopback_v4(0)), "bind");
    const auto address = must(listener.local_addr(), "getsockname");
    const std::size_t batch = std::min(kPairsPerListener, count - pairs.size());
    // Connect and accept in slices smaller than the listen backlog.
    for (std::size_t done = 0; done < batch;) {
      const std::size_t slice = std::min<std::size_t>(64, batch - done);
      std::vector<TcpStream> clients;
      for (std::size_t i = 0; i < slice; ++i) {
        clients.push_back(must(TcpStream::connect(address), "connect"));
      }
      for (auto& client : clients) {
        // The listener is non-blocking: a connection still in flight gives would-block; wait
        // for it with a blocking poll(2) on the listener, bounded.
        for (int attempt = 0;; ++attempt) {
          auto accepted = listener.accept();
          if (accepted) {
            (void)client.set_nodelay(true);
            (void)accepted->first.set_nodelay(true);
            pairs.push_back(LinkPair{
                std::make_unique<SocketLink<TcpStream>>(std::move(client)),
                std::make_unique<SocketLink<TcpStream>>(std::move(accepted->first)), true});
            break;
          }
          if (!libpoll::is_would_block(accepted.error()) || attempt > 1000) {
            throw Failure::environment("accept: " + accepted.error().message());
          }
          pollfd wait{listener.as_raw_fd(), POLLIN, 0};
          (void)::poll(&wait, 1, 10);
        }
      }
      done += slice;
    }
  }
  return pairs;
}

}  // namespace

std::vector<LinkPair> make_pairs(SocketKind kind, std::size_t count) {
  using namespace libpoll::net;
  if (kind == SocketKind::tcp) return make_tcp_pairs(count);
  if (kind == SocketKind::waker || kind == SocketKind::eventfd) return make_wake_pairs(kind, count);
  std::vector<LinkPair> pairs;
  pairs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    switch (kind) {
      case SocketKind::unix_stream: {
        auto [a, b] = must(UnixStream::pair(), "socketpair");
        pairs.push_back(LinkPair{std::make_unique<SocketLink<UnixStream>>(std::move(a)),
                                 std::make_unique<SocketLink<UnixStream>>(std::move(b)), true});
        break;
      }
      case SocketKind::udp: {
        auto a = must(UdpSocket::bind(SocketAddr::loopback_v4(0)), "bind");
        auto b = must(UdpSocket::bind(SocketAddr::loopback_v4(0)), "bind");
        must(a.connect(must(b.local_addr(), "getsockname")), "connect");
        must(b.connect(must(a.local_addr(), "getsockname")), "connect");
        pairs.push_back(LinkPair{std::make_unique<SocketLink<UdpSocket>>(std::move(a)),
                                 std::make_unique<SocketLink<UdpSocket>>(std::move(b)), true});
        break;
      }
      case SocketKind::pipe: {
        auto [sender, receiver] = must(libpoll::net::pipe(), "pipe");
        pairs.push_back(LinkPair{std::make_unique<PipeWriteLink>(std::move(sender)),
                                 std::make_unique<PipeReadLink>(std::move(receiver)), false});
        break;
      }
      case SocketKind::tcp:
      case SocketKind::waker:
      case SocketKind::eventfd:
        break;
    }
  }
  return pairs;
}

void arm_reset(Link& link) {
  const linger reset{1, 0};
  (void)::setsockopt(link.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

}  // namespace pollscope
