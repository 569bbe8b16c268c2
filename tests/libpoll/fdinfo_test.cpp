#include "libpoll/fdinfo.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "libpoll/owned_fd.hpp"

namespace libpoll {
namespace {

// The header an epoll fdinfo file starts with; its `pos:` and `ino:` lines describe the epoll
// file itself, not a registration.
constexpr std::string_view kHeader =
    "pos:\t0\n"
    "flags:\t02000002\n"
    "mnt_id:\t15\n"
    "ino:\t1057\n";

struct Pipe {
  OwnedFd read_end;
  OwnedFd write_end;
};

Pipe make_pipe() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0) << std::strerror(errno);
  return Pipe{OwnedFd(fds[0]), OwnedFd(fds[1])};
}

const KernelRegistration* find_target(const std::vector<KernelRegistration>& registrations,
                                      int fd) {
  const auto found = std::ranges::find(registrations, fd, &KernelRegistration::target_fd);
  return found == registrations.end() ? nullptr : &*found;
}

TEST(ParseEpollFdinfoTest, ReadsEveryFieldOfAModernTfdLine) {
  const std::string text = std::string(kHeader) +
                           "tfd:        4 events: 80000019 data:                4  pos:0 "
                           "ino:111453 sdev:9\n";
  const auto parsed = parse_epoll_fdinfo(text);
  ASSERT_EQ(parsed.size(), 1u);
  const KernelRegistration& registration = parsed[0];
  EXPECT_EQ(registration.target_fd, 4);
  EXPECT_EQ(registration.events, 0x80000019u);
  EXPECT_EQ(registration.data, 4u);
  EXPECT_EQ(registration.position, std::int64_t{0});
  EXPECT_EQ(registration.inode, std::uint64_t{0x111453});
  EXPECT_EQ(registration.device, std::uint64_t{makedev(0, 9)});
}

// The kernel prints its internal device encoding (major << 20 | minor); stat uses glibc's.
TEST(ParseEpollFdinfoTest, ConvertsTheKernelDeviceToTheStatEncoding) {
  const auto parsed = parse_epoll_fdinfo(
      "tfd:        7 events:       19 data:               2a  pos:4096 ino:ab sdev:800001\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].device, std::uint64_t{makedev(8, 1)});
  EXPECT_NE(parsed[0].device, std::uint64_t{0x800001});
  EXPECT_EQ(parsed[0].position, std::int64_t{4096});
  EXPECT_EQ(parsed[0].inode, std::uint64_t{0xab});
  EXPECT_EQ(parsed[0].data, 0x2au);
}

TEST(ParseEpollFdinfoTest, ReadsSeveralTfdLinesInOrder) {
  const std::string text = std::string(kHeader) +
                           "tfd:        5 events: 80000019 data:                1  pos:0 "
                           "ino:100 sdev:c\n"
                           "tfd:       12 events:        4 data:                2  pos:0 "
                           "ino:200 sdev:c\n"
                           "tfd:      300 events: 80002019 data:                3  pos:17 "
                           "ino:300 sdev:d\n";
  const auto parsed = parse_epoll_fdinfo(text);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0].target_fd, 5);
  EXPECT_EQ(parsed[1].target_fd, 12);
  EXPECT_EQ(parsed[2].target_fd, 300);
  EXPECT_EQ(parsed[1].events, 4u);
  EXPECT_EQ(parsed[2].events, 0x80002019u);
  EXPECT_EQ(parsed[0].data, 1u);
  EXPECT_EQ(parsed[1].data, 2u);
  EXPECT_EQ(parsed[2].data, 3u);
  EXPECT_EQ(parsed[2].position, std::int64_t{17});
  EXPECT_EQ(parsed[0].inode, std::uint64_t{0x100});
  EXPECT_EQ(parsed[2].device, std::uint64_t{makedev(0, 13)});
}

TEST(ParseEpollFdinfoTest, ReadsAFullSixtyFourBitDataWord) {
  const auto parsed = parse_epoll_fdinfo(
      "tfd:        4 events: 80000019 data: ffffffffffffffff  pos:0 ino:1 sdev:9\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].data, UINT64_MAX);
}

// Kernels before 4.13 print only fd, events and data.
TEST(ParseEpollFdinfoTest, OldKernelLineLeavesPositionInodeAndDeviceEmpty) {
  const auto parsed = parse_epoll_fdinfo(
      "pos:\t0\nflags:\t02\ntfd:        9 events:       19 data:       deadbeef\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].target_fd, 9);
  EXPECT_EQ(parsed[0].events, 0x19u);
  EXPECT_EQ(parsed[0].data, 0xdeadbeefu);
  EXPECT_FALSE(parsed[0].position.has_value());
  EXPECT_FALSE(parsed[0].inode.has_value());
  EXPECT_FALSE(parsed[0].device.has_value());
}

TEST(ParseEpollFdinfoTest, SkipsFieldsItDoesNotKnow) {
  const auto parsed = parse_epoll_fdinfo(
      "tfd:        4 events: 19 foo:12 data:                6  pos:0 ino:a bar: 77 sdev:9\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].target_fd, 4);
  EXPECT_EQ(parsed[0].events, 0x19u);
  EXPECT_EQ(parsed[0].data, 6u);
  EXPECT_EQ(parsed[0].inode, std::uint64_t{0xa});
  EXPECT_EQ(parsed[0].device, std::uint64_t{makedev(0, 9)});
}

TEST(ParseEpollFdinfoTest, SkipsMalformedLinesAndKeepsTheGoodOnesAroundThem) {
  const std::string text = std::string(kHeader) +
                           "tfd:        3 events:       19 data:                a\n"
                           "tfd:      abc events:       19 data:                b\n"
                           "tfd:        4 events:       19\n"
                           "tfd:        5 events:       zz data:                c\n"
                           "tfd:        6 events:       19 data:                d\n";
  const auto parsed = parse_epoll_fdinfo(text);
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].target_fd, 3);
  EXPECT_EQ(parsed[0].data, 0xau);
  EXPECT_EQ(parsed[1].target_fd, 6);
  EXPECT_EQ(parsed[1].data, 0xdu);
}

// A word that is not a "name:value" field (something a later kernel might print) is skipped
// like an unknown field, not taken as a reason to drop the registration.
TEST(ParseEpollFdinfoTest, SkipsBareWordsAndKeepsTheLine) {
  const auto parsed =
      parse_epoll_fdinfo("tfd:        7 events:       19 oneshot data:                e\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].target_fd, 7);
  EXPECT_EQ(parsed[0].events, 0x19u);
  EXPECT_EQ(parsed[0].data, 0xeu);
}

TEST(ParseEpollFdinfoTest, EmptyTextGivesNothing) {
  EXPECT_TRUE(parse_epoll_fdinfo("").empty());
  EXPECT_TRUE(parse_epoll_fdinfo("\n\n").empty());
}

TEST(ParseEpollFdinfoTest, HeaderLinesAreNotRegistrations) {
  EXPECT_TRUE(parse_epoll_fdinfo(kHeader).empty());
}

TEST(ReadEpollFdinfoTest, FindsTheRegistrationsOfARawEpollWithTheirFiles) {
  OwnedFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll.is_valid()) << std::strerror(errno);
  Pipe first = make_pipe();
  Pipe second = make_pipe();
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = 0x1111;
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, first.read_end.get(), &event), 0);
  event.events = EPOLLIN;
  event.data.u64 = 0xfedcba9876543210;
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, second.read_end.get(), &event), 0);

  auto read = read_epoll_fdinfo(0, epoll.get());
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(read->size(), 2u);

  const struct {
    const OwnedFd& fd;
    std::uint32_t events;
    std::uint64_t data;
  } expected[] = {{first.read_end, EPOLLIN | EPOLLET, 0x1111},
                  {second.read_end, EPOLLIN, 0xfedcba9876543210}};
  for (const auto& want : expected) {
    SCOPED_TRACE("fd " + std::to_string(want.fd.get()));
    const KernelRegistration* found = find_target(*read, want.fd.get());
    ASSERT_NE(found, nullptr);
    // The kernel adds EPOLLERR | EPOLLHUP to every registration; compare the bits set here.
    EXPECT_EQ(found->events & (EPOLLIN | EPOLLET), want.events);
    EXPECT_EQ(found->data, want.data);
    struct stat status {};
    ASSERT_EQ(::fstat(want.fd.get(), &status), 0);
    ASSERT_TRUE(found->inode.has_value()) << "kernel before 4.13?";
    ASSERT_TRUE(found->device.has_value());
    EXPECT_EQ(*found->inode, status.st_ino);
    EXPECT_EQ(*found->device, status.st_dev);
  }
}

// A FIFO lives on the filesystem it was made on, which is usually backed by a block device with
// a non-zero major number: the device conversion is exercised with a real kernel value.
TEST(ReadEpollFdinfoTest, DeviceOfAFifoOnDiskEqualsStat) {
  char directory[] = "/tmp/libpoll-fdinfo-XXXXXX";
  ASSERT_NE(::mkdtemp(directory), nullptr) << std::strerror(errno);
  const std::string path = std::string(directory) + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  OwnedFd fifo(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ::unlink(path.c_str());
  ::rmdir(directory);
  ASSERT_TRUE(fifo.is_valid()) << std::strerror(errno);

  OwnedFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll.is_valid());
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 77;
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fifo.get(), &event), 0);

  auto read = read_epoll_fdinfo(0, epoll.get());
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(read->size(), 1u);
  struct stat status {};
  ASSERT_EQ(::fstat(fifo.get(), &status), 0);
  EXPECT_EQ((*read)[0].data, 77u);
  EXPECT_EQ((*read)[0].inode, std::uint64_t{status.st_ino});
  EXPECT_EQ((*read)[0].device, std::uint64_t{status.st_dev})
      << "st_dev " << major(status.st_dev) << ":" << minor(status.st_dev);
}

TEST(ReadEpollFdinfoTest, EpollWithoutRegistrationsGivesNothing) {
  OwnedFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll.is_valid());
  auto read = read_epoll_fdinfo(0, epoll.get());
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_TRUE(read->empty());
}

TEST(ReadEpollFdinfoTest, NonEpollDescriptorIsAnInvalidArgument) {
  Pipe pipe = make_pipe();
  auto read = read_epoll_fdinfo(0, pipe.read_end.get());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), std::errc::invalid_argument);
}

TEST(ReadEpollFdinfoTest, ClosedDescriptorIsNoSuchFile) {
  int closed = -1;
  {
    OwnedFd epoll(::epoll_create1(EPOLL_CLOEXEC));
    ASSERT_TRUE(epoll.is_valid());
    closed = epoll.get();
  }
  auto read = read_epoll_fdinfo(0, closed);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), std::errc::no_such_file_or_directory);
}

// Waits (bounded) for `size` bytes on `fd`; false on timeout, error or end of file.
bool read_exactly(int fd, void* buffer, std::size_t size) {
  auto* bytes = static_cast<char*>(buffer);
  std::size_t got = 0;
  while (got < size) {
    pollfd ready{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&ready, 1, 5000) <= 0) return false;
    const auto n = ::read(fd, bytes + got, size - got);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// The child of the cross-process test: only async-signal-safe calls between fork and _exit.
// `parent_ends` are the parent's copies it inherited: closed, so that the parent closing its
// release end is an end of file here.
[[noreturn]] void run_epoll_child(int report_fd, int release_fd, std::array<int, 2> parent_ends) {
  // A backstop: SIGALRM's default action ends a child that nobody releases.
  ::alarm(10);
  for (int fd : parent_ends) ::close(fd);
  const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
  int fds[2] = {-1, -1};
  if (epoll < 0 || ::pipe2(fds, O_CLOEXEC) != 0) ::_exit(2);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0xc0ffee;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fds[0], &event) != 0) ::_exit(3);
  const std::array<int, 2> report = {epoll, fds[0]};
  if (::write(report_fd, report.data(), sizeof report) != ssize_t{sizeof report}) ::_exit(4);
  // Blocks until the parent writes or closes its end (the latter when its test fails).
  char released = 0;
  while (::read(release_fd, &released, 1) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

TEST(ReadEpollFdinfoTest, ReadsTheEpollOfAnotherProcess) {
  Pipe report = make_pipe();
  Pipe release = make_pipe();
  // The child blocks on its release read: that end must be blocking.
  ASSERT_EQ(::fcntl(release.read_end.get(), F_SETFL, 0), 0);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    run_epoll_child(report.write_end.get(), release.read_end.get(),
                    {report.read_end.get(), release.write_end.get()});
  }

  // Releases and reaps the child however this test ends.
  struct Reaper {
    pid_t pid;
    OwnedFd& release;
    int status = -1;
    ~Reaper() { wait(); }
    void wait() {
      if (pid <= 0) return;
      release.reset();
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    }
  } reaper{child, release.write_end};
  report.write_end.reset();
  release.read_end.reset();

  std::array<int, 2> fds = {-1, -1};
  ASSERT_TRUE(read_exactly(report.read_end.get(), fds.data(), sizeof fds))
      << "the child did not report its epoll fd within 5 s";
  auto read = read_epoll_fdinfo(child, fds[0]);
  ASSERT_TRUE(read) << read.error().message();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].target_fd, fds[1]);
  EXPECT_EQ((*read)[0].data, 0xc0ffeeu);
  EXPECT_NE((*read)[0].events & EPOLLIN, 0u);

  ASSERT_EQ(::write(release.write_end.get(), "r", 1), 1);
  reaper.wait();
  ASSERT_TRUE(WIFEXITED(reaper.status));
  EXPECT_EQ(WEXITSTATUS(reaper.status), 0);
}

}  // namespace
}  // namespace libpoll
