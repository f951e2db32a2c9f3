/*
 * loadgen — sockjet's echo load generator (WebSocket or raw length-prefixed TCP).
 *
 * Single-threaded, epoll, libc only. Built by bench/run.ts with `gcc -O2`.
 *
 *   loadgen -p PORT [-a 127.0.0.1] [-u /path] [-c CONNS] [-w INFLIGHT] [-s SIZE[k|m]]
 *           [-d SECS] [-W WARMUP_SECS] [-t] [-V] [-r] [-S SERVER_PID] [-I IDLE_SECS] [-q]
 *
 * What it does
 *   - Opens CONNS TCP connections to ADDR:PORT (at most -b at a time still connecting), and, unless -r,
 *     performs an RFC 6455 client handshake on each: a fresh random 16-byte Sec-WebSocket-Key per connection,
 *     and the reply must be "HTTP/1.1 101" with Upgrade: websocket, Connection: upgrade and the right
 *     Sec-WebSocket-Accept (SHA-1 + base64 below, self-tested at start-up). No extension or subprotocol is
 *     offered, so the server must not select one.
 *   - Keeps INFLIGHT messages of SIZE bytes in flight on every connection: a new message is queued each time an
 *     echo completes. Frames are masked (one random masking key per run: the server cannot tell the difference
 *     and it lets the frame body be built once), binary or, with -t, text (printable ASCII).
 *   - Every message starts with its sequence number on that connection (up to 8 chars 'a'..'p', one per nibble)
 *     followed by a fixed pattern, so with -V each echoed byte is checked, and in-order, exactly-once echo on
 *     each connection is checked too. Length and opcode (text/binary) of each echo are always checked.
 *   - Answers pings with pongs, reassembles fragmented echoes, rejects malformed server frames (masked, RSV bits,
 *     bad opcodes, fragmented or oversized control frames, non-minimal lengths).
 *   - Runs WARMUP seconds, then measures for SECS seconds: messages/s, MB/s (payload, one direction,
 *     1 MB = 10^6 bytes), round-trip latency (from queueing a message to its echo being complete; sampled into a
 *     1M-entry reservoir, max exact), its own CPU use, the CPU use of -S PID (utime+stime of all its threads
 *     from /proc/PID/stat), the CPU time everything else on the machine used (busy time from /proc/stat minus
 *     those two: a noisy-neighbour check) and the machine's steal time.
 *   - Then stops queueing, waits for every in-flight echo (a missing one is an error), and closes each WebSocket
 *     with a Close handshake (status 1000; the server must answer it).
 *   - -r speaks a raw protocol instead: each message is a 4-byte big-endian length and the payload.
 *   - -I SECS (idle mode): opens the connections (raw mode: plus one echoed 1-byte message each, so the server has
 *     surely accepted them), prints "READY open=N failed=M connect_s=T", holds them for SECS seconds or until
 *     SIGTERM/SIGINT, answering pings, then prints "DONE open=N closed_early=M".
 *
 * Output: a human summary on stderr (unless -q) and one machine-readable line on stdout:
 *   RESULT mode=ws conns=64 window=16 size=32 text=0 secs=5.000 msgs=... msgs_per_s=... mb_per_s=...
 *          p50_us=... p90_us=... p99_us=... max_us=... mean_us=... client_cpu=... server_cpu=... other_cpu=... steal=...
 *          errors=N failed=N closed=N verify=N proto=N lost=N
 * Exit status: 0 ok; 2 bad usage; 3 a connection failed or closed, an echo was wrong or missing, or the server
 * broke the protocol; 1 other fatal errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FATAL 1
#define EXIT_USAGE 2
#define EXIT_FAILED 3

#define HS_BUF 4096          /* handshake request/response buffer (per connection, freed once open) */
#define READ_BUF (256 * 1024)
#define SCRATCH (64 * 1024)  /* where small frames are assembled before writev() */
#define COPY_MAX 4096        /* frame bodies up to this size are copied into the scratch buffer */
#define MAX_IOV 64
#define WRITE_CAP (4u << 20) /* bytes offered to one writev() */
#define CTL_CAP 512          /* pending outgoing control frames (pongs, close) */
#define RES_CAP (1u << 20)   /* latency reservoir */
#define MAX_EVENTS 1024
#define SEQ_CHARS 8

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#include "../common/sha1-base64.h"

/* key: 24 base64 chars; out: 28 chars + NUL */
static void accept_for_key(const char *key, char *out) {
  char buf[64];
  uint8_t dig[20];
  int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
  sha1(buf, (size_t)n, dig);
  base64(dig, 20, out);
}

static int self_test(void) {
  uint8_t d[20];
  char hex[41], acc[32];
  sha1("abc", 3, d);
  for (int i = 0; i < 20; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
  if (strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") != 0) return -1;
  /* 56 bytes: the padding needs a second block */
  sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
  for (int i = 0; i < 20; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
  if (strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") != 0) return -1;
  accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", acc); /* RFC 6455 section 1.3 */
  if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) return -1;
  return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* options and global state                                                                                      */

static const char *o_addr = "127.0.0.1";
static int o_port = 0;
static const char *o_path = "/";
static int o_conns = 1;
static int o_window = 1;
static uint64_t o_size = 32;
static double o_dur = 5, o_warm = 1, o_idle = -1, o_connect_timeout = 30;
static int o_text = 0, o_raw = 0, o_verify = 0, o_quiet = 0, o_server_pid = 0, o_max_pending = 256;

enum { ST_FREE, ST_CONNECTING, ST_HS_SEND, ST_HS_RECV, ST_OPEN, ST_CLOSED };
enum { RX_HDR, RX_BODY };

typedef struct {
  int fd;
  uint8_t state;
  uint8_t want_out; /* EPOLLOUT registered */
  uint8_t closing;  /* we queued our Close frame */
  uint8_t ready;    /* idle mode: counted as open */
  uint8_t pend_echo; /* idle raw mode: still counted in n_pending until its first echo */
  /* handshake */
  char *hs;
  uint16_t hs_len, hs_off;
  char accept[32];
  /* sending: to_send frames queued and not completely written; spos bytes of the first one are written */
  uint64_t to_send, spos, send_seq;
  uint8_t ctl[CTL_CAP];
  uint16_t ctl_len, ctl_off;
  /* receiving */
  uint8_t rx, hdr[14], hlen, hneed, op, fin, in_msg, msg_op, bad;
  uint8_t ctl_in[125], ctl_in_len;
  uint64_t left, moff, recv_seq;
  /* in-flight messages: FIFO of queue times */
  uint32_t inflight, ts_head;
  uint64_t *ts;
} conn_t;

static conn_t *conns;
static int ep = -1;
static uint8_t mask_key[4];
static uint8_t *tmpl;  /* one complete frame as sent (header + masked payload) */
static uint8_t *plain; /* the unmasked payload */
static size_t hdr_len, frame_len, seq_len, prefix_len; /* prefix = header + sequence chars */
static uint8_t data_op; /* 1 text, 2 binary */
static uint8_t rbuf[READ_BUF];
static uint8_t scratch[SCRATCH];
static struct iovec iov[MAX_IOV];
static char request_tmpl[512];

static int sending = 0, measuring = 0;
static uint64_t now; /* ns, refreshed around every read */
static uint64_t n_open = 0, n_ready = 0, n_pending = 0, n_failed = 0, n_closed = 0, n_verify = 0, n_proto = 0,
                n_lost = 0;
static uint64_t g_inflight = 0, win_msgs = 0, last_progress = 0;
static uint64_t *res;
static uint64_t res_seen = 0, lat_max = 0, rng = 0x9E3779B97F4A7C15ull;
static double lat_sum = 0;
static volatile sig_atomic_t stop_signal = 0;

static uint64_t clock_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void logmsg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static uint64_t xrand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void fill_random(void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(xrand() >> 24); /* no getrandom: still a fresh-ish key */
      return;
    }
    p += r;
    n -= (size_t)r;
  }
}

static void sample(uint64_t v) {
  if (v > lat_max) lat_max = v;
  lat_sum += (double)v;
  if (res_seen < RES_CAP) {
    res[res_seen] = v;
  } else {
    uint64_t j = (uint64_t)(((unsigned __int128)xrand() * (res_seen + 1)) >> 64);
    if (j < RES_CAP) res[j] = v;
  }
  res_seen++;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* nearest-rank percentile of the sorted reservoir */
static double pct_us(double p) {
  uint64_t n = res_seen < RES_CAP ? res_seen : RES_CAP;
  if (!n) return 0;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (double)res[rank - 1] / 1000.0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* CPU accounting                                                                                                */

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static double pid_cpu_s(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces and parentheses */
  if (!p) return -1;
  /* after ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  unsigned long long ut, st;
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* whole-machine jiffies: busy (user, nice, system, irq, softirq), steal and total */
static int machine_jiffies(unsigned long long *busy, unsigned long long *steal, unsigned long long *total) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                 &v[6], &v[7]);
  fclose(f);
  if (n < 4) return -1;
  *busy = v[0] + v[1] + v[2] + v[5] + v[6];
  *steal = v[7];
  *total = 0;
  for (int i = 0; i < 8; i++) *total += v[i];
  return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* frames                                                                                                        */

static inline uint8_t seq_char(uint64_t seq, size_t i) { return (uint8_t)('a' + ((seq >> (4 * i)) & 15)); }

static void build_template(void) {
  uint8_t h[14];
  size_t n = 0;
  if (o_raw) {
    h[0] = (uint8_t)(o_size >> 24);
    h[1] = (uint8_t)(o_size >> 16);
    h[2] = (uint8_t)(o_size >> 8);
    h[3] = (uint8_t)o_size;
    n = 4;
  } else {
    h[n++] = (uint8_t)(0x80 | data_op);
    if (o_size < 126) {
      h[n++] = (uint8_t)(0x80 | o_size);
    } else if (o_size < 65536) {
      h[n++] = 0x80 | 126;
      h[n++] = (uint8_t)(o_size >> 8);
      h[n++] = (uint8_t)o_size;
    } else {
      h[n++] = 0x80 | 127;
      for (int i = 7; i >= 0; i--) h[n++] = (uint8_t)(o_size >> (8 * i));
    }
    fill_random(mask_key, 4);
    memcpy(h + n, mask_key, 4);
    n += 4;
  }
  hdr_len = n;
  seq_len = o_size < SEQ_CHARS ? (size_t)o_size : SEQ_CHARS;
  prefix_len = hdr_len + seq_len;
  frame_len = hdr_len + (size_t)o_size;
  plain = malloc(o_size + 1);
  tmpl = malloc(frame_len + 1);
  if (!plain || !tmpl) {
    logmsg("out of memory for a %llu-byte message", (unsigned long long)o_size);
    exit(EXIT_FATAL);
  }
  uint64_t r = 0x243F6A8885A308D3ull;
  for (uint64_t i = 0; i < o_size; i++) {
    if (o_text) {
      plain[i] = (uint8_t)(0x21 + (i * 7 + i / 94) % 94); /* printable ASCII, valid UTF-8 */
    } else {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      plain[i] = (uint8_t)(r >> 32);
    }
  }
  for (size_t i = 0; i < seq_len; i++) plain[i] = 'a'; /* placeholder; the real chars are patched per message */
  memcpy(tmpl, h, hdr_len);
  for (uint64_t i = 0; i < o_size; i++) tmpl[hdr_len + i] = o_raw ? plain[i] : plain[i] ^ mask_key[i & 3];
}

/* header + masked sequence chars of message `seq` */
static void build_prefix(uint64_t seq, uint8_t *out) {
  memcpy(out, tmpl, hdr_len);
  for (size_t i = 0; i < seq_len; i++) {
    uint8_t ch = seq_char(seq, i);
    out[hdr_len + i] = o_raw ? ch : (uint8_t)(ch ^ mask_key[i & 3]);
  }
}

/* a masked control frame appended to c->ctl; returns -1 when it does not fit */
static int queue_control(conn_t *c, uint8_t opcode, const uint8_t *payload, size_t n) {
  if (n > 125 || (size_t)c->ctl_len + 6 + n > CTL_CAP) return -1;
  uint8_t *p = c->ctl + c->ctl_len;
  uint8_t mk[4];
  fill_random(mk, 4);
  p[0] = (uint8_t)(0x80 | opcode);
  p[1] = (uint8_t)(0x80 | n);
  memcpy(p + 2, mk, 4);
  for (size_t i = 0; i < n; i++) p[6 + i] = payload[i] ^ mk[i & 3];
  c->ctl_len = (uint16_t)(c->ctl_len + 6 + n);
  return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* connection plumbing                                                                                           */

static void ep_set(conn_t *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data = {.ptr = c}};
  if (epoll_ctl(ep, op, c->fd, &ev) < 0) {
    logmsg("epoll_ctl: %s", strerror(errno));
    exit(EXIT_FATAL);
  }
}

static void want_output(conn_t *c, int on) {
  if (c->want_out == on) return;
  c->want_out = (uint8_t)on;
  ep_set(c, EPOLLIN | (on ? EPOLLOUT : 0), EPOLL_CTL_MOD);
}

static void conn_close(conn_t *c) {
  if (c->fd >= 0) close(c->fd); /* close() also removes it from the epoll set */
  c->fd = -1;
  free(c->hs);
  c->hs = NULL;
  if (c->state == ST_OPEN) n_open--;
  if (c->state == ST_CONNECTING || c->state == ST_HS_SEND || c->state == ST_HS_RECV || c->pend_echo) n_pending--;
  c->pend_echo = 0;
  g_inflight -= c->inflight;
  c->inflight = 0;
  c->state = ST_CLOSED;
}

/* an unexpected end: failed to open, or closed while open */
static void conn_fail(conn_t *c, const char *why) {
  uint64_t errs = n_failed + n_closed;
  int was_open = c->state == ST_OPEN;
  if (errs < 5) logmsg("connection %ld %s: %s", (long)(c - conns), was_open ? "closed" : "failed", why);
  if (was_open) {
    n_closed++;
    n_lost += c->inflight;
  } else {
    n_failed++;
  }
  conn_close(c);
}

static void queue_message(conn_t *c) {
  uint32_t slot = c->ts_head + c->inflight;
  if (slot >= (uint32_t)o_window) slot -= (uint32_t)o_window;
  c->ts[slot] = now;
  c->inflight++;
  g_inflight++;
  c->to_send++;
}

/* append bytes to the scratch-backed iovec list, merging with the previous entry when contiguous */
static size_t sc_used;
static int n_iov;
static void push_scratch(const uint8_t *src, size_t n) {
  uint8_t *dst = scratch + sc_used;
  memcpy(dst, src, n);
  sc_used += n;
  if (n_iov > 0 && (uint8_t *)iov[n_iov - 1].iov_base + iov[n_iov - 1].iov_len == dst) {
    iov[n_iov - 1].iov_len += n;
  } else {
    iov[n_iov].iov_base = dst;
    iov[n_iov].iov_len = n;
    n_iov++;
  }
}

/* write as much of the pending output as the socket takes; returns -1 if the connection failed */
static int conn_flush(conn_t *c) {
  for (int round = 0; round < 4; round++) {
    if (c->to_send == 0 && c->ctl_len == 0) break;
    sc_used = 0;
    n_iov = 0;
    size_t total = 0;
    /* control frames go out only between data frames */
    int ctl_now = c->ctl_len > 0 && c->spos == 0;
    uint64_t frames = c->to_send;
    if (c->ctl_len > 0 && c->spos > 0) frames = 1; /* finish the current frame, the pong goes next */
    if (ctl_now) {
      size_t n = (size_t)(c->ctl_len - c->ctl_off);
      push_scratch(c->ctl + c->ctl_off, n);
      total += n;
    }
    uint64_t seq = c->send_seq, off = c->spos;
    for (uint64_t k = 0; k < frames; k++) {
      if (n_iov > MAX_IOV - 2 || sc_used + prefix_len > SCRATCH || total >= WRITE_CAP) break;
      if (off == 0 && frame_len <= COPY_MAX && sc_used + frame_len <= SCRATCH) { /* small frame: one copy */
        uint8_t *dst = scratch + sc_used;
        push_scratch(tmpl, frame_len);
        for (size_t i = 0; i < seq_len; i++) {
          uint8_t ch = seq_char(seq, i);
          dst[hdr_len + i] = o_raw ? ch : (uint8_t)(ch ^ mask_key[i & 3]);
        }
        total += frame_len;
        seq++;
        continue;
      }
      if (off < prefix_len) {
        uint8_t pre[14 + SEQ_CHARS];
        build_prefix(seq, pre);
        push_scratch(pre + off, prefix_len - off);
      }
      size_t body_from = off > prefix_len ? (size_t)off : prefix_len;
      size_t body = frame_len - body_from;
      if (body > 0) {
        if (body <= COPY_MAX && sc_used + body <= SCRATCH) {
          push_scratch(tmpl + body_from, body);
        } else {
          iov[n_iov].iov_base = tmpl + body_from;
          iov[n_iov].iov_len = body;
          n_iov++;
        }
      }
      total += frame_len - off;
      off = 0;
      seq++;
    }
    ssize_t w = writev(c->fd, iov, n_iov);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        want_output(c, 1);
        return 0;
      }
      if (errno == EINTR) continue;
      conn_fail(c, strerror(errno));
      return -1;
    }
    size_t left = (size_t)w;
    if (ctl_now) {
      size_t n = (size_t)(c->ctl_len - c->ctl_off);
      size_t take = left < n ? left : n;
      c->ctl_off = (uint16_t)(c->ctl_off + take);
      left -= take;
      if (c->ctl_off == c->ctl_len) c->ctl_len = c->ctl_off = 0;
    }
    uint64_t pos = c->spos + left;
    uint64_t done = pos / frame_len;
    c->spos = pos % frame_len;
    c->to_send -= done;
    c->send_seq += done;
    if ((size_t)w < total) {
      want_output(c, 1);
      return 0;
    }
  }
  want_output(c, c->to_send > 0 || c->ctl_len > 0);
  return 0;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* receiving                                                                                                     */

static void verify_bytes(conn_t *c, const uint8_t *p, size_t n) {
  uint64_t off = c->moff;
  if (off + n > o_size) return; /* the length check reports it */
  size_t i = 0;
  for (; i < n && off + i < seq_len; i++) {
    if (p[i] != seq_char(c->recv_seq, (size_t)(off + i))) {
      if (!c->bad && n_verify < 3)
        logmsg("connection %ld: echo %llu has sequence chars of another message (echoes lost, duplicated or "
               "reordered)",
               (long)(c - conns), (unsigned long long)c->recv_seq);
      c->bad = 1;
      return;
    }
  }
  if (i < n && memcmp(p + i, plain + off + i, n - i) != 0) {
    if (!c->bad && n_verify < 3)
      logmsg("connection %ld: echo %llu differs from the message sent", (long)(c - conns),
             (unsigned long long)c->recv_seq);
    c->bad = 1;
  }
}

static void message_done(conn_t *c, uint8_t opcode) {
  if (c->inflight == 0) {
    if (n_proto < 3) logmsg("connection %ld: a message arrived that was never sent", (long)(c - conns));
    n_proto++;
    c->moff = 0;
    c->bad = 0;
    return;
  }
  int bad = c->bad;
  if (c->moff != o_size) {
    if (n_verify < 3)
      logmsg("connection %ld: echo of %llu bytes, sent %llu", (long)(c - conns), (unsigned long long)c->moff,
             (unsigned long long)o_size);
    bad = 1;
  } else if (!o_raw && opcode != data_op) {
    if (n_verify < 3)
      logmsg("connection %ld: sent a %s message, the echo is %s", (long)(c - conns), o_text ? "text" : "binary",
             opcode == 1 ? "text" : "binary");
    bad = 1;
  }
  if (bad) n_verify++;
  c->moff = 0;
  c->bad = 0;
  uint64_t t0 = c->ts[c->ts_head];
  if (++c->ts_head == (uint32_t)o_window) c->ts_head = 0;
  c->inflight--;
  g_inflight--;
  c->recv_seq++;
  last_progress = now;
  if (measuring) {
    win_msgs++;
    sample(now - t0);
  }
  if (o_idle >= 0 && !c->ready) {
    c->ready = 1;
    n_ready++;
    if (c->pend_echo) {
      c->pend_echo = 0;
      n_pending--;
    }
  }
  if (sending) queue_message(c);
}

static int proto_error(conn_t *c, const char *why) {
  n_proto++;
  conn_fail(c, why);
  return -1;
}

static int feed_raw(conn_t *c, const uint8_t *p, size_t n) {
  /* fast path: whole messages in the buffer */
  while (c->rx == RX_HDR && c->hlen == 0 && n >= 4) {
    uint64_t len = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
    if (n - 4 < len) break;
    c->moff = 0;
    if (o_verify) verify_bytes(c, p + 4, (size_t)len);
    c->moff = len;
    p += 4 + len;
    n -= 4 + len;
    message_done(c, 2);
  }
  while (n) {
    if (c->rx == RX_HDR) {
      while (n && c->hlen < 4) {
        c->hdr[c->hlen++] = *p++;
        n--;
      }
      if (c->hlen < 4) return 0;
      c->left = ((uint64_t)c->hdr[0] << 24) | ((uint64_t)c->hdr[1] << 16) | ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
      c->hlen = 0;
      c->moff = 0;
      if (c->left == 0) {
        message_done(c, 2);
        continue;
      }
      c->rx = RX_BODY;
    }
    size_t take = n < c->left ? n : (size_t)c->left;
    if (o_verify) verify_bytes(c, p, take);
    c->moff += take;
    c->left -= take;
    p += take;
    n -= take;
    if (c->left == 0) {
      c->rx = RX_HDR;
      message_done(c, 2);
    }
  }
  return 0;
}

/* a complete WebSocket frame header is in c->hdr */
static int ws_header(conn_t *c) {
  uint8_t b0 = c->hdr[0], b1 = c->hdr[1];
  c->fin = b0 >> 7;
  c->op = b0 & 15;
  if (b0 & 0x70) return proto_error(c, "frame with RSV bits set (no extension was negotiated)");
  if (b1 & 0x80) return proto_error(c, "masked frame from the server");
  uint64_t len = b1 & 127;
  if (len == 126) {
    len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
    if (len < 126) return proto_error(c, "non-minimal 16-bit frame length");
  } else if (len == 127) {
    len = 0;
    for (int i = 2; i < 10; i++) len = (len << 8) | c->hdr[i];
    if (len >> 63) return proto_error(c, "64-bit frame length with the top bit set");
    if (len < 65536) return proto_error(c, "non-minimal 64-bit frame length");
  }
  c->left = len;
  if (c->op >= 8) {
    if (c->op != 8 && c->op != 9 && c->op != 10) return proto_error(c, "reserved control opcode");
    if (!c->fin) return proto_error(c, "fragmented control frame");
    if (len > 125) return proto_error(c, "control frame longer than 125 bytes");
    c->ctl_in_len = 0;
  } else if (c->op == 0) {
    if (!c->in_msg) return proto_error(c, "continuation frame outside a message");
  } else if (c->op == 1 || c->op == 2) {
    if (c->in_msg) return proto_error(c, "new data frame inside a fragmented message");
    c->in_msg = 1;
    c->msg_op = c->op;
    c->moff = 0;
  } else {
    return proto_error(c, "reserved data opcode");
  }
  return 0;
}

/* the current frame's payload is complete */
static int ws_frame_end(conn_t *c) {
  if (c->op < 8) {
    if (c->fin) {
      c->in_msg = 0;
      message_done(c, c->msg_op);
    }
    return 0;
  }
  if (c->op == 9) { /* ping */
    if (queue_control(c, 10, c->ctl_in, c->ctl_in_len) < 0 && n_proto < 3)
      logmsg("connection %ld: too many pings queued, one left unanswered", (long)(c - conns));
    return 0;
  }
  if (c->op == 8) {
    if (c->closing) { /* the answer to our Close: done */
      conn_close(c);
      return -1;
    }
    char why[96] = "server sent Close";
    if (c->ctl_in_len >= 2)
      snprintf(why, sizeof why, "server sent Close %u", ((unsigned)c->ctl_in[0] << 8) | c->ctl_in[1]);
    conn_fail(c, why);
    return -1;
  }
  return 0; /* pong: ignored */
}

static int feed_ws(conn_t *c, const uint8_t *p, size_t n) {
  while (n) {
    if (c->rx == RX_HDR) {
      if (c->hlen == 0 && n >= 2) { /* fast path: the whole header is here */
        uint8_t l = p[1] & 127;
        size_t need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
        if (n >= need) {
          memcpy(c->hdr, p, need);
          c->hlen = c->hneed = (uint8_t)need;
          p += need;
          n -= need;
        }
      }
      if (c->hlen < 2) {
        while (n && c->hlen < 2) {
          c->hdr[c->hlen++] = *p++;
          n--;
        }
        if (c->hlen < 2) return 0;
        uint8_t l = c->hdr[1] & 127;
        c->hneed = (uint8_t)(2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0));
      }
      while (n && c->hlen < c->hneed) {
        c->hdr[c->hlen++] = *p++;
        n--;
      }
      if (c->hlen < c->hneed) return 0;
      c->hlen = 0;
      if (ws_header(c) < 0) return -1;
      if (c->left == 0) {
        if (ws_frame_end(c) < 0) return -1;
        continue;
      }
      c->rx = RX_BODY;
    }
    size_t take = n < c->left ? n : (size_t)c->left;
    if (c->op >= 8) {
      memcpy(c->ctl_in + c->ctl_in_len, p, take);
      c->ctl_in_len = (uint8_t)(c->ctl_in_len + take);
    } else {
      if (o_verify) verify_bytes(c, p, take);
      c->moff += take;
    }
    c->left -= take;
    p += take;
    n -= take;
    if (c->left == 0) {
      c->rx = RX_HDR;
      if (ws_frame_end(c) < 0) return -1;
    }
  }
  return 0;
}

static int feed(conn_t *c, const uint8_t *p, size_t n) { return o_raw ? feed_raw(c, p, n) : feed_ws(c, p, n); }

/* ------------------------------------------------------------------------------------------------------------ */
/* connecting and the handshake                                                                                  */

static struct sockaddr_in server_addr;

static void conn_opened(conn_t *c) {
  free(c->hs);
  c->hs = NULL;
  n_open++;
  c->state = ST_OPEN;
  c->rx = RX_HDR;
  if (!(o_idle >= 0 && o_raw)) n_pending--;
  if (o_idle >= 0) {
    if (o_raw) {
      /* one 1-byte echo proves the server accepted the connection; until then it counts as pending, so that
         no more than -b connections wait in the server's accept queue */
      queue_message(c);
      c->pend_echo = 1;
    } else {
      c->ready = 1;
      n_ready++;
    }
  }
}

static int start_connect(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    logmsg("socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->state = ST_CONNECTING;
  n_pending++;
  if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 && errno != EINPROGRESS) {
    ep_set(c, EPOLLIN, EPOLL_CTL_ADD);
    conn_fail(c, strerror(errno));
    return 0;
  }
  c->want_out = 1;
  ep_set(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
  return 0;
}

/* copies the (trimmed) value of header `name` into out; returns out, or NULL when absent */
static const char *header_value(const char *headers, const char *name, char *out, size_t outsz) {
  size_t nl = strlen(name);
  for (const char *line = headers; *line;) {
    const char *eol = strstr(line, "\r\n");
    if (!eol) break;
    if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
      const char *v = line + nl + 1;
      while (*v == ' ' || *v == '\t') v++;
      const char *e = eol;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
      snprintf(out, outsz, "%.*s", (int)(e - v), v);
      return out;
    }
    line = eol + 2;
  }
  return NULL;
}

static int has_token(const char *list, const char *tok) {
  size_t tl = strlen(tok);
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *s = p;
    while (*p && *p != ',') p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0) return 1;
  }
  return 0;
}

/* returns bytes of the response consumed (headers), 0 if incomplete, -1 if rejected */
static int check_handshake(conn_t *c) {
  char *end = memmem(c->hs, c->hs_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->hs_len >= HS_BUF - 1) {
      conn_fail(c, "handshake response headers too long");
      return -1;
    }
    return 0;
  }
  int used = (int)(end - c->hs) + 4;
  char copy[HS_BUF];
  memcpy(copy, c->hs, (size_t)used);
  copy[used] = 0;
  char why[160];
  if (strncmp(copy, "HTTP/1.1 101", 12) != 0 || (copy[12] != ' ' && copy[12] != '\r')) {
    char *eol = strstr(copy, "\r\n");
    if (eol) *eol = 0;
    snprintf(why, sizeof why, "handshake refused: %.100s", copy);
    conn_fail(c, why);
    return -1;
  }
  char *headers = strstr(copy, "\r\n") + 2;
  char val[256];
  const char *up = header_value(headers, "Upgrade", val, sizeof val);
  if (!up || strcasecmp(up, "websocket") != 0) {
    conn_fail(c, "handshake: no 'Upgrade: websocket' in the 101 response");
    return -1;
  }
  const char *cn = header_value(headers, "Connection", val, sizeof val);
  if (!cn || !has_token(cn, "upgrade")) {
    conn_fail(c, "handshake: no 'Connection: upgrade' in the 101 response");
    return -1;
  }
  const char *acc = header_value(headers, "Sec-WebSocket-Accept", val, sizeof val);
  if (!acc || strcmp(acc, c->accept) != 0) {
    snprintf(why, sizeof why, "handshake: wrong Sec-WebSocket-Accept (got '%.40s', expected '%s')",
             acc ? acc : "(none)", c->accept);
    conn_fail(c, why);
    return -1;
  }
  if (header_value(headers, "Sec-WebSocket-Extensions", val, sizeof val)) {
    conn_fail(c, "handshake: the server selected an extension that was not offered");
    return -1;
  }
  if (header_value(headers, "Sec-WebSocket-Protocol", val, sizeof val)) {
    conn_fail(c, "handshake: the server selected a subprotocol that was not offered");
    return -1;
  }
  return used;
}

static void on_writable_setup(conn_t *c) {
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      conn_fail(c, strerror(err));
      return;
    }
    if (o_raw) {
      conn_opened(c);
      conn_flush(c);
      return;
    }
    uint8_t key_raw[16];
    char key[32];
    fill_random(key_raw, 16);
    base64(key_raw, 16, key);
    accept_for_key(key, c->accept);
    c->hs = malloc(HS_BUF);
    if (!c->hs) {
      logmsg("out of memory");
      exit(EXIT_FATAL);
    }
    int n = snprintf(c->hs, HS_BUF, request_tmpl, key);
    c->hs_len = (uint16_t)n;
    c->hs_off = 0;
    c->state = ST_HS_SEND;
  }
  if (c->state == ST_HS_SEND) {
    while (c->hs_off < c->hs_len) {
      ssize_t w = write(c->fd, c->hs + c->hs_off, c->hs_len - c->hs_off);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        conn_fail(c, strerror(errno));
        return;
      }
      c->hs_off = (uint16_t)(c->hs_off + w);
    }
    c->state = ST_HS_RECV;
    c->hs_len = 0;
    want_output(c, 0);
  }
}

static void on_readable(conn_t *c) {
  if (c->state == ST_HS_RECV) {
    ssize_t r = read(c->fd, c->hs + c->hs_len, HS_BUF - 1 - c->hs_len);
    if (r == 0) {
      conn_fail(c, "server closed the connection during the handshake");
      return;
    }
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_fail(c, strerror(errno));
      return;
    }
    c->hs_len = (uint16_t)(c->hs_len + r);
    int used = check_handshake(c);
    if (used <= 0) return;
    size_t extra = c->hs_len - (size_t)used;
    memcpy(rbuf, c->hs + used, extra);
    conn_opened(c);
    now = clock_ns();
    if (extra && feed(c, rbuf, extra) < 0) return;
    if (c->ctl_len) conn_flush(c);
    return;
  }
  if (c->state != ST_OPEN) {
    char b[256]; /* e.g. data arriving while the connect is still being reported */
    ssize_t r = read(c->fd, b, sizeof b);
    if (r == 0) conn_fail(c, "server closed the connection");
    return;
  }
  ssize_t r = read(c->fd, rbuf, sizeof rbuf);
  if (r == 0) {
    conn_fail(c, "server closed the connection");
    return;
  }
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_fail(c, strerror(errno));
    return;
  }
  now = clock_ns();
  if (feed(c, rbuf, (size_t)r) < 0) return;
  if ((c->to_send || c->ctl_len) && !c->want_out) conn_flush(c);
}

static void on_event(conn_t *c, uint32_t ev) {
  if (c->state == ST_CLOSED || c->fd < 0) return;
  if (ev & EPOLLIN) {
    on_readable(c);
    if (c->state == ST_CLOSED) return;
  }
  if (ev & (EPOLLERR | EPOLLHUP) && !(ev & EPOLLIN)) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    conn_fail(c, err ? strerror(err) : "connection reset");
    return;
  }
  if (ev & EPOLLOUT) {
    if (c->state == ST_OPEN) {
      now = clock_ns();
      conn_flush(c);
    } else {
      on_writable_setup(c);
    }
  }
}

static struct epoll_event events[MAX_EVENTS];

static void poll_once(int timeout_ms) {
  int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    logmsg("epoll_wait: %s", strerror(errno));
    exit(EXIT_FATAL);
  }
  for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events);
}

/* ------------------------------------------------------------------------------------------------------------ */

static void on_signal(int sig) {
  (void)sig;
  stop_signal = 1;
}

static uint64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return UINT64_MAX;
  if (*end == 'k' || *end == 'K') v *= 1024, end++;
  else if (*end == 'm' || *end == 'M') v *= 1024 * 1024, end++;
  if (*end) return UINT64_MAX;
  return (uint64_t)v;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen -p PORT [options]\n"
          "  -a ADDR    server IPv4 address (127.0.0.1)      -u PATH   request path (/)\n"
          "  -c N       connections (1)                      -w N      messages in flight per connection (1)\n"
          "  -s SIZE    payload bytes, k/m suffix (32)       -t        text messages (default binary)\n"
          "  -d SECS    measured seconds (5)                 -W SECS   warm-up seconds (1)\n"
          "  -V         verify every echoed byte             -r        raw 4-byte length-prefix protocol\n"
          "  -S PID     report that process's CPU use        -I SECS   idle mode: open, print READY, hold\n"
          "  -b N       connection attempts at once (256)    -T SECS   connection setup timeout (30)\n"
          "  -q         print only the RESULT line\n");
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "a:p:u:c:w:s:d:W:tVrS:I:b:T:qh")) != -1) {
    switch (opt) {
    case 'a': o_addr = optarg; break;
    case 'p': o_port = atoi(optarg); break;
    case 'u': o_path = optarg; break;
    case 'c': o_conns = atoi(optarg); break;
    case 'w': o_window = atoi(optarg); break;
    case 's': o_size = parse_size(optarg); break;
    case 'd': o_dur = atof(optarg); break;
    case 'W': o_warm = atof(optarg); break;
    case 't': o_text = 1; break;
    case 'V': o_verify = 1; break;
    case 'r': o_raw = 1; break;
    case 'S': o_server_pid = atoi(optarg); break;
    case 'I': o_idle = atof(optarg); break;
    case 'b': o_max_pending = atoi(optarg); break;
    case 'T': o_connect_timeout = atof(optarg); break;
    case 'q': o_quiet = 1; break;
    default: usage(); return EXIT_USAGE;
    }
  }
  if (optind != argc || o_port <= 0 || o_port > 65535 || o_conns < 1 || o_window < 1 || o_dur <= 0 ||
      o_warm < 0 || o_max_pending < 1 || o_size == UINT64_MAX || o_size > (1ull << 32) - 1 ||
      (o_raw && o_text) || o_path[0] != '/' || strpbrk(o_path, " \r\n")) {
    usage();
    return EXIT_USAGE;
  }
  if (self_test() != 0) {
    logmsg("SHA-1/base64 self-test failed");
    return EXIT_FATAL;
  }
  if (o_idle >= 0) {
    o_window = 1;
    o_size = 1; /* raw mode: one 1-byte echo per connection */
  }
  data_op = o_text ? 1 : 2;
  memset(&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)o_port);
  if (inet_pton(AF_INET, o_addr, &server_addr.sin_addr) != 1) {
    logmsg("not an IPv4 address: %s", o_addr);
    return EXIT_USAGE;
  }
  snprintf(request_tmpl, sizeof request_tmpl,
           "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %%s\r\nSec-WebSocket-Version: 13\r\n\r\n",
           o_path, o_addr, o_port);
  uint64_t seed;
  fill_random(&seed, sizeof seed);
  rng ^= seed | 1;

  struct rlimit rl;
  rlim_t need = (rlim_t)o_conns + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    if (rl.rlim_max < need) {
      logmsg("%d connections need %llu file descriptors, the hard limit is %llu", o_conns,
             (unsigned long long)need, (unsigned long long)rl.rlim_max);
      return EXIT_FATAL;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      logmsg("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
      return EXIT_FATAL;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  build_template();
  conns = calloc((size_t)o_conns, sizeof *conns);
  res = malloc(sizeof *res * RES_CAP);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || !res || ep < 0) {
    logmsg("setup failed: %s", strerror(errno));
    return EXIT_FATAL;
  }
  for (int i = 0; i < o_conns; i++) {
    conns[i].fd = -1;
    conns[i].ts = calloc((size_t)o_window, sizeof(uint64_t));
    if (!conns[i].ts) {
      logmsg("out of memory");
      return EXIT_FATAL;
    }
  }

  /* ---- open the connections, at most o_max_pending at a time ---- */
  uint64_t t_start = clock_ns();
  uint64_t setup_deadline = t_start + (uint64_t)(o_connect_timeout * 1e9);
  int next = 0;
  while (!stop_signal) {
    while (next < o_conns && n_pending < (uint64_t)o_max_pending) {
      if (start_connect(&conns[next++]) < 0) return EXIT_FATAL;
    }
    if (next == o_conns && n_pending == 0) {
      /* idle raw mode also waits for the one echo per connection */
      if (o_idle < 0 || n_ready >= (uint64_t)o_conns - n_failed - n_closed) break;
    }
    if (clock_ns() > setup_deadline) {
      logmsg("connection setup timed out: %llu of %d open", (unsigned long long)n_open, o_conns);
      break;
    }
    poll_once(100);
  }
  double connect_s = (double)(clock_ns() - t_start) / 1e9;
  if (!o_quiet)
    logmsg("%llu of %d connections open in %.2f s (%llu failed)", (unsigned long long)n_open, o_conns, connect_s,
           (unsigned long long)(n_failed + n_closed));

  /* ---- idle mode ---- */
  if (o_idle >= 0) {
    uint64_t ready_errors = n_failed + n_closed;
    printf("READY open=%llu failed=%llu connect_s=%.2f\n", (unsigned long long)n_ready,
           (unsigned long long)(o_conns - n_ready), connect_s);
    fflush(stdout);
    uint64_t until = clock_ns() + (uint64_t)(o_idle * 1e9);
    while (!stop_signal && clock_ns() < until) poll_once(200);
    uint64_t closed_early = n_failed + n_closed - ready_errors;
    uint64_t held = n_open;
    for (int i = 0; i < o_conns; i++)
      if (conns[i].fd >= 0) conn_close(&conns[i]);
    printf("DONE open=%llu closed_early=%llu\n", (unsigned long long)held, (unsigned long long)closed_early);
    fflush(stdout);
    return n_ready == (uint64_t)o_conns && closed_early == 0 ? 0 : EXIT_FAILED;
  }
  if (n_open == 0) {
    logmsg("no connection could be opened");
    printf("RESULT mode=%s conns=%d errors=%llu failed=%llu\n", o_raw ? "raw" : "ws", o_conns,
           (unsigned long long)(n_failed + n_closed), (unsigned long long)(n_failed + n_closed));
    return EXIT_FAILED;
  }

  /* ---- load ---- */
  sending = 1;
  now = clock_ns();
  for (int i = 0; i < o_conns; i++) {
    conn_t *c = &conns[i];
    if (c->state != ST_OPEN) continue;
    for (int k = 0; k < o_window; k++) queue_message(c);
    conn_flush(c);
  }
  uint64_t t_load = clock_ns();
  uint64_t t_measure = t_load + (uint64_t)(o_warm * 1e9);
  uint64_t t_end = 0, t_m0 = 0, t_m1 = 0;
  double cpu0 = 0, cpu1 = 0, scpu0 = -1, scpu1 = -1;
  unsigned long long bz0 = 0, st0 = 0, tot0 = 0, bz1 = 0, st1 = 0, tot1 = 0;
  int stalled = 0;
  last_progress = t_load;
  for (;;) {
    uint64_t t = clock_ns();
    if (!measuring && !t_m0 && t >= t_measure) {
      measuring = 1;
      win_msgs = 0;
      res_seen = 0;
      lat_max = 0;
      lat_sum = 0;
      cpu0 = self_cpu_s();
      scpu0 = pid_cpu_s(o_server_pid);
      machine_jiffies(&bz0, &st0, &tot0);
      t_m0 = clock_ns();
      t_end = t_m0 + (uint64_t)(o_dur * 1e9);
    }
    if (measuring && t >= t_end) {
      t_m1 = clock_ns();
      cpu1 = self_cpu_s();
      scpu1 = pid_cpu_s(o_server_pid);
      machine_jiffies(&bz1, &st1, &tot1);
      measuring = 0;
      break;
    }
    if (stop_signal) break;
    if (n_open == 0) break;
    if (t - last_progress > 10000000000ull) {
      logmsg("no echo for 10 s, giving up");
      stalled = 1;
      break;
    }
    poll_once(20);
  }
  int interrupted = stop_signal && !t_m1;
  if (!t_m1) { /* interrupted or every connection died: report what was measured */
    t_m1 = clock_ns();
    if (!t_m0) t_m0 = t_m1;
    cpu1 = self_cpu_s();
    scpu1 = pid_cpu_s(o_server_pid);
    machine_jiffies(&bz1, &st1, &tot1);
    measuring = 0;
  }

  /* ---- drain the in-flight echoes, then close ---- */
  sending = 0;
  uint64_t drain_deadline = clock_ns() + 10000000000ull;
  while (!interrupted && !stalled && g_inflight > 0 && n_open > 0 && !stop_signal && clock_ns() < drain_deadline)
    poll_once(20);
  if (!interrupted && g_inflight > 0) {
    logmsg("%llu echoes never arrived", (unsigned long long)g_inflight);
    n_lost += g_inflight;
  }
  if (!o_raw && !interrupted) {
    static const uint8_t normal[2] = {0x03, 0xE8}; /* 1000 */
    for (int i = 0; i < o_conns; i++) {
      conn_t *c = &conns[i];
      if (c->state != ST_OPEN) continue;
      c->closing = 1;
      c->to_send = c->spos > 0; /* after a timed-out drain: finish a half-written frame, drop the rest */
      if (queue_control(c, 8, normal, 2) < 0) {
        conn_fail(c, "no room for the Close frame");
        continue;
      }
      conn_flush(c);
    }
    uint64_t close_deadline = clock_ns() + 5000000000ull;
    while (n_open > 0 && !stop_signal && clock_ns() < close_deadline) poll_once(20);
    if (n_open > 0) {
      logmsg("%llu connections got no answer to their Close frame", (unsigned long long)n_open);
      n_proto += n_open;
    }
  }
  for (int i = 0; i < o_conns; i++)
    if (conns[i].fd >= 0) conn_close(&conns[i]);

  /* ---- report ---- */
  double secs = (double)(t_m1 - t_m0) / 1e9;
  if (secs <= 0) secs = 1e-9;
  double mps = (double)win_msgs / secs;
  double mbps = mps * (double)o_size / 1e6;
  uint64_t ns = res_seen < RES_CAP ? res_seen : RES_CAP;
  qsort(res, ns, sizeof *res, cmp_u64);
  double p50 = pct_us(50), p90 = pct_us(90), p99 = pct_us(99);
  double mx = (double)lat_max / 1000.0, mean = res_seen ? lat_sum / (double)res_seen / 1000.0 : 0;
  double ccpu = (cpu1 - cpu0) / secs * 100;
  double scpu = scpu0 >= 0 && scpu1 >= 0 ? (scpu1 - scpu0) / secs * 100 : -1;
  double steal = tot1 > tot0 ? (double)(st1 - st0) * 100.0 / (double)(tot1 - tot0) : 0;
  /* CPU used by anything but the server and this process, in % of one CPU (noise from other work) */
  double other = (double)(bz1 - bz0) / (double)sysconf(_SC_CLK_TCK) / secs * 100 - ccpu - (scpu >= 0 ? scpu : 0);
  if (other < 0) other = 0;
  uint64_t errors = n_failed + n_closed + n_verify + n_proto + n_lost;
  if (!o_quiet) {
    logmsg("%s, %d connections x %d in flight, %llu-byte %s messages, %.1f s warm-up, %.2f s measured%s",
           o_raw ? "raw length-prefixed TCP" : "WebSocket", o_conns, o_window, (unsigned long long)o_size,
           o_raw ? "raw" : o_text ? "text" : "binary", o_warm, secs, o_verify ? ", echoes verified" : "");
    logmsg("  %.0f msgs/s, %.2f MB/s payload each way", mps, mbps);
    logmsg("  round trip p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us, mean %.1f us", p50, p90, p99, mx, mean);
    if (scpu >= 0)
      logmsg("  cpu: loadgen %.0f%%, server (pid %d) %.0f%%, everything else %.0f%%, machine steal %.1f%%", ccpu,
             o_server_pid, scpu, other, steal);
    else
      logmsg("  cpu: loadgen %.0f%%, everything else %.0f%%, machine steal %.1f%%", ccpu, other, steal);
    logmsg("  errors: %llu (failed %llu, closed %llu, wrong echo %llu, protocol %llu, lost %llu)%s",
           (unsigned long long)errors, (unsigned long long)n_failed, (unsigned long long)n_closed,
           (unsigned long long)n_verify, (unsigned long long)n_proto, (unsigned long long)n_lost,
           interrupted ? ", interrupted" : stalled ? ", stalled" : "");
  }
  printf("RESULT mode=%s conns=%d window=%d size=%llu text=%d verify=%d secs=%.3f msgs=%llu msgs_per_s=%.0f "
         "mb_per_s=%.3f p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f client_cpu=%.1f "
         "server_cpu=%.1f other_cpu=%.1f steal=%.1f errors=%llu failed=%llu closed=%llu verify_errors=%llu proto=%llu lost=%llu "
         "stalled=%d\n",
         o_raw ? "raw" : "ws", o_conns, o_window, (unsigned long long)o_size, o_text, o_verify, secs,
         (unsigned long long)win_msgs, mps, mbps, p50, p90, p99, mx, mean, ccpu, scpu, other, steal,
         (unsigned long long)errors, (unsigned long long)n_failed, (unsigned long long)n_closed,
         (unsigned long long)n_verify, (unsigned long long)n_proto, (unsigned long long)n_lost, stalled);
  fflush(stdout);
  if (interrupted) return 130;
  return errors || stalled ? EXIT_FAILED : 0;
}
