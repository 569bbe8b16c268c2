"""An asyncio echo server and client on 127.0.0.1, for `pollscope trace`.

    asyncio_echo.py correct          the server echoes three lines to three clients; every socket
                                     is closed through asyncio, which unregisters it first
    asyncio_echo.py close-early      as correct, and then a raw socket registered with the
                                     loop's selector is closed before it is unregistered

Bounded: the whole exchange has a 10 s deadline. Exit status 0 when every echo came back.
"""
import asyncio
import socket
import sys


async def handle(reader, writer):
    line = await reader.readline()
    writer.write(line)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(port, text):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text.encode() + b"\n")
    await writer.drain()
    echoed = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return echoed.decode().strip() == text


def close_before_unregistering(loop):
    """The bug: the selector still holds the socket's registration when it is closed."""
    left, right = socket.socketpair()
    loop.add_reader(left.fileno(), lambda: None)
    left.close()  # the kernel drops the registration; asyncio's selector still lists it
    right.close()


async def main(mode):
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results = await asyncio.gather(*(client(port, f"line {i}") for i in range(3)))
    server.close()
    await server.wait_closed()
    if mode == "close-early":
        close_before_unregistering(asyncio.get_running_loop())
    return all(results)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "correct"
    ok = asyncio.run(asyncio.wait_for(main(mode), 10))
    sys.exit(0 if ok else 1)
