#include "libpoll/pcap/capture.hpp"

#include <pcap/pcap.h>

#include <string>
#include <utility>

#include "libpoll/source_fd.hpp"

namespace libpoll::pcap {

namespace {

class PcapCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "pcap"; }
  [[nodiscard]] std::string message(int value) const override { return pcap_statustostr(value); }
  [[nodiscard]] std::error_condition default_error_condition(int value) const noexcept override {
    switch (value) {
      case PCAP_ERROR_PERM_DENIED:
        return std::errc::operation_not_permitted;
      case PCAP_ERROR_NO_SUCH_DEVICE:
        return std::errc::no_such_device;
      default:
        return {value, *this};
    }
  }
};

Unexpected pcap_error(int status) noexcept {
  return Unexpected({status, pcap_category()});
}

// "IFACE: reason": libpcap's reasons do not always name the interface.
void set_detail(std::string* detail, const std::string& interface, const char* reason) noexcept {
  if (detail == nullptr) return;
  try {
    *detail = interface + ": " + reason;
  } catch (...) {  // out of memory: the error code alone says what failed
  }
}

// Everything that must be set before pcap_activate. libpcap's defaults suit a capture to a file,
// not an event loop: buffered delivery (packets wait for a full buffer or a timeout, so
// readiness comes late) and microsecond timestamps.
int configure(::pcap* handle, const CaptureOptions& options) noexcept {
  if (int status = pcap_set_snaplen(handle, options.snapshot_length); status != 0) return status;
  if (int status = pcap_set_immediate_mode(handle, 1); status != 0) return status;
  if (int status = pcap_set_buffer_size(handle, options.buffer_bytes); status != 0) return status;
  // Not every platform has nanosecond timestamps: a refusal leaves microseconds, and
  // nanosecond_timestamps() says which the capture got.
  (void)pcap_set_tstamp_precision(handle, PCAP_TSTAMP_PRECISION_NANO);
  return 0;
}

void discard_packet(u_char* /*user*/, const pcap_pkthdr* /*header*/, const u_char* /*bytes*/) {}

int set_filter(::pcap* handle, const std::string& expression) noexcept {
  bpf_program program{};
  if (pcap_compile(handle, &program, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return PCAP_ERROR;
  }
  const int status = pcap_setfilter(handle, &program);
  pcap_freecode(&program);
  return status;
}

// Everything that needs an activated handle. The socket takes every packet of the interface from
// its creation until a filter is set, and those wait in the ring's frames until read: on a busy
// interface a capture would begin with most of its ring taken, and the ring full drops new
// packets. So the ring is emptied under a filter that takes nothing, and only then filtered
// (an empty expression takes everything): the capture holds what came after `open`, and nothing
// it should have taken is dropped in between.
int finish(::pcap* handle, const CaptureOptions& options, char* errors) noexcept {
  if (pcap_setnonblock(handle, 1, errors) != 0) return PCAP_ERROR;
  bpf_insn take_nothing = BPF_STMT(BPF_RET | BPF_K, 0);
  bpf_program nothing{1, &take_nothing};
  if (int status = pcap_setfilter(handle, &nothing); status != 0) return status;
  // One dispatch hands back every frame the ring holds (nothing passes the filter, so it
  // returns 0 either way).
  if (int status = pcap_dispatch(handle, -1, discard_packet, nullptr); status < 0) return status;
  return set_filter(handle, options.filter);
}

}  // namespace

const std::error_category& pcap_category() noexcept {
  static const PcapCategory category;
  return category;
}

Result<Capture> Capture::open(const CaptureOptions& options, std::string* detail) noexcept {
  char errors[PCAP_ERRBUF_SIZE] = {};
  ::pcap* handle = pcap_create(options.interface.c_str(), errors);
  if (handle == nullptr) {
    set_detail(detail, options.interface, errors);
    return pcap_error(PCAP_ERROR);
  }
  int status = configure(handle, options);
  if (status == 0) status = pcap_activate(handle);
  if (status >= 0) status = finish(handle, options, errors);  // > 0: warnings, not failures
  if (status >= 0 && pcap_get_selectable_fd(handle) < 0) status = PCAP_ERROR;
  if (status < 0) {
    // pcap_geterr has the specific reason (which interface, which part of a filter); some
    // failures leave it empty and only the status says what went wrong.
    const char* reason = pcap_geterr(handle);
    set_detail(detail, options.interface,
               reason[0] != '\0'   ? reason
               : errors[0] != '\0' ? errors
                                   : pcap_statustostr(status));
    pcap_close(handle);
    return pcap_error(status);
  }
  const bool nanoseconds = pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO;
  pcap_stat at_open{};
  (void)pcap_stats(handle, &at_open);  // where it fails, stats() fails too
  return Capture(handle, pcap_get_selectable_fd(handle), nanoseconds,
                 {at_open.ps_recv, at_open.ps_drop, at_open.ps_ifdrop});
}

Capture::Capture(Capture&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      fd_(std::exchange(other.fd_, -1)),
      nanoseconds_(other.nanoseconds_),
      at_open_(other.at_open_),
      registry_(std::exchange(other.registry_, std::nullopt)) {}

Capture& Capture::operator=(Capture&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) pcap_close(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    fd_ = std::exchange(other.fd_, -1);
    nanoseconds_ = other.nanoseconds_;
    at_open_ = other.at_open_;
    registry_ = std::exchange(other.registry_, std::nullopt);
  }
  return *this;
}

Capture::~Capture() {
  if (handle_ != nullptr) pcap_close(handle_);
}

namespace {

struct DrainContext {
  void (*callback)(void*, const Packet&);
  void* context;
  bool nanoseconds;
};

void on_pcap_packet(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
  const auto& drain = *reinterpret_cast<const DrainContext*>(user);
  // With nanosecond precision libpcap stores nanoseconds in the field named tv_usec.
  const std::uint64_t fraction = static_cast<std::uint64_t>(header->ts.tv_usec);
  const Packet packet{static_cast<std::uint64_t>(header->ts.tv_sec) * 1'000'000'000U +
                          (drain.nanoseconds ? fraction : fraction * 1000U),
                      std::span(reinterpret_cast<const std::byte*>(bytes), header->caplen),
                      header->len};
  drain.callback(drain.context, packet);
}

}  // namespace

Result<std::size_t> Capture::drain_with(Callback callback, void* context) noexcept {
  if (handle_ == nullptr) return Unexpected(std::errc::bad_file_descriptor);
  DrainContext drain{callback, context, nanoseconds_};
  std::size_t total = 0;
  for (;;) {
    // In non-blocking mode 0 means nothing is left: the descriptor is drained.
    const int got = pcap_dispatch(handle_, -1, on_pcap_packet, reinterpret_cast<u_char*>(&drain));
    if (got < 0) return pcap_error(got);
    if (got == 0) break;
    total += static_cast<std::size_t>(got);
  }
  if (registry_) (void)registry_->drained(SourceFd(fd_), Interest::readable);
  return total;
}

std::string Capture::last_error() const {
  return handle_ != nullptr ? pcap_geterr(handle_) : "";
}

Result<CaptureStats> Capture::stats() const noexcept {
  if (handle_ == nullptr) return Unexpected(std::errc::bad_file_descriptor);
  pcap_stat counts{};
  if (pcap_stats(handle_, &counts) != 0) return pcap_error(PCAP_ERROR);
  // libpcap's counters are 32 bits wide, and wrap.
  const auto since = [](u_int now, std::uint64_t then) -> std::uint64_t {
    return static_cast<u_int>(now - static_cast<u_int>(then));
  };
  return CaptureStats{since(counts.ps_recv, at_open_.received),
                      since(counts.ps_drop, at_open_.dropped),
                      since(counts.ps_ifdrop, at_open_.interface_dropped)};
}

int Capture::link_type() const noexcept {
  return handle_ != nullptr ? pcap_datalink(handle_) : -1;
}

// The Source contract, delegated to the descriptor libpcap hands out: libpoll never reads it,
// libpcap does.
Result<void> Capture::register_source(const Registry& registry, Token token,
                                      Interest interest) noexcept {
  auto registered = registry.register_source(SourceFd(fd_), token, interest);
  if (registered) registry_.emplace(registry.clone());
  return registered;
}

Result<void> Capture::reregister_source(const Registry& registry, Token token,
                                        Interest interest) noexcept {
  return registry.reregister_source(SourceFd(fd_), token, interest);
}

Result<void> Capture::deregister_source(const Registry& registry) noexcept {
  auto deregistered = registry.deregister_source(SourceFd(fd_));
  if (deregistered) registry_.reset();
  return deregistered;
}

}  // namespace libpoll::pcap
