// Regressions for the net types' contracts across types: which addresses each factory takes,
// and vectored I/O with more buffers than one system call can take.

#include "libpoll/net/pipe.hpp"
#include "libpoll/net/socket_addr.hpp"
#include "libpoll/net/tcp_listener.hpp"
#include "libpoll/net/tcp_stream.hpp"
#include "libpoll/net/udp_socket.hpp"
#include "libpoll/net/unix_datagram.hpp"
#include "libpoll/net/unix_listener.hpp"
#include "libpoll/net/unix_stream.hpp"

#include <stdlib.h>
#include <sys/uio.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::string_literals;
using net::SocketAddr;
using testing::PollTestWithDirectory;

// Socket files go to the test's own directory (PollTestWithDirectory).
class NetContractTest : public PollTestWithDirectory {};

// One-byte buffers over `data`, one per byte.
std::vector<iovec> one_byte_buffers(std::vector<char>& data) {
  std::vector<iovec> buffers;
  for (char& byte : data) buffers.push_back(iovec{&byte, 1});
  return buffers;
}

constexpr std::size_t kMoreThanIovMax = 2 * static_cast<std::size_t>(IOV_MAX);

// Regression: given a Unix address, TcpListener::bind, TcpStream::connect and UdpSocket::bind
// made Unix sockets typed as TCP and UDP ones (set_nodelay then failed with "Operation not
// supported"). mio's types take IP addresses only.
TEST_P(NetContractTest, TcpAndUdpFactoriesRefuseAUnixAddress) {
  const std::string socket_path = path("sock");
  const auto unix_addr = SocketAddr::unix_path(socket_path).value();

  auto listener = net::TcpListener::bind(unix_addr);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), std::errc::address_family_not_supported)
      << listener.error().message();
  auto stream = net::TcpStream::connect(unix_addr);
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error(), std::errc::address_family_not_supported) << stream.error().message();
  auto socket = net::UdpSocket::bind(unix_addr);
  ASSERT_FALSE(socket);
  EXPECT_EQ(socket.error(), std::errc::address_family_not_supported) << socket.error().message();
  EXPECT_FALSE(std::filesystem::exists(socket_path)) << "a socket file was made";
}

// Regression: a path with a NUL inside was accepted, and the kernel, which reads the path up to
// its first NUL, bound "<dir>/a" for "<dir>/a\0b".
TEST_P(NetContractTest, UnixPathWithANulInsideIsRefusedAndBindsNothing) {
  const std::string with_nul = path("a\0b"s);
  auto datagram = net::UnixDatagram::bind(with_nul);
  ASSERT_FALSE(datagram) << "bound " << datagram->local_addr().value().to_string();
  EXPECT_EQ(datagram.error(), std::errc::invalid_argument) << datagram.error().message();
  auto listener = net::UnixListener::bind(with_nul);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), std::errc::invalid_argument) << listener.error().message();
  EXPECT_FALSE(std::filesystem::exists(path("a")));
  auto stream = net::UnixStream::connect(with_nul);
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error(), std::errc::invalid_argument) << stream.error().message();
}

// Regression: more than IOV_MAX buffers made writev fail with EMSGSIZE (sendmsg) or EINVAL
// (readv, writev on a pipe). As in mio (Rust's read_vectored/write_vectored), a call uses the
// first IOV_MAX buffers and reports the partial transfer.
TEST_P(NetContractTest, VectoredIoWithMoreThanIovMaxBuffersMovesThoseThatFit) {
  auto [first, second] = net::UnixStream::pair().value();
  std::vector<char> out(kMoreThanIovMax, 'x');
  const auto written = first.writev(one_byte_buffers(out));
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(*written, static_cast<std::size_t>(IOV_MAX));

  std::vector<char> in(kMoreThanIovMax, '\0');
  const auto read = second.readv(one_byte_buffers(in));
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(*read, static_cast<std::size_t>(IOV_MAX));
  EXPECT_EQ(in[IOV_MAX - 1], 'x');
  EXPECT_EQ(in[IOV_MAX], '\0');

  auto [sender, receiver] = net::pipe().value();
  const auto piped = sender.writev(one_byte_buffers(out));
  ASSERT_TRUE(piped) << piped.error().message();
  EXPECT_EQ(*piped, static_cast<std::size_t>(IOV_MAX));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(NetContractTest);

}  // namespace
}  // namespace libpoll
