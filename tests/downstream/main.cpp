// Polls a pipe through the installed libpoll: exits 0 only if the readable event arrives.
#include <libpoll/libpoll.hpp>

#include <chrono>
#include <cstdio>

int main() {
  using namespace std::chrono_literals;
  auto poll = libpoll::Poll::create();
  auto ends = libpoll::net::pipe();
  if (!poll || !ends) return 1;
  auto& [sender, receiver] = *ends;
  if (!poll->registry().register_source(receiver, libpoll::Token{7}, libpoll::Interest::readable))
    return 2;
  if (!sender.write("x")) return 3;
  libpoll::Events events(8);
  if (!poll->poll(events, 5s) || events.size() != 1 || events[0].token() != libpoll::Token{7})
    return 4;
  if (!poll->registry().deregister_source(receiver)) return 5;
  std::printf("downstream: libpoll %s works\n", libpoll::version);
  return 0;
}
