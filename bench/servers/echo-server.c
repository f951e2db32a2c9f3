/*
 * echo-server — a minimal WebSocket echo server in C, the "fast server" of the client benchmark
 * (bench/client.ts): it must never be the bottleneck, so that the clients are what is measured.
 *
 *   echo-server [-p PORT] [-a 127.0.0.1]       (port 0 = any free port) — prints "LISTENING <port>"
 *
 * Single-threaded, epoll (level-triggered), libc only. Built by bench/client.ts with `gcc -O2`.
 *   - Handshake: reads the request head (up to 8 KiB), answers 101 with the Sec-WebSocket-Accept of its
 *     Sec-WebSocket-Key (SHA-1 + base64 below, self-tested at start-up). No extension or subprotocol is ever
 *     selected, whatever the client offers; anything that is not a GET with a key gets a 400.
 *   - Echo: for every complete client frame in what one read() returned, appends the same frame unmasked
 *     (same FIN/RSV/opcode byte, minimal length encoding) to the connection's output, unmasking 8 bytes at a
 *     time while copying, then writes the output once (one write per read burst, like a raw TCP echo).
 *     Fragments are echoed frame by frame (the echo of a fragmented message is the same fragmented message).
 *   - Ping → pong with the same payload; pong ignored; Close → the same Close frame back, then the connection
 *     is half-closed once the output is written and closed at the client's end of stream.
 *   - An unmasked client frame, a frame over 64 MiB or a malformed request closes the connection.
 *   - Backpressure: stops reading a connection while more than 8 MiB of its echo is unwritten.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define READ_CHUNK (256 * 1024)
#define MAX_FRAME (64ull << 20)
#define OUT_HIGH (8u << 20)
#define MAX_EVENTS 256

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#include "../common/sha1-base64.h"

static void accept_for_key(const char *key, size_t key_len, char out[32]) {
  char buf[128];
  uint8_t dig[20];
  if (key_len > 64) key_len = 64;
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, WS_GUID, sizeof WS_GUID - 1);
  sha1(buf, key_len + sizeof WS_GUID - 1, dig);
  base64(dig, 20, out);
}

static int self_test(void) {
  char acc[32];
  accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc); /* RFC 6455 section 1.3 */
  return strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* connections                                                                                                   */

typedef struct {
  int fd;
  int open;      /* handshake done */
  int reading;   /* EPOLLIN registered */
  int writing;   /* EPOLLOUT registered */
  int closing;   /* a Close frame was echoed: half-close once the output is written */
  int shut;      /* half-closed */
  uint8_t *in;   /* unprocessed input */
  size_t in_len, in_cap;
  uint8_t *out;  /* output not yet written: out[out_off .. out_len) */
  size_t out_off, out_len, out_cap;
} conn_t;

static int ep = -1;

static void die(const char *what) {
  fprintf(stderr, "ERROR %s: %s\n", what, strerror(errno));
  exit(1);
}

static int reserve(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t cap2 = *cap ? *cap : 4096;
  while (cap2 < need) cap2 *= 2;
  uint8_t *p = realloc(*buf, cap2);
  if (!p) return -1;
  *buf = p;
  *cap = cap2;
  return 0;
}

static void conn_free(conn_t *c) {
  close(c->fd); /* also removes it from the epoll set */
  free(c->in);
  free(c->out);
  free(c);
}

static void update_events(conn_t *c) {
  int want_in = (c->out_len - c->out_off) < OUT_HIGH; /* also after a half-close: to see the end of stream */
  int want_out = c->out_len > c->out_off;
  if (want_in == c->reading && want_out == c->writing) return;
  c->reading = want_in;
  c->writing = want_out;
  struct epoll_event ev = {.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0) | EPOLLRDHUP,
                           .data = {.ptr = c}};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
}

/* writes what the socket takes; returns -1 when the connection is gone */
static int flush_out(conn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    c->out_off += (size_t)w;
  }
  if (c->out_off == c->out_len) {
    c->out_off = c->out_len = 0;
    if (c->closing && !c->shut) {
      shutdown(c->fd, SHUT_WR);
      c->shut = 1;
    }
  }
  return 0;
}

/* appends the unmasked copy of a masked payload */
static void unmask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
  uint32_t k32;
  memcpy(&k32, key, 4);
  uint64_t k64 = ((uint64_t)k32 << 32) | k32;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= k64;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

/* echoes every complete frame in c->in; returns -1 on a protocol error */
static int process_frames(conn_t *c) {
  size_t at = 0;
  while (c->in_len - at >= 2 && !c->closing) {
    const uint8_t *p = c->in + at;
    size_t avail = c->in_len - at;
    uint8_t b0 = p[0], b1 = p[1];
    if (!(b1 & 0x80)) return -1; /* client frames must be masked */
    uint64_t len = b1 & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (len > MAX_FRAME) return -1;
    size_t whole = hdr + 4 + (size_t)len;
    if (avail < whole) {
      if (reserve(&c->in, &c->in_cap, c->in_len - at + whole) < 0) return -1;
      break;
    }
    uint8_t opcode = b0 & 0x0f;
    if (opcode == 0xA) { /* pong: nothing to do */
      at += whole;
      continue;
    }
    uint8_t out_b0 = opcode == 0x9 ? (uint8_t)(0x80 | 0xA) : b0; /* ping → pong */
    if (reserve(&c->out, &c->out_cap, c->out_len + 10 + (size_t)len) < 0) return -1;
    uint8_t *o = c->out + c->out_len;
    size_t oh = 0;
    o[oh++] = out_b0;
    if (len < 126) {
      o[oh++] = (uint8_t)len;
    } else if (len < 65536) {
      o[oh++] = 126;
      o[oh++] = (uint8_t)(len >> 8);
      o[oh++] = (uint8_t)len;
    } else {
      o[oh++] = 127;
      for (int i = 7; i >= 0; i--) o[oh++] = (uint8_t)(len >> (8 * i));
    }
    unmask_copy(o + oh, p + hdr + 4, (size_t)len, p + hdr);
    c->out_len += oh + (size_t)len;
    at += whole;
    if (opcode == 0x8) c->closing = 1;
  }
  if (at > 0) {
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
  }
  return 0;
}

static int ci_prefix(const char *s, const char *end, const char *prefix) {
  size_t n = strlen(prefix);
  return (size_t)(end - s) >= n && strncasecmp(s, prefix, n) == 0;
}

/* the request head is c->in[0 .. head_len); returns -1 to drop the connection */
static int handshake(conn_t *c, size_t head_len) {
  const char *s = (const char *)c->in, *end = s + head_len;
  const char *key = NULL;
  size_t key_len = 0;
  int get = ci_prefix(s, end, "GET ");
  for (const char *line = s; line < end;) {
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) break;
    if (ci_prefix(line, eol, "sec-websocket-key:")) {
      const char *v = line + 18;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      key = v;
      key_len = (size_t)(ve - v);
    }
    line = eol + 1;
  }
  char response[256];
  int n;
  if (!get || !key || key_len == 0 || key_len > 64) {
    n = snprintf(response, sizeof response,
                 "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    c->closing = 1;
  } else {
    char accept[32];
    accept_for_key(key, key_len, accept);
    n = snprintf(response, sizeof response,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    c->open = 1;
  }
  if (reserve(&c->out, &c->out_cap, c->out_len + (size_t)n) < 0) return -1;
  memcpy(c->out + c->out_len, response, (size_t)n);
  c->out_len += (size_t)n;
  memmove(c->in, c->in + head_len, c->in_len - head_len);
  c->in_len -= head_len;
  return 0;
}

static void on_readable(conn_t *c) {
  for (int round = 0; round < 16; round++) {
    if (c->closing) {
      /* after a Close, the rest of the input is discarded until the client's end of stream */
      uint8_t sink[4096];
      ssize_t r = read(c->fd, sink, sizeof sink);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_free(c);
        return;
      }
      break;
    }
    size_t room = c->in_cap - c->in_len;
    if (room < 65536 && reserve(&c->in, &c->in_cap, c->in_len + READ_CHUNK) < 0) {
      conn_free(c);
      return;
    }
    room = c->in_cap - c->in_len;
    ssize_t r = read(c->fd, c->in + c->in_len, room);
    if (r == 0) {
      conn_free(c);
      return;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      conn_free(c);
      return;
    }
    c->in_len += (size_t)r;
    if (!c->open) {
      uint8_t *e = memmem(c->in, c->in_len, "\r\n\r\n", 4);
      if (!e) {
        if (c->in_len > HEAD_MAX) {
          conn_free(c);
          return;
        }
        continue;
      }
      if (handshake(c, (size_t)(e + 4 - c->in)) < 0) {
        conn_free(c);
        return;
      }
    }
    if (c->open && process_frames(c) < 0) {
      conn_free(c);
      return;
    }
    if ((size_t)r < room) break; /* drained the socket */
    if (c->out_len - c->out_off >= OUT_HIGH) break;
  }
  if (flush_out(c) < 0) {
    conn_free(c);
    return;
  }
  update_events(c);
}

static void on_writable(conn_t *c) {
  if (flush_out(c) < 0) {
    conn_free(c);
    return;
  }
  update_events(c);
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1";
  int port = 0, opt;
  while ((opt = getopt(argc, argv, "a:p:")) != -1) {
    if (opt == 'a') addr = optarg;
    else if (opt == 'p') port = atoi(optarg);
    else {
      fprintf(stderr, "usage: echo-server [-p PORT] [-a ADDR]\n");
      return 2;
    }
  }
  if (self_test() != 0) {
    fprintf(stderr, "ERROR SHA-1/base64 self-test failed\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "ERROR bad address %s\n", addr);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (listen(lfd, 1024) < 0) die("listen");
  socklen_t sl = sizeof sa;
  if (getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) die("getsockname");
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data = {.ptr = NULL}};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll_ctl");
  printf("LISTENING %d\n", ntohs(sa.sin_port));
  fflush(stdout);

  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *nc = calloc(1, sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          nc->reading = 1;
          struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data = {.ptr = nc}};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(nc);
          }
        }
        continue;
      }
      uint32_t e = events[i].events;
      if (e & (EPOLLERR | EPOLLHUP)) {
        conn_free(c);
        continue;
      }
      if (e & EPOLLOUT) {
        on_writable(c);
        /* on_writable may have freed c: the rest of this event is handled on the next wakeup */
        continue;
      }
      if (e & (EPOLLIN | EPOLLRDHUP)) on_readable(c);
    }
  }
}
