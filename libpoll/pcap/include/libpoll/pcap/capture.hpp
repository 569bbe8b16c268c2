#pragma once

/// \file
/// `pcap::Capture`: a libpcap live capture as a libpoll `Source`.
///
/// This component is built when libpcap is found (target `libpoll::pcap`). It is also meant as
/// an example of the `Source` contract applied to a third-party handle: a library that hands out
/// a pollable descriptor (libpcap's `pcap_get_selectable_fd`, libcurl's sockets, a D-Bus
/// connection) is wrapped the same way. Read `capture.cpp` alongside this header.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"

struct pcap;  // libpcap's pcap_t, kept out of this header so that it needs no <pcap.h>

namespace libpoll::pcap {

/// What to capture and how.
struct CaptureOptions {
  /// The interface, as `tcpdump -i` names it ("lo", "eth0", "any").
  std::string interface = "lo";
  /// A BPF expression in tcpdump's syntax (`man pcap-filter`); empty captures everything.
  std::string filter;
  /// Bytes kept of each packet (more are counted in `Packet::wire_length`).
  int snapshot_length = 65535;
  /// The kernel's ring for packets not read yet: what a burst can fill before packets drop.
  int buffer_bytes = 8 << 20;
};

/// One captured packet, valid only during the callback that receives it.
struct Packet {
  /// When the kernel saw it: CLOCK_REALTIME, in nanoseconds since the epoch (with microsecond
  /// resolution where the platform has no nanosecond timestamps: see
  /// `Capture::nanosecond_timestamps`).
  std::uint64_t timestamp_ns;
  /// The bytes captured, starting with the link-layer header (`Capture::link_type`).
  std::span<const std::byte> data;
  /// The packet's length on the wire; more than `data.size()` when the snapshot cut it.
  std::uint32_t wire_length;
};

/// What the kernel reports of a capture so far.
struct CaptureStats {
  // Packets that passed the filter. Linux's loopback passes each packet twice (going out and
  // coming in), and libpcap hands over one.
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;            // dropped because the ring was full (not read in time)
  std::uint64_t interface_dropped = 0;  // dropped by the interface or its driver
};

/// The category of libpcap's own errors: the values are libpcap's `PCAP_ERROR_*` codes. The
/// permission error compares equal to `std::errc::operation_not_permitted` and a missing
/// interface to `std::errc::no_such_device`.
[[nodiscard]] const std::error_category& pcap_category() noexcept;

/// A live capture, registered with a `Registry` like any socket.
///
/// `open` sets the handle up the way an event loop needs it:
/// - **immediate mode**: each packet is handed over as soon as it arrives, not when a buffer
///   fills or a timeout expires (which would delay readiness by up to the timeout);
/// - **non-blocking**: a read with nothing to read returns at once;
/// - **nanosecond timestamps** where the platform offers them;
/// - the descriptor to poll comes from `pcap_get_selectable_fd`.
///
/// ## Draining readiness
/// As with every libpoll source, a readable event means "read until would-block": call `drain`,
/// which hands each packet to a callback until libpcap has nothing more. On the poll(2) backend
/// `drain` also tells the registry that the descriptor is drained (`Registry::drained`), so that
/// a capture gets one event per edge on both backends.
///
/// ## Deregister before close
/// The destructor calls `pcap_close`, which closes the descriptor. As with libpoll's own sources,
/// deregister first: the destructor does not do it for you.
///
/// ```cpp
/// auto capture = libpoll::pcap::Capture::open({.interface = "lo", .filter = "udp port 9000"});
/// if (!capture) return fail(capture.error());
/// registry.register_source(*capture, kCapture, libpoll::Interest::readable);
/// // on a readable event for kCapture:
/// capture->drain([](const libpoll::pcap::Packet& packet) { handle(packet); });
/// // when done:
/// registry.deregister_source(*capture);
/// ```
///
/// ## Errors
/// `open` returns `pcap_category()` errors for libpcap's failures (no permission: root or
/// CAP_NET_RAW is needed; no such interface; a filter that does not compile) and fills
/// `detail`, when given, with libpcap's own message.
class Capture final : public Source {
 public:
  [[nodiscard]] static Result<Capture> open(const CaptureOptions& options,
                                            std::string* detail = nullptr) noexcept;

  Capture(Capture&& other) noexcept;
  Capture& operator=(Capture&& other) noexcept;
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  /// Closes the handle (`pcap_close`). Deregister first.
  ~Capture();

  /// Reads every packet libpcap has, calling `on_packet(const Packet&)` for each, until it would
  /// block. Returns the number of packets read; an error when libpcap fails (the interface went
  /// down, for instance).
  template <class OnPacket>
  Result<std::size_t> drain(OnPacket&& on_packet) noexcept {
    return drain_with(
        [](void* context, const Packet& packet) { (*static_cast<OnPacket*>(context))(packet); },
        &on_packet);
  }

  /// libpcap's own message for the last failure of `drain` or `stats` (`pcap_geterr`: "The
  /// interface disappeared", where the error code alone says only "Generic error"); empty after
  /// a move or when libpcap gave none. The code says what kind of failure; this says which.
  [[nodiscard]] std::string last_error() const;
  /// The kernel's counts since `open` returned (`pcap_stats`, less what it counted while the
  /// capture was being set up, when the socket took the whole interface's traffic).
  [[nodiscard]] Result<CaptureStats> stats() const noexcept;
  /// The link-layer header type of the packets (a `DLT_*` value: `DLT_EN10MB` on Linux's
  /// loopback).
  [[nodiscard]] int link_type() const noexcept;
  /// True when `Packet::timestamp_ns` has nanosecond resolution, false for microseconds.
  [[nodiscard]] bool nanosecond_timestamps() const noexcept { return nanoseconds_; }
  /// The descriptor libpoll watches.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// The libpcap handle, for what this class does not wrap (`pcap_dump_open`, ...). Null after a
  /// move.
  [[nodiscard]] ::pcap* native_handle() const noexcept { return handle_; }

 private:
  using Callback = void (*)(void* context, const Packet& packet);

  Capture(::pcap* handle, int fd, bool nanoseconds, CaptureStats at_open) noexcept
      : handle_(handle), fd_(fd), nanoseconds_(nanoseconds), at_open_(at_open) {}
  Result<std::size_t> drain_with(Callback callback, void* context) noexcept;

  Result<void> register_source(const Registry& registry, Token token,
                               Interest interest) noexcept override;
  Result<void> reregister_source(const Registry& registry, Token token,
                                 Interest interest) noexcept override;
  Result<void> deregister_source(const Registry& registry) noexcept override;

  ::pcap* handle_ = nullptr;
  int fd_ = -1;
  bool nanoseconds_ = false;
  // The kernel's counts when `open` returned: they began with the socket, before its filter.
  CaptureStats at_open_;
  // A handle to the registry this capture is registered with, to report drains to it.
  std::optional<Registry> registry_;
};

}  // namespace libpoll::pcap
