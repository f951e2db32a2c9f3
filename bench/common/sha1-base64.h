/* SHA-1 (FIPS 180-4) and base64 (RFC 4648) for the WebSocket handshake's Sec-WebSocket-Accept
 * (RFC 6455 §4.2.2): shared by the load generator and the C echo server. Include after <stdint.h>,
 * <stddef.h> and <string.h>. */
#ifndef SOCKJET_BENCH_SHA1_BASE64_H
#define SOCKJET_BENCH_SHA1_BASE64_H

/* ------------------------------------------------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-4) and base64 (RFC 4648), just enough for Sec-WebSocket-Accept                                */

static inline uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_compress(uint32_t st[5], const uint8_t blk[64]) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = ((uint32_t)blk[4 * i] << 24) | ((uint32_t)blk[4 * i + 1] << 16) | ((uint32_t)blk[4 * i + 2] << 8) |
           (uint32_t)blk[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    uint32_t t = rotl32(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rotl32(b, 30);
    b = a;
    a = t;
  }
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
  st[4] += e;
}

static void sha1(const void *data, size_t len, uint8_t out[20]) {
  const uint8_t *p = data;
  uint32_t st[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  size_t full = len & ~(size_t)63;
  for (size_t i = 0; i < full; i += 64) sha1_compress(st, p + i);
  uint8_t last[128];
  size_t rem = len - full;
  memcpy(last, p + full, rem);
  last[rem++] = 0x80;
  size_t total = rem + 8 <= 64 ? 64 : 128;
  memset(last + rem, 0, total - rem);
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) last[total - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t i = 0; i < total; i += 64) sha1_compress(st, last + i);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(st[i] >> 24);
    out[4 * i + 1] = (uint8_t)(st[i] >> 16);
    out[4 * i + 2] = (uint8_t)(st[i] >> 8);
    out[4 * i + 3] = (uint8_t)st[i];
  }
}

/* writes 4*ceil(n/3) chars and a NUL */
static void base64(const uint8_t *in, size_t n, char *out) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = al[(v >> 18) & 63];
    out[o++] = al[(v >> 12) & 63];
    out[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? al[v & 63] : '=';
  }
  out[o] = 0;
}

#endif
