/* A libuv TCP echo server and client on 127.0.0.1, used correctly: every handle is closed with
 * uv_close and the loop with uv_loop_close, as libuv's own tests end. For `pollscope trace`:
 * it must show no error; the warnings it shows are libuv's own teardown (see the README).
 * A uv_timer bounds the run to 10 s. Exit status 0 when the echo came back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t loop;
static uv_tcp_t server, client, accepted;
static uv_connect_t connect_request;
static uv_write_t client_write, server_write;
static uv_timer_t deadline;
static uv_async_t async;
static char server_buffer[64], client_buffer[64];
static int echoed = 0;

static void on_alloc(uv_handle_t* handle, size_t size, uv_buf_t* buffer) {
  (void)size;
  char* memory = handle == (uv_handle_t*)&accepted ? server_buffer : client_buffer;
  *buffer = uv_buf_init(memory, sizeof server_buffer);
}

static void close_all(void) {
  uv_handle_t* handles[] = {(uv_handle_t*)&server, (uv_handle_t*)&client, (uv_handle_t*)&accepted,
                            (uv_handle_t*)&deadline, (uv_handle_t*)&async};
  for (size_t i = 0; i < sizeof handles / sizeof *handles; ++i)
    if (!uv_is_closing(handles[i])) uv_close(handles[i], NULL);
}

static void on_client_read(uv_stream_t* stream, ssize_t count, const uv_buf_t* buffer) {
  (void)stream;
  if (count > 0) echoed = memcmp(buffer->base, "hello\n", 6) == 0;
  close_all();
}

static void on_server_read(uv_stream_t* stream, ssize_t count, const uv_buf_t* buffer) {
  if (count <= 0) return;
  uv_buf_t reply = uv_buf_init(buffer->base, (unsigned)count);
  uv_write(&server_write, stream, &reply, 1, NULL);
}

static void on_connection(uv_stream_t* listener, int status) {
  if (status != 0) return;
  if (uv_accept(listener, (uv_stream_t*)&accepted) == 0)
    uv_read_start((uv_stream_t*)&accepted, on_alloc, on_server_read);
}

static void on_connect(uv_connect_t* request, int status) {
  if (status != 0) {
    close_all();
    return;
  }
  static char text[] = "hello\n";
  uv_buf_t message = uv_buf_init(text, 6);
  uv_write(&client_write, request->handle, &message, 1, NULL);
  uv_read_start(request->handle, on_alloc, on_client_read);
}

static void on_deadline(uv_timer_t* timer) {
  (void)timer;
  close_all();
}

int main(void) {
  uv_loop_init(&loop);
  uv_async_init(&loop, &async, NULL); /* the loop's internal eventfd */
  uv_timer_init(&loop, &deadline);
  uv_timer_start(&deadline, on_deadline, 10000, 0);
  uv_tcp_init(&loop, &server);
  uv_tcp_init(&loop, &client);
  uv_tcp_init(&loop, &accepted);
  struct sockaddr_in address;
  uv_ip4_addr("127.0.0.1", 0, &address);
  uv_tcp_bind(&server, (const struct sockaddr*)&address, 0);
  uv_listen((uv_stream_t*)&server, 8, on_connection);
  int length = sizeof address;
  uv_tcp_getsockname(&server, (struct sockaddr*)&address, &length);
  uv_tcp_connect(&connect_request, &client, (const struct sockaddr*)&address, on_connect);
  uv_run(&loop, UV_RUN_DEFAULT);
  const int closed = uv_loop_close(&loop);
  printf("echoed %d, loop closed %d\n", echoed, closed);
  return echoed && closed == 0 ? 0 : 1;
}
