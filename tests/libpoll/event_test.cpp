#include "libpoll/event.hpp"

#include <gtest/gtest.h>

namespace libpoll {
namespace {

namespace bits = detail::readiness;

Event event_with(std::uint32_t readiness) {
  return detail::EventAccess::make(Token{9}, readiness);
}

// The kernel flag combinations and what each query says about them; this is mio's mapping.
struct Mapping {
  const char* name;
  std::uint32_t readiness;
  bool readable, writable, error, read_closed, write_closed, priority;
};

class EventMappingTest : public ::testing::TestWithParam<Mapping> {};

TEST_P(EventMappingTest, QueriesFollowMiosMapping) {
  const Mapping& m = GetParam();
  const Event event = event_with(m.readiness);
  EXPECT_EQ(event.token(), Token{9});
  EXPECT_EQ(event.is_readable(), m.readable);
  EXPECT_EQ(event.is_writable(), m.writable);
  EXPECT_EQ(event.is_error(), m.error);
  EXPECT_EQ(event.is_read_closed(), m.read_closed);
  EXPECT_EQ(event.is_write_closed(), m.write_closed);
  EXPECT_EQ(event.is_priority(), m.priority);
}

INSTANTIATE_TEST_SUITE_P(
    Flags, EventMappingTest,
    ::testing::Values(
        //      name                readiness               rd     wr     err    rdc    wrc    pri
        Mapping{"In", bits::in, true, false, false, false, false, false},
        Mapping{"Out", bits::out, false, true, false, false, false, false},
        Mapping{"Pri", bits::pri, true, false, false, false, false, true},
        Mapping{"InRdhup", bits::in | bits::rdhup, true, false, false, true, false, false},
        Mapping{"RdhupAlone", bits::rdhup, false, false, false, false, false, false},
        Mapping{"Hup", bits::hup, false, false, false, true, true, false},
        Mapping{"OutErr", bits::out | bits::err, false, true, true, false, true, false},
        Mapping{"ErrAlone", bits::err, false, false, true, false, true, false},
        Mapping{"InErr", bits::in | bits::err, true, false, true, false, false, false},
        Mapping{"InOutHup", bits::in | bits::out | bits::hup, true, true, false, true, true,
                false}),
    [](const auto& instance) { return std::string(instance.param.name); });

TEST(EventTest, PrintsTokenAndFlags) {
  EXPECT_EQ(to_string(event_with(bits::in | bits::rdhup)),
            "Event { token: 9, readable, read_closed }");
  EXPECT_EQ(to_string(event_with(0)), "Event { token: 9 }");
}

}  // namespace
}  // namespace libpoll
