/*
 * libFuzzer harness of the relay core (built with clang -fsanitize=fuzzer,address by
 * scripts/build.d/10-media-native.sh, run bounded by services/media/native/fuzz.test.ts).
 *
 * The input is a little script over four legs, so the fuzzer reaches every state of the packet
 * path: datagrams (RTP, RTCP, muxed, garbage, truncated) from six sources at moving times,
 * SDP changes, routes, learning windows, closes and reopens. What the core decides to send is
 * read back in full (ASan checks every byte), as is the queue it builds for JavaScript (taken-over
 * legs' RTP, RTCP, and copies of relayed telephone-events of legs that report them).
 *
 *   op % 8 in 0..3  packet: leg, socket, source, time step (ms), flags, length (2 bytes), data
 *             4     setRemote: leg, address, ports, canSend, dtmfPt
 *             5     setRoute: leg, mode, peer
 *             6     learn or report events on/off: leg, selector
 *             7     close and reopen: leg
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_core.h"

#define NLEGS 4
#define NOUT 8

static rc_relay *relay;
static int legs[NLEGS];
static volatile uint64_t sink;

typedef struct {
  const uint8_t *p;
  size_t n;
} input;

static int take(input *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

static struct sockaddr_in source(int sel) {
  static const char *ips[] = {"127.0.0.2", "127.0.0.2", "127.0.0.3", "10.0.0.7", "127.0.0.2", "192.0.2.1"};
  static const uint16_t ports[] = {4000, 4001, 4000, 5000, 6002, 4000};
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ports[sel % 6])};
  inet_pton(AF_INET, ips[sel % 6], &a.sin_addr);
  return a;
}

static void read_queue(void) {
  rc_fuzz_flush_js(relay);
  uint8_t *q = NULL;
  size_t len = rc_take_queue(relay, &q);
  size_t off = 0;
  while (off + 16 <= len) {
    uint16_t l16;
    memcpy(&l16, q + off + 6, 2);
    if (off + 16 + l16 > len || q[off + 4] > 2) abort(); /* the queue's framing is the core's promise to JS */
    for (size_t i = 0; i < l16; i++) sink += q[off + 16 + i];
    off += 16 + (size_t)l16;
  }
  if (off != len) abort();
  free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!relay) {
    rc_config cfg = {.coalesce_ns = 0, .rt_priority = 0, .learn_ns = 50 * 1000000LL, .threads = 2};
    if (rc_create(&relay, &cfg, NULL) != 0) abort();
  }
  for (int i = 0; i < NLEGS; i++)
    if (rc_fuzz_add_leg(relay, &legs[i]) != 0) abort();
  rc_fuzz_apply(relay);
  input in = {data, size};
  int64_t t = 1000000000LL;
  rc_out out[NOUT];
  while (in.n > 0) {
    int op = take(&in) % 8;
    int leg = take(&in) % NLEGS;
    if (op <= 3) {
      int k = take(&in);
      struct sockaddr_in src = source(take(&in));
      t += (int64_t)take(&in) * 1000000LL;
      int flags = take(&in);
      size_t len = (size_t)take(&in) << 8;
      len |= (size_t)take(&in);
      len %= RC_PKT_MAX + 64;
      if (len > in.n) len = in.n;
      /* a copy of exactly len bytes: ASan sees any read past the datagram */
      uint8_t *pkt = malloc(len ? len : 1);
      memcpy(pkt, in.p, len);
      in.p += len;
      in.n -= len;
      int n = rc_input(relay, legs[leg], k & 1, &src, pkt, len, flags == 0xff, t, out, NOUT);
      for (int i = 0; i < n; i++) {
        if (out[i].p != pkt || out[i].len != len || out[i].len > RC_PKT_MAX || out[i].dst.sin_port == 0) abort();
        for (size_t j = 0; j < out[i].len; j++) sink += out[i].p[j];
      }
      free(pkt);
    } else if (op == 4) {
      int sel = take(&in);
      struct sockaddr_in a = source(sel);
      int rtcp = take(&in) % 3;
      int can = take(&in) & 1;
      int dtmf = take(&in) % 130 - 1;
      rc_set_remote(relay, legs[leg], sel % 7 == 6 ? 0 : a.sin_addr.s_addr, ntohs(a.sin_port),
                    rtcp == 0 ? 0 : rtcp == 1 ? ntohs(a.sin_port) + 1 : 7001, can, dtmf, 8000);
    } else if (op == 5) {
      int mode = take(&in) % 3;
      int peer = take(&in) % (NLEGS + 1) - 1;
      rc_set_route(relay, legs[leg], mode, peer < 0 ? -1 : legs[peer]);
    } else if (op == 6) {
      int sel = take(&in);
      if (sel & 1) rc_set_events(relay, legs[leg], (sel >> 1) & 1);
      else rc_learn(relay, legs[leg]);
    } else {
      rc_close_leg(relay, legs[leg]);
      rc_fuzz_apply(relay);
      read_queue();
      if (rc_fuzz_add_leg(relay, &legs[leg]) != 0) abort();
    }
    /* setRemote/setRoute/learn stay queued until after the next datagram: it meets them as the
       other relay threads do (published, not yet applied) */
    if (op <= 3 || op == 7) rc_fuzz_apply(relay);
    rc_stats s;
    if (rc_stats_get(relay, legs[leg], &s) != 0) abort();
    sink += s.pkts_in;
  }
  read_queue();
  for (int i = 0; i < NLEGS; i++) rc_close_leg(relay, legs[i]);
  rc_fuzz_apply(relay);
  read_queue();
  return 0;
}
