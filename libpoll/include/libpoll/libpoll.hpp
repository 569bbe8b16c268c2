#pragma once

/// \file
/// libpoll: edge-triggered readiness for sockets, pipes and raw descriptors, on the design of
/// Rust's mio. Include this header for everything, or the one header per concept.

#include "libpoll/backend.hpp"
#include "libpoll/event.hpp"
#include "libpoll/events.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/io_source.hpp"
#include "libpoll/net/datagram_socket.hpp"
#include "libpoll/net/pipe.hpp"
#include "libpoll/net/shutdown.hpp"
#include "libpoll/net/socket.hpp"
#include "libpoll/net/socket_addr.hpp"
#include "libpoll/net/stream_socket.hpp"
#include "libpoll/net/tcp_listener.hpp"
#include "libpoll/net/tcp_stream.hpp"
#include "libpoll/net/udp_socket.hpp"
#include "libpoll/net/unix_datagram.hpp"
#include "libpoll/net/unix_listener.hpp"
#include "libpoll/net/unix_stream.hpp"
#include "libpoll/owned_fd.hpp"
#include "libpoll/poll.hpp"
#include "libpoll/registry.hpp"
#include "libpoll/result.hpp"
#include "libpoll/source.hpp"
#include "libpoll/source_fd.hpp"
#include "libpoll/token.hpp"
#include "libpoll/version.hpp"
#include "libpoll/waker.hpp"
