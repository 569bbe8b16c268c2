// A capture that fails mid-run says why in libpcap's own words ("The interface disappeared"),
// not only its error code's ("Generic error").

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "base/failure.hpp"
#include "capture/capture_session.hpp"

namespace pollscope {
namespace {

bool shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A veth pair of its own, removed at the end whatever happened. IPv6 is off on it, so that
// bringing it up sends nothing (no address autoconfiguration).
class VethPair {
 public:
  VethPair() : name_("psfx" + std::to_string(::getpid() % 100000)) {
    made_ = shell("ip link add " + name_ + " type veth peer name " + name_ + "p");
    // Without IPv6 in the kernel there is no such setting, and nothing to silence.
    (void)shell("sysctl -qw net.ipv6.conf." + name_ + ".disable_ipv6=1");
    made_ = made_ && shell("ip link set " + name_ + " up");
  }
  ~VethPair() { (void)shell("ip link del " + name_); }
  VethPair(const VethPair&) = delete;
  VethPair& operator=(const VethPair&) = delete;
  [[nodiscard]] bool made() const { return made_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  bool remove() { return shell("ip link del " + name_); }

 private:
  std::string name_;
  bool made_ = false;
};

TEST(CaptureErrorTest, AnInterfaceThatDisappearsIsNamedInLibpcapsWords) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to capture and to make a veth pair";
  VethPair veth;
  if (!veth.made()) GTEST_SKIP() << "this kernel or container makes no veth pair";
  std::optional<CaptureSession> session;
  session.emplace(veth.name(), std::vector<std::uint16_t>{5000}, nullptr);
  ASSERT_TRUE(veth.remove());
  Figures figures;
  try {
    session->drain(figures);
    ADD_FAILURE() << "the capture of a deleted interface drained without an error";
  } catch (const Failure& failure) {
    const std::string message = failure.what();
    EXPECT_EQ(failure.code(), kExitEnvironment);
    EXPECT_TRUE(message.starts_with("capture on " + veth.name() + ": ")) << message;
    EXPECT_EQ(message.find("Generic error"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace pollscope
