/*
 * The RTP relay core: packet path, latching, receive statistics and the relay thread. No N-API
 * here (relay_napi.c binds it to JavaScript; fuzz_core.c drives it under libFuzzer + ASan).
 *
 * Threads: the "owner" thread (Node's JS thread) calls rc_open_leg/rc_close_leg/rc_set_* and
 * rc_send/rc_stats; the relay thread owns every leg's packet-path state. The owner never touches
 * that state: it pushes commands into a single-producer single-consumer ring that the relay
 * thread applies before it handles the packets it reads next, publishes what other threads read of
 * a leg's route as it pushes, and reads counters through a per-leg sequence lock. So a command is
 * in effect for any packet that arrives after the call returned, and the (possibly SCHED_RR) relay
 * thread never waits for the JS thread (docs/media-engine.md, Threading).
 */
#ifndef RELAY_CORE_H
#define RELAY_CORE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define RC_MAX_LEGS 65536
#define RC_PKT_MAX 2048 /* larger datagrams are dropped (counted droppedOversize), never relayed cut */

enum rc_mode { RC_DROP = 0, RC_RELAY = 1, RC_JS = 2 };

typedef struct rc_relay rc_relay;

typedef struct {
  /* called on the relay thread when the queue of packets for JS became non-empty */
  void (*notify)(void *ctx);
  /* called on the relay thread once, as it exits on an error it cannot recover from (errno) */
  void (*died)(void *ctx, int err);
  void *ctx;
} rc_hooks;

typedef struct {
  long coalesce_ns;  /* a pass starts at most every coalesce_ns (0: no pause) */
  int rt_priority;   /* > 0: SCHED_RR at this priority */
  int use_nice;      /* without SCHED_RR (not asked or refused), the relay threads take `nice` for themselves */
  int nice;          /* -20..19; the JS thread keeps the process's own */
  int64_t learn_ns;  /* learning window after the SDP is known / our SDP was given (RTP Bleed) */
  int threads;       /* relay threads (legs spread by id); 0 = auto: one per CPU (at most 4) under SCHED_RR, else 1 on up to 2 CPUs, CPUs - 1 above (at most 4) */
} rc_config;

typedef struct {
  uint64_t pkts_in, bytes_in, pkts_out, bytes_out, rtcp_in, rtcp_out;
  uint64_t dropped_foreign, dropped_no_route, dropped_malformed, dropped_oversize, dropped_send;
  uint64_t relatches, js_dropped;
  double expected, lost, jitter;
  uint32_t ssrc, ext_max_seq;
  int latched, rtcp_latched, rtcp_mux, learning;
  struct sockaddr_in remote[2]; /* where RTP and RTCP go now (port 0: unknown) */
} rc_stats;

/* Returns 0 or an errno; on failure nothing is left allocated. */
int rc_create(rc_relay **out, const rc_config *cfg, const rc_hooks *hooks);
int rc_start(rc_relay *r);
/* Stops the thread, closes every socket. Idempotent. rc_free after it. */
void rc_stop(rc_relay *r);
void rc_free(rc_relay *r);

/* 0 while the relay thread runs; the errno it died of otherwise. */
int rc_dead(rc_relay *r);
/* errno of the SCHED_RR request, 0 when granted or not asked */
int rc_rt_error(rc_relay *r);
/* 0 when the relay threads' nice was applied or not asked (or SCHED_RR held), else the errno. */
int rc_nice_error(rc_relay *r);

/* Binds ip:port and ip:port+1 (or reuses the pair parked there). port must be even, 2..65534.
   Returns 0 and *id, or EINVAL, EADDRINUSE, ENOSPC (no leg slot), EPIPE (relay dead), ... */
int rc_open_leg(rc_relay *r, uint32_t ip_be, int port, int *id);
int rc_close_leg(rc_relay *r, int id);
/* ip_be 0 = unknown. rtp_port 1..65535 when known, rtcp_port 0 (= rtp + 1) or 1..65535. */
int rc_set_remote(rc_relay *r, int id, uint32_t ip_be, int rtp_port, int rtcp_port, int can_send, int dtmf_pt,
                  uint32_t clock_rate);
int rc_set_route(rc_relay *r, int id, int mode, int peer);
/* (Re)opens the learning window: our SDP just went to this leg's phone, it may start sending. */
int rc_learn(rc_relay *r, int id);
/* on != 0: RTP packets of the leg's telephone-event payload type (rc_set_remote dtmf_pt) that are
   relayed are also queued for JS (kind 2), for features watching key presses (RFC 4733). */
int rc_set_events(rc_relay *r, int id, int on);
/* Sends from the leg's socket to where its phone's media goes. 1 sent, 0 not (no remote, refused). */
int rc_send(rc_relay *r, int id, int kind, const void *data, size_t len);
int rc_stats_get(rc_relay *r, int id, rc_stats *out);
void rc_pool(rc_relay *r, int *parked, uint64_t *reused);
/* The owner's view: is this id an open leg? */
int rc_leg_open(rc_relay *r, int id);

/* Takes the packets queued for JS (owner thread). Entries of legs closed or reopened since they
   were queued are removed. Returns the length; *buf is malloc'ed (free it), NULL when empty.
   Entry: u32 leg, u8 kind (0 RTP, 1 RTCP, 2 copy of a relayed telephone-event), u8 0, u16 len, 4 bytes IPv4, u16 port, u16 gen, data. */
size_t rc_take_queue(rc_relay *r, uint8_t **buf);

/* Makes the relay thread's epoll_wait fail (EINVAL), as a broken epoll instance would: the tests
   see the real death path (hooks.died, every later call EPIPE). */
int rc_break_epoll(rc_relay *r);

/* ---- used by the fuzz harness: the packet path without sockets or thread ---- */

typedef struct {
  int fd;
  struct sockaddr_in dst;
  const uint8_t *p;
  size_t len;
  int leg;  /* destination leg (its counters) */
  int kind; /* 0 RTP, 1 RTCP */
} rc_out;

/* A leg slot with no sockets, as if opened (fds -1). */
int rc_fuzz_add_leg(rc_relay *r, int *id);
/* Applies queued commands (what the relay thread does between passes). */
void rc_fuzz_apply(rc_relay *r);
/* One datagram arriving on leg id, socket k (0 RTP, 1 RTCP); truncated: MSG_TRUNC was set.
   Appends what must be sent to out (up to max), returns the count. */
int rc_input(rc_relay *r, int id, int k, const struct sockaddr_in *src, const uint8_t *p, size_t len, int truncated,
             int64_t now, rc_out *out, int max);
/* Moves the queued JS packets to the shared queue (normally at the end of a pass). */
void rc_fuzz_flush_js(rc_relay *r);

#endif
