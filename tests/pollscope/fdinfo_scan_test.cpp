// The interposer's reading of an epoll instance's fdinfo (cli/interposer/fdinfo_scan.hpp): the
// registrations under a number counted whichever read splits their lines.

#include "fdinfo_scan.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pollscope::interposer {
namespace {

std::string line(int fd, unsigned long data, unsigned long inode) {
  char text[160];
  std::snprintf(text, sizeof text, "tfd: %8d events:       19 data: %16lx  pos:0 ino:%lx sdev:8\n",
                fd, data, inode);
  return text;
}

// pos, flags, mnt_id, ino, then registrations of 3 to 299: fd 7 twice (two files), the rest once.
std::string listing() {
  std::string text = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\n";
  for (int fd = 3; fd < 300; ++fd) {
    text += line(fd, static_cast<unsigned long>(fd), 0x1000 + static_cast<unsigned long>(fd));
    if (fd == 7) text += line(7, 7, 0xb7);
  }
  return text;
}

int count_in_two(const std::string& text, std::size_t split, int fd) {
  FdinfoScan scan(fd);
  scan.feed(text.data(), split);
  scan.feed(text.data() + split, text.size() - split);
  return scan.count();
}

TEST(FdinfoScan, CountsRegistrationsWhereverAReadSplitsTheirLines) {
  const std::string text = listing();
  for (std::size_t split = 0; split <= text.size(); ++split) {
    ASSERT_EQ(count_in_two(text, split, 299), 1) << "split at " << split;
    ASSERT_EQ(count_in_two(text, split, 7), 2) << "split at " << split;
    ASSERT_EQ(count_in_two(text, split, 29), 1) << "split at " << split;
  }
}

TEST(FdinfoScan, OnlyRegistrationLinesOfThatNumberCount) {
  const std::string text = listing();
  EXPECT_EQ(count_in_two(text, text.size(), 300), 0);
  EXPECT_EQ(count_in_two(text, text.size(), 1), 0);   // "ino:\t1057" is no registration
  EXPECT_EQ(count_in_two(text, text.size(), 30), 1);  // not 300's prefix
}

// Two files under the number 7 (tokens 7 and 0xb7): each is told by its token.
TEST(FdinfoScan, ATokenPicksTheRegistrationsUnderTheNumberThatCarryIt) {
  std::string text = listing();
  text += line(7, 0xb7, 0xb8);
  for (std::size_t split = 0; split <= text.size(); split += 7) {
    FdinfoScan scan(7, 0xb7);
    scan.feed(text.data(), split);
    scan.feed(text.data() + split, text.size() - split);
    ASSERT_EQ(scan.count(), 1) << "split at " << split;
  }
  FdinfoScan none(7, 0x8);
  none.feed(text.data(), text.size());
  EXPECT_EQ(none.count(), 0);
  FdinfoScan other_number(8, 0xb7);
  other_number.feed(text.data(), text.size());
  EXPECT_EQ(other_number.count(), 0);
}

TEST(FdinfoScan, ByteByByteReadsAndOverlongLinesAreHandled) {
  const std::string text = std::string(2000, 'x') + "\n" + line(9, 9, 0x99);
  FdinfoScan scan(9);
  for (const char c : text) scan.feed(&c, 1);
  EXPECT_EQ(scan.count(), 1);
}

}  // namespace
}  // namespace pollscope::interposer
