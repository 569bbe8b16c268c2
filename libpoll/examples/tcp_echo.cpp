// tcp_echo: a loopback echo server and its clients on one libpoll Poll, printing every event.
//
// A listener on 127.0.0.1 (a free port), CLIENTS client streams (default 3) that each send one
// line, a server side that echoes what it reads, and the clients checking their echo. It shows
// the whole life of a registration: register, reregister (writable -> readable once
// connected), drain until would-block, and deregister before close.
//
//   tcp_echo [CLIENTS]     exit status 0 when every client got its echo back

#include <libpoll/libpoll.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using libpoll::Event;
using libpoll::Interest;
using libpoll::Token;
using libpoll::net::TcpStream;

constexpr Token kListener{0};
constexpr std::size_t kFirstClient = 1000;  // client tokens; server-side connections use 1..999

struct Client {
  TcpStream stream;
  std::string message;
  std::string echoed{};
  bool sent = false;
  bool done = false;
};

std::string describe(const Event& event) {
  std::string flags;
  const std::pair<bool, const char*> all[] = {{event.is_readable(), "readable"},
                                              {event.is_writable(), "writable"},
                                              {event.is_read_closed(), "read_closed"},
                                              {event.is_write_closed(), "write_closed"},
                                              {event.is_error(), "error"}};
  for (const auto& [set, name] : all) {
    if (set) flags += flags.empty() ? name : std::string(",") + name;
  }
  return flags;
}

int fail(const char* what, const std::error_code& error) {
  std::fprintf(stderr, "tcp_echo: %s: %s\n", what, error.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int clients_wanted = argc > 1 ? std::atoi(argv[1]) : 3;
  if (clients_wanted < 1 || clients_wanted > 500) {
    std::fprintf(stderr, "tcp_echo: CLIENTS must be 1..500, got '%s'\n", argv[1]);
    return 2;
  }

  auto poll = libpoll::Poll::create();
  if (!poll) return fail("creating the poll", poll.error());
  const libpoll::Registry& registry = poll->registry();

  auto listener = libpoll::net::TcpListener::bind(libpoll::net::SocketAddr::loopback_v4());
  if (!listener) return fail("binding 127.0.0.1", listener.error());
  const auto address = listener->local_addr().value();
  if (auto ok = registry.register_source(*listener, kListener, Interest::readable); !ok) {
    return fail("registering the listener", ok.error());
  }
  std::printf("libpoll %s on %s, listening on %s\n", libpoll::version,
              std::string(libpoll::to_string(poll->backend())).c_str(),
              address.to_string().c_str());

  std::map<std::size_t, Client> clients;
  for (int i = 0; i < clients_wanted; ++i) {
    auto stream = TcpStream::connect(address);
    if (!stream) return fail("connecting", stream.error());
    const Token token{kFirstClient + static_cast<std::size_t>(i)};
    // A connecting stream's first event is writable: that is when it may send.
    if (auto ok = registry.register_source(*stream, token, Interest::writable); !ok) {
      return fail("registering a client", ok.error());
    }
    clients.emplace(token.value,
                    Client{.stream = std::move(*stream),
                           .message = "hello from client " + std::to_string(i) + "\n"});
  }

  std::map<std::size_t, TcpStream> connections;
  std::size_t next_connection = 1;
  std::size_t echoes_done = 0;
  std::size_t events_seen = 0;
  libpoll::Events events(64);
  const auto deadline = std::chrono::steady_clock::now() + 5s;

  while (echoes_done < clients.size()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "tcp_echo: gave up after 5 s with %zu of %zu echoes\n", echoes_done,
                   clients.size());
      return 1;
    }
    if (auto polled = poll->poll(events, 1s); !polled) {
      if (polled.error() == std::errc::interrupted) continue;
      return fail("polling", polled.error());
    }
    for (const Event& event : events) {
      ++events_seen;
      const std::size_t token = event.token().value;
      std::printf("  event token=%-5zu %s\n", token, describe(event).c_str());

      if (event.token() == kListener) {
        // Accept until would-block: edge-triggered, so no new event for the rest.
        while (auto accepted = listener->accept()) {
          auto& [stream, peer] = *accepted;
          const Token connection{next_connection++};
          if (auto ok = registry.register_source(stream, connection, Interest::readable); !ok) {
            return fail("registering a connection", ok.error());
          }
          std::printf("    accepted %s as token %zu\n", peer.to_string().c_str(), connection.value);
          connections.emplace(connection.value, std::move(stream));
        }
      } else if (auto server = connections.find(token); server != connections.end()) {
        char buffer[4096];
        while (auto read = server->second.read(std::span(buffer))) {
          if (*read == 0) break;
          (void)server->second.write(std::string_view(buffer, *read));
          std::printf("    echoed %zu bytes\n", *read);
        }
      } else if (auto client = clients.find(token); client != clients.end()) {
        Client& c = client->second;
        if (event.is_writable() && !c.sent) {
          if (auto error = c.stream.take_error(); !error || *error) {
            return fail("connecting", error ? *error : error.error());
          }
          (void)c.stream.write(c.message);
          c.sent = true;
          // Sent: from now on only the echo matters.
          (void)registry.reregister_source(c.stream, event.token(), Interest::readable);
        }
        char buffer[4096];
        while (auto read = c.stream.read(std::span(buffer))) {
          if (*read == 0) break;
          c.echoed.append(buffer, *read);
        }
        if (c.sent && !c.done && c.echoed == c.message) {
          std::printf("    client %zu got its echo: %s", token - kFirstClient, c.echoed.c_str());
          c.done = true;
          ++echoes_done;
        }
      }
    }
  }

  // Deregister before close: the contract of every readiness library on epoll.
  for (auto& [token, client] : clients) (void)registry.deregister_source(client.stream);
  for (auto& [token, stream] : connections) (void)registry.deregister_source(stream);
  (void)registry.deregister_source(*listener);
  std::printf("%zu clients echoed, %zu events, all sources deregistered\n", echoes_done,
              events_seen);
  return 0;
}
