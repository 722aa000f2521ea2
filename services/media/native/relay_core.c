/*
 * RTP relay core (see relay_core.h): one thread, epoll over the UDP sockets of every anchored
 * leg, recvmmsg in, sendmmsg out. A pure relay: packets leave as they came (SSRC/seq/timestamp
 * untouched), only the socket (and so the source port) changes. Each leg keeps RFC 3550 A.1/A.8
 * receive statistics and latches to its phone's real address under the rules of latch_rtp() and
 * latch_rtcp() (RTP Bleed defence, docs/media-engine.md).
 *
 * A closed leg's socket pair stays bound ("parked", still in epoll, its input dropped) until the
 * next leg on that port takes it: per call, no socket/bind/epoll_ctl/close. A parked pair stamps
 * what it receives (SO_TIMESTAMPNS), so the next leg drops exactly what reached the port before
 * it was reused and keeps everything after, however late its worker gets to the socket.
 */
#define _GNU_SOURCE
#include "relay_core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define EVENTS 1024
#define JS_QUEUE_MAX (4 * 1024 * 1024)
#define RTP_SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
/* A NAT rebinding: the same SSRC continues from a new address within this many sequence numbers
   (2 s of 20 ms packets lost while the mapping changed). An off-path sender cannot guess both. */
#define REBIND_MAX_GAP 100
/* Closed legs keep their bound sockets ("parked"); bounded so a huge port range cannot pin every fd. */
#define MAX_PARKED 16384
/* Commands owner -> relay thread; a power of two. 8,192 commands (~0.5 MB a thread) are ~800 calls
   set up and torn down while the thread is descheduled, after which the owner waits for it (push).
   The ring is touched page by page as it goes round, so its size is resident memory after the first
   few hundred calls: 65,536 (4.4 MB a thread) showed as slow growth under steady load. */
#define RING 8192
/* Closed slots wait behind this many others before they serve again (a FIFO), so a late packet or
   command of a closed leg meets a slot that has moved on by several generations, as round-robin
   over the whole table gave; but only the slots in use plus this many are ever touched, where
   round-robin touched every page of the 65,536-slot tables (~29 MB) within a few thousand calls. */
#define QUARANTINE 1024
#define WAKE_TAG UINT64_MAX

typedef struct {
  uint32_t ssrc;
  uint16_t max_seq;
  uint32_t cycles;
  uint32_t base_seq;
  uint32_t bad_seq;
  uint64_t received;
  int have;
  double jitter; /* RFC 3550 A.8, in timestamp units */
  int64_t transit;
  int have_transit;
} src_stats;

/* The packet-path state of one leg: written by the relay thread only (or by the owner once the
   thread is gone), read by the owner through the sequence lock `sl`. */
typedef struct {
  uint32_t sl;  /* everything, for the owner's stats reads */
  uint32_t rsl; /* the route fields (active, gen, mode, can_send, rtcp_mux, fd, remote, applied), for other workers */
  uint32_t applied; /* seq of the last command applied to this leg */
  int active;  /* a live leg: its input is handled */
  int has_fds; /* sockets open (live or parked) */
  int fd[2];   /* 0 = RTP, 1 = RTCP */
  uint32_t gen;
  int mode;
  int peer;     /* leg id of the bridge partner, -1 none */
  uint32_t peer_gen; /* the partner's generation: a slot reopened for another call is not it */
  int can_send; /* the phone accepts media (not sendonly/inactive/c=0.0.0.0 on its side) */
  int dtmf_pt;  /* excluded from jitter: RFC 4733 events repeat their timestamp */
  int report_events; /* relayed telephone-events (dtmf_pt) are also copied to JS (key presses a feature watches) */
  uint32_t clock_rate;
  int sdp_known;
  int rtcp_mux;                 /* the phone sends RTCP on its RTP port (RFC 5761): its RTCP goes there */
  struct sockaddr_in sdp[2];    /* from SDP */
  struct sockaddr_in remote[2]; /* where we send: latched, else from SDP */
  int latched[2];
  int64_t learn_until;
  /* per socket, while nonzero: a datagram the kernel stamped (CLOCK_REALTIME) before this, or did
     not stamp, reached the port before its reuse and is dropped; INT64_MAX while parked */
  int64_t fresh_after[2];
  src_stats st;
  uint64_t pkts_in, bytes_in, rtcp_in;
  uint64_t dropped_foreign, dropped_no_route, dropped_malformed, dropped_oversize;
  uint64_t relatches, js_dropped;
  /* written by the worker of the leg that relays to this one: atomic */
  uint64_t pkts_out, bytes_out, rtcp_out, dropped_send;
} leg;

/* What a worker needs of another leg to send to its phone (read under that leg's `rsl`). */
typedef struct {
  int active;
  uint32_t gen;
  int mode, can_send, rtcp_mux;
  int fd[2];
  struct sockaddr_in remote[2];
  uint32_t applied;
} route_view;

/* What the owner last asked of a leg's route, published the moment it asks (owner writes under
   psl, anyone reads). A worker sending to a leg whose commands its own worker has not applied yet
   uses this, so a setRemote/setRoute is in effect for every packet that arrives after the call
   returned, whichever thread reads it first (docs/media-engine.md, "Commands take effect"). */
typedef struct {
  uint32_t psl;
  uint32_t seq;      /* of the owner's last command for this leg */
  uint32_t addr_seq; /* of the last command that gave it a new SDP address (or a new life) */
  int active;
  uint32_t gen;
  int mode, can_send;
  int fd[2];
  struct sockaddr_in sdp[2]; /* port 0: not known */
} published;

/* The owner's (JS thread's) bookkeeping of a slot. */
typedef struct {
  int used;
  int parked;
  int port;
  uint32_t bind_ip;
  uint32_t gen;
  int can_send;
  int mode, peer; /* the route, so a close can unlink those routed to it without touching their worker */
  int refs;       /* how many legs route to this one */
  uint64_t sent_pkts, sent_bytes, sent_rtcp, send_failed;
} owner_leg;

enum op { C_OPEN, C_REUSE, C_CLOSE, C_UNPARK, C_REMOTE, C_ROUTE, C_LEARN, C_EVENTS };

typedef struct {
  int op;
  int id;
  uint32_t seq; /* the leg's command count (published.seq) */
  int fd0, fd1; /* C_OPEN */
  uint32_t gen; /* C_OPEN, C_REUSE */
  int64_t reused_at; /* C_REUSE: CLOCK_REALTIME ns when the owner took the pair */
  int park;     /* C_CLOSE */
  uint32_t ip;  /* C_REMOTE: 0 = unknown */
  int rtp_port, rtcp_port, can_send, dtmf_pt;
  uint32_t clock_rate;
  int mode, peer; /* C_ROUTE */
  uint32_t peer_gen;
  int events; /* C_EVENTS */
} cmd;

/* A relay thread: its own epoll set (the legs with id % workers == its index), command ring, and
   stage of packets for JS. Several, as rtpengine's, so one descheduled thread does not delay
   every call on a box without real-time priority. */
typedef struct {
  struct rc_relay *r;
  int idx;
  pthread_t thread;
  int started, joined;
  int epfd, evfd;
  int rt_error;
  int nice_error;
  int sched_done; /* its scheduling policy is settled (atomic) */
  cmd *ring; /* the owner writes head, the worker tail */
  uint32_t head, tail;
  uint8_t *stage;
  size_t stage_len, stage_cap;
} worker;

#define MAX_WORKERS 8

struct rc_relay {
  rc_config cfg;
  rc_hooks hooks;
  worker w[MAX_WORKERS];
  int nw;
  int auto_threads; /* cfg.threads was 0: rc_start settles the count */
  int started, stopped;
  volatile int stop;
  int dead;     /* errno a worker died of (atomic) */
  int reported; /* the death was reported (atomic) */
  leg *legs;    /* workers */
  owner_leg *own; /* owner thread */
  published *pub; /* owner writes, workers read */
  /* Slots [0, fresh) have been handed out at least once; the tables are calloc'ed and the pages
     beyond are never written, so they cost no memory until a box carries that many legs at once. */
  int fresh;
  int *free_q; /* owner: FIFO of free slots below `fresh` (not used, not parked) */
  int free_head, free_len;
  int *port_slot; /* owner: RTP port -> 1 + slot of its parked pair, 0 none (calloc'ed: untouched) */
  int parked_count, max_parked;
  uint64_t reused;
  /* asks for timestamps, so the kernel stamps every datagram on arrival for as long as the relay
     lives: a pair parked later gets the arrival time of what already waits in it (the kernel turns
     stamping on for the whole stack in deferred work, too late for the first park otherwise) */
  int stamp_fd;
  /* packets for JS: staged by each worker, moved to q under qmu (trylock: never waits) */
  pthread_mutex_t qmu;
  uint8_t *q;
  size_t qlen, qcap, q_bytes; /* q_bytes: qlen readable without the lock */
  int q_signalled;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}
static int same_ip(const struct sockaddr_in *a, const struct sockaddr_in *b) { return a->sin_addr.s_addr == b->sin_addr.s_addr; }

static uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }

/* ---- sequence lock (single writer) ---- */

static void wbegin(leg *l) {
  __atomic_store_n(&l->sl, l->sl + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
}
static void wend(leg *l) { __atomic_store_n(&l->sl, l->sl + 1, __ATOMIC_RELEASE); }

static void rbegin(leg *l) {
  __atomic_store_n(&l->rsl, l->rsl + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
}
static void rend(leg *l) { __atomic_store_n(&l->rsl, l->rsl + 1, __ATOMIC_RELEASE); }

/* Another worker's leg: bounded tries (its writer may be descheduled mid-write), 0 = not now. */
static int read_view(leg *d, route_view *v) {
  for (int tries = 0; tries < 256; tries++) {
    uint32_t s1 = __atomic_load_n(&d->rsl, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;
    v->active = d->active;
    v->gen = d->gen;
    v->mode = d->mode;
    v->can_send = d->can_send;
    v->rtcp_mux = d->rtcp_mux;
    v->fd[0] = d->fd[0];
    v->fd[1] = d->fd[1];
    v->remote[0] = d->remote[0];
    v->remote[1] = d->remote[1];
    v->applied = d->applied;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&d->rsl, __ATOMIC_RELAXED) == s1) return 1;
  }
  return 0;
}

static int read_pub(published *p, published *v) {
  for (int tries = 0; tries < 256; tries++) {
    uint32_t s1 = __atomic_load_n(&p->psl, __ATOMIC_ACQUIRE);
    if (s1 & 1) continue;
    memcpy(v, p, sizeof(*v));
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&p->psl, __ATOMIC_RELAXED) == s1) return 1;
  }
  return 0;
}

/* Where leg id's phone is now, as the owner last asked: what its worker applied, overlaid with
   the commands still in that worker's ring. An address change not yet applied means the new SDP
   address (the latch starts afresh there); otherwise the applied latch stands. Never waits: when
   the owner is caught mid-write, what is applied is the answer. */
static int read_route(rc_relay *r, int id, route_view *v) {
  if (!read_view(&r->legs[id], v)) return 0;
  published p;
  if (!read_pub(&r->pub[id], &p) || (int32_t)(v->applied - p.seq) >= 0) return 1;
  v->active = p.active;
  v->gen = p.gen;
  v->mode = p.mode;
  v->can_send = p.can_send;
  v->fd[0] = p.fd[0];
  v->fd[1] = p.fd[1];
  if ((int32_t)(v->applied - p.addr_seq) < 0) {
    v->remote[0] = p.sdp[0];
    v->remote[1] = p.sdp[1];
    v->rtcp_mux = 0;
  }
  return 1;
}

static void add_out(uint64_t *c, uint64_t n) { __atomic_fetch_add(c, n, __ATOMIC_RELAXED); }

static void read_leg(leg *l, leg *copy) {
  for (int spins = 0;; spins++) {
    uint32_t s1 = __atomic_load_n(&l->sl, __ATOMIC_ACQUIRE);
    if (!(s1 & 1)) {
      memcpy(copy, l, sizeof(*copy));
      __atomic_thread_fence(__ATOMIC_ACQUIRE);
      if (__atomic_load_n(&l->sl, __ATOMIC_RELAXED) == s1) return;
    }
    if (spins > 64) sched_yield();
  }
}

/* ---- RFC 3550 A.1 (simplified probation: the first packet starts the source) ---- */

static void stats_init_seq(src_stats *s, uint16_t seq) {
  s->base_seq = seq;
  s->max_seq = seq;
  s->bad_seq = RTP_SEQ_MOD + 1;
  s->cycles = 0;
  s->received = 0;
  s->have_transit = 0;
  s->jitter = 0;
}

static void stats_update(leg *l, const uint8_t *p, int64_t arrival_ns) {
  src_stats *s = &l->st;
  uint16_t seq = (uint16_t)((p[2] << 8) | p[3]);
  uint32_t ts = rd32(p + 4);
  uint32_t ssrc = rd32(p + 8);
  int pt = p[1] & 0x7f;
  if (!s->have || s->ssrc != ssrc) {
    s->have = 1;
    s->ssrc = ssrc;
    stats_init_seq(s, seq);
  } else {
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (udelta < MAX_DROPOUT) {
      if (seq < s->max_seq) s->cycles += RTP_SEQ_MOD;
      s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      if (seq == s->bad_seq) {
        stats_init_seq(s, seq); /* the source restarted its sequence */
      } else {
        s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
        return;
      }
    } /* else duplicate or reordered: counted as received */
  }
  s->received++;
  if (pt == l->dtmf_pt) return;
  int64_t arrival = (int64_t)((arrival_ns / 1000) * (int64_t)l->clock_rate / 1000000);
  int64_t transit = arrival - (int64_t)ts;
  if (s->have_transit) {
    int64_t d = transit - s->transit;
    if (d < 0) d = -d;
    s->jitter += ((double)d - s->jitter) / 16.0;
  }
  s->transit = transit;
  s->have_transit = 1;
}

/* ---- validation (RFC 3550 §5.1, A.2) ---- */

static int valid_rtp(const uint8_t *p, size_t len) {
  if (len < 12 || (p[0] >> 6) != 2) return 0;
  size_t hdr = 12 + 4 * (size_t)(p[0] & 0x0f);
  if (hdr > len) return 0;
  if (p[0] & 0x10) { /* header extension */
    if (hdr + 4 > len) return 0;
    hdr += 4 + 4 * (size_t)((p[hdr + 2] << 8) | p[hdr + 3]);
    if (hdr > len) return 0;
  }
  if (p[0] & 0x20) { /* padding: its count is the last octet */
    size_t pad = p[len - 1];
    if (pad == 0 || hdr + pad > len) return 0;
  }
  return 1;
}

/* A compound RTCP packet: every part version 2, lengths add up exactly, the first an RTCP type. */
static int valid_rtcp(const uint8_t *p, size_t len) {
  if (len < 8 || p[1] < 192 || p[1] > 223) return 0;
  size_t off = 0;
  while (off + 4 <= len) {
    if ((p[off] >> 6) != 2) return 0;
    size_t plen = 4 * ((size_t)((p[off + 2] << 8) | p[off + 3]) + 1);
    if (plen > len - off) return 0;
    off += plen;
  }
  return off == len;
}

static int is_rtcp_pt(const uint8_t *p) { return p[1] >= 192 && p[1] <= 223; }

/* ---- latching: the RTP Bleed defence (CVE-2017-14099) ---- */

static int learning(const leg *l, int64_t t) { return l->sdp_known && t < l->learn_until; }

/* How much a source looks like the phone: its SDP address, its SDP host, anything else. */
static int rank(const leg *l, const struct sockaddr_in *a) {
  if (same_addr(a, &l->sdp[0])) return 2;
  if (same_ip(a, &l->sdp[0])) return 1;
  return 0;
}

/* Latch changes are the only packet-time writes other workers read (under rsl). */
static void set_rtp_source(leg *l, const struct sockaddr_in *src) {
  rbegin(l);
  l->remote[0] = *src;
  l->latched[0] = 1;
  if (!l->latched[1]) {
    /* RTCP goes where the phone's RTCP would come from: its SDP RTCP address (a=rtcp, RFC 3605)
       when it sends from its SDP address, else the latched address, port + 1, until its own RTCP
       arrives and latches */
    if (same_addr(src, &l->sdp[0])) l->remote[1] = l->sdp[1];
    else {
      l->remote[1] = *src;
      l->remote[1].sin_port = htons((uint16_t)(ntohs(src->sin_port) + 1));
    }
  }
  rend(l);
}

/*
 * RTP (or muxed RTCP) on the leg's RTP socket. Returns 1 when the packet is accepted.
 *  - Nothing is accepted before the phone's SDP is known.
 *  - In the learning window (cfg.learn_ns after the SDP is known or our SDP went to the phone)
 *    the first source latches, and a source more like the SDP (its address, else its host)
 *    takes over from a less like one (rtpengine's "heuristic" endpoint learning).
 *  - After it: an unlatched leg latches only to its SDP address; a latched leg moves only when
 *    the same SSRC continues its sequence from the new address (a NAT rebinding), never because
 *    the old source went silent.
 */
static int latch_rtp(rc_relay *r, leg *l, const struct sockaddr_in *src, const uint8_t *p, size_t len, int is_rtp,
                     int64_t t) {
  if (!l->sdp_known) return 0;
  if (l->latched[0] && same_addr(&l->remote[0], src)) return 1;
  if (learning(l, t)) {
    if (!l->latched[0] || rank(l, src) > rank(l, &l->remote[0])) {
      set_rtp_source(l, src);
      return 1;
    }
    return 0;
  }
  if (!l->latched[0]) {
    if (!same_addr(src, &l->sdp[0])) return 0;
    set_rtp_source(l, src);
    return 1;
  }
  if (!is_rtp || len < 12 || !l->st.have || rd32(p + 8) != l->st.ssrc) return 0;
  uint16_t ahead = (uint16_t)(((p[2] << 8) | p[3]) - l->st.max_seq);
  if (ahead == 0 || ahead > REBIND_MAX_GAP) return 0;
  (void)r;
  int had_rtcp = l->latched[1] && same_ip(&l->remote[1], &l->remote[0]);
  rbegin(l);
  l->latched[1] = had_rtcp ? 0 : l->latched[1]; /* RTCP follows the rebinding until its own arrives */
  rend(l);
  set_rtp_source(l, src);
  l->relatches++;
  return 1;
}

/*
 * RTCP on the leg's RTCP socket: accepted from the host RTP comes from (or the SDP host before
 * RTP latched). It latches where it comes from, so RTCP toward the phone reaches its real RTCP
 * port (a NAT maps it apart from RTP). Once latched it moves within that host only in the
 * learning window or when it reports the latched RTP stream's SSRC.
 */
static int latch_rtcp(leg *l, const struct sockaddr_in *src, const uint8_t *p, size_t len, int64_t t) {
  if (!l->sdp_known) return 0;
  if (l->latched[1] && same_addr(&l->remote[1], src)) return 1;
  const struct sockaddr_in *host = l->latched[0] ? &l->remote[0] : &l->sdp[0];
  if (!same_ip(src, host)) return 0;
  if (l->latched[1] && !learning(l, t) && !(len >= 8 && l->st.have && rd32(p + 4) == l->st.ssrc)) return 0;
  if (l->latched[1]) l->relatches++;
  rbegin(l);
  l->remote[1] = *src;
  l->latched[1] = 1;
  rend(l);
  return 1;
}

/* ---- packets for JS ---- */

static void js_enqueue(rc_relay *r, leg *l, int id, int kind, const struct sockaddr_in *src, const uint8_t *p, size_t len) {
  worker *w = &r->w[id % r->nw];
  size_t need = w->stage_len + 16 + len;
  if (need + __atomic_load_n(&r->q_bytes, __ATOMIC_RELAXED) > JS_QUEUE_MAX) {
    l->js_dropped++;
    return;
  }
  if (need > w->stage_cap) {
    size_t cap = w->stage_cap ? w->stage_cap : 65536;
    while (cap < need) cap *= 2;
    uint8_t *n = realloc(w->stage, cap);
    if (!n) {
      l->js_dropped++;
      return;
    }
    w->stage = n;
    w->stage_cap = cap;
  }
  uint8_t *h = w->stage + w->stage_len;
  uint32_t uid = (uint32_t)id;
  memcpy(h, &uid, 4);
  h[4] = (uint8_t)kind;
  h[5] = 0;
  uint16_t l16 = (uint16_t)len;
  memcpy(h + 6, &l16, 2);
  memcpy(h + 8, &src->sin_addr.s_addr, 4); /* network order */
  uint16_t port = ntohs(src->sin_port);
  memcpy(h + 12, &port, 2);
  uint16_t g = (uint16_t)l->gen;
  memcpy(h + 14, &g, 2);
  memcpy(h + 16, p, len);
  w->stage_len = need;
}

/* Moves staged packets to the shared queue. Returns 0 when the owner held the lock (try later). */
static int flush_js(rc_relay *r, worker *w) {
  if (w->stage_len == 0) return 1;
  if (pthread_mutex_trylock(&r->qmu) != 0) return 0;
  int ok = 1;
  if (r->qlen == 0) {
    uint8_t *q = r->q;
    size_t cap = r->qcap;
    r->q = w->stage;
    r->qcap = w->stage_cap;
    r->qlen = w->stage_len;
    w->stage = q;
    w->stage_cap = cap;
    w->stage_len = 0;
  } else {
    size_t need = r->qlen + w->stage_len;
    if (need > r->qcap) {
      size_t cap = r->qcap;
      while (cap < need) cap *= 2;
      uint8_t *n = realloc(r->q, cap);
      if (!n) ok = 0;
      else {
        r->q = n;
        r->qcap = cap;
      }
    }
    if (ok) {
      memcpy(r->q + r->qlen, w->stage, w->stage_len);
      r->qlen = need;
    }
    w->stage_len = 0; /* on ENOMEM the staged packets are lost */
  }
  __atomic_store_n(&r->q_bytes, r->qlen, __ATOMIC_RELAXED);
  int signal = !r->q_signalled && r->qlen > 0;
  if (signal) r->q_signalled = 1;
  pthread_mutex_unlock(&r->qmu);
  if (signal && r->hooks.notify) r->hooks.notify(r->hooks.ctx);
  return 1;
}

void rc_fuzz_flush_js(rc_relay *r) {
  for (int i = 0; i < r->nw; i++) flush_js(r, &r->w[i]);
}

size_t rc_take_queue(rc_relay *r, uint8_t **buf) {
  pthread_mutex_lock(&r->qmu);
  uint8_t *q = r->q;
  size_t len = r->qlen;
  r->q = NULL;
  r->qlen = r->qcap = 0;
  r->q_signalled = 0;
  __atomic_store_n(&r->q_bytes, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&r->qmu);
  /* drop the packets of legs closed or reopened since: their slot may serve another call now */
  size_t in = 0, out = 0;
  while (q && in + 16 <= len) {
    uint32_t uid;
    uint16_t l16, g;
    memcpy(&uid, q + in, 4);
    memcpy(&l16, q + in + 6, 2);
    memcpy(&g, q + in + 14, 2);
    size_t n = 16 + (size_t)l16;
    if (uid < RC_MAX_LEGS && r->own[uid].used && (uint16_t)r->own[uid].gen == g) {
      if (out != in) memmove(q + out, q + in, n);
      out += n;
    }
    in += n;
  }
  if (out == 0) {
    free(q);
    *buf = NULL;
    return 0;
  }
  *buf = q;
  return out;
}

/* ---- the packet path ---- */

int rc_input(rc_relay *r, int id, int k, const struct sockaddr_in *src, const uint8_t *p, size_t len, int truncated,
             int64_t t, rc_out *out, int max) {
  leg *l = &r->legs[id];
  if (!l->active) return 0;
  int n = 0;
  wbegin(l);
  int kind = k;
  if (truncated || len > RC_PKT_MAX) {
    l->dropped_oversize++;
    goto done;
  }
  if (k == 0 && len >= 2 && is_rtcp_pt(p)) kind = 1; /* rtcp-mux on the RTP port (RFC 5761 §4) */
  if (kind == 0 ? !valid_rtp(p, len) : !valid_rtcp(p, len)) {
    l->dropped_malformed++;
    goto done;
  }
  if (k == 0 ? !latch_rtp(r, l, src, p, len, kind == 0, t) : !latch_rtcp(l, src, p, len, t)) {
    l->dropped_foreign++;
    goto done;
  }
  if (kind == 0) {
    l->pkts_in++;
    l->bytes_in += len;
    stats_update(l, p, t);
  } else {
    l->rtcp_in++;
    if (k == 0 && !l->rtcp_mux) {
      rbegin(l);
      l->rtcp_mux = 1;
      rend(l);
    }
  }
  if (l->mode == RC_JS || kind == 1) {
    /* takeover legs go to JS; RTCP always also goes to JS (reports feed the call's stats) */
    js_enqueue(r, l, id, kind, src, p, len);
    if (l->mode == RC_JS) goto done;
  }
  /* a key press on a relayed leg: the phone still gets it untouched, JS a copy (kind 2) to watch
     for feature codes; a full queue drops the copy (js_dropped), never the relayed packet */
  if (kind == 0 && l->report_events && l->dtmf_pt >= 0 && (p[1] & 0x7f) == l->dtmf_pt)
    js_enqueue(r, l, id, 2, src, p, len);
  if (l->mode != RC_RELAY || l->peer < 0) {
    l->dropped_no_route++;
    goto done;
  }
  route_view d;
  /* the partner may be another worker's: a consistent copy of where its phone is, or a drop */
  if (!read_route(r, l->peer, &d) || !d.active || d.gen != l->peer_gen) {
    l->dropped_no_route++;
    goto done;
  }
  /* RTCP keeps flowing on hold (RFC 3264 §5.1); a muxing phone gets it on its RTP port */
  int dk = kind == 1 && !d.rtcp_mux ? 1 : 0;
  if (d.mode == RC_JS || (kind == 0 && !d.can_send) || d.remote[dk].sin_port == 0 || n >= max) {
    l->dropped_no_route++;
    goto done;
  }
  out[n].fd = d.fd[dk];
  out[n].dst = d.remote[dk];
  out[n].p = p;
  out[n].len = len;
  out[n].leg = l->peer;
  out[n].kind = kind;
  n++;
done:
  wend(l);
  return n;
}

static void count_sent(rc_relay *r, const rc_out *o, int ok) {
  leg *d = &r->legs[o->leg];
  if (!ok) add_out(&d->dropped_send, 1);
  else if (o->kind == 0) {
    add_out(&d->pkts_out, 1);
    add_out(&d->bytes_out, o->len);
  } else add_out(&d->rtcp_out, 1);
}

/* Sends o[0..n) (one fd): a partial sendmmsg is resumed; what the kernel refuses is counted
   dropped on the destination leg, so packetsOut is what really left. */
static void send_group(rc_relay *r, const rc_out *o, int n) {
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < n; i++) {
    iov[i].iov_base = (void *)o[i].p;
    iov[i].iov_len = o[i].len;
    memset(&mm[i].msg_hdr, 0, sizeof(struct msghdr));
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
    mm[i].msg_hdr.msg_name = (void *)&o[i].dst;
    mm[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  }
  int done = 0;
  while (done < n) {
    int m = sendmmsg(o[done].fd, mm + done, (unsigned)(n - done), MSG_DONTWAIT);
    if (m > 0) {
      for (int i = done; i < done + m; i++) count_sent(r, &o[i], 1);
      done += m;
      continue;
    }
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      for (int i = done; i < n; i++) count_sent(r, &o[i], 0); /* socket buffer full: the rest is lost */
      return;
    }
    count_sent(r, &o[done], 0); /* this message alone failed (EPERM, ENETUNREACH ...): go on */
    done++;
  }
}

static void send_all(rc_relay *r, const rc_out *o, int n) {
  int i = 0;
  while (i < n) {
    int j = i + 1;
    while (j < n && o[j].fd == o[i].fd && j - i < BATCH) j++;
    send_group(r, o + i, j - i);
    i = j;
  }
}

/* Room for the receive stamp of a parked or just reused pair (nothing is written there otherwise). */
#define STAMP_SPACE CMSG_SPACE(sizeof(struct timespec))

static void prepare_recv(struct mmsghdr *in, struct iovec *iov, uint8_t (*bufs)[RC_PKT_MAX], struct sockaddr_in *from,
                         uint8_t (*ctl)[STAMP_SPACE]) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = RC_PKT_MAX;
    memset(&in[i].msg_hdr, 0, sizeof(struct msghdr));
    in[i].msg_hdr.msg_iov = &iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
    in[i].msg_hdr.msg_name = &from[i];
    in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    in[i].msg_hdr.msg_control = ctl[i];
    in[i].msg_hdr.msg_controllen = STAMP_SPACE;
  }
}

/* When the kernel received the datagram (CLOCK_REALTIME ns), 0 if it was not stamped. */
static int64_t received_at(struct msghdr *m) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
  return 0;
}

static void set_stamping(int fd, int on) {
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

static int apply_all_of(rc_relay *r, worker *w);

/* A reused pair's socket read empty after the reuse was applied: what comes next is the new
   call's, stamps are no longer needed (each costs the kernel a control message per datagram).
   The owner turns stamping on when it parks or reuses the pair, before it publishes the command;
   if it did so meanwhile (a command not yet applied here), stamping stays on. */
static void settle(rc_relay *r, leg *l, int id, int k) {
  l->fresh_after[k] = 0;
  set_stamping(l->fd[k], 0);
  if (__atomic_load_n(&r->pub[id].seq, __ATOMIC_SEQ_CST) != l->applied) set_stamping(l->fd[k], 1);
}

static void handle_socket(rc_relay *r, worker *w, int id, int k, int64_t t) {
  static __thread struct mmsghdr in[BATCH];
  static __thread struct iovec iov[BATCH];
  static __thread struct sockaddr_in from[BATCH];
  static __thread uint8_t bufs[BATCH][RC_PKT_MAX];
  static __thread uint8_t ctl[BATCH][STAMP_SPACE];
  static __thread rc_out out[BATCH];
  leg *l = &r->legs[id];
  /* Commands queued while this pass ran are applied before the packets read now: a packet that
     arrived after setRemote/setRoute returned finds it in effect (the ring's head is one atomic
     load; the JS thread is never waited for). */
  apply_all_of(r, w);
  for (int round = 0; round < 8; round++) {
    if (!l->has_fds) return;
    /* a parked pair is read too (late RTP of a finished call): the socket must not stay readable
       under level-triggered epoll */
    uint32_t gen = l->gen;
    int64_t before = l->fresh_after[k];
    int reused = l->active && before != 0;
    prepare_recv(in, iov, bufs, from, ctl);
    int n = recvmmsg(l->fd[k], in, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      if (reused) settle(r, l, id, k);
      return;
    }
    /* commands queued while these arrived are in effect for them too */
    apply_all_of(r, w);
    if (!l->has_fds) return;
    int64_t after = l->fresh_after[k];
    /* unstamped, a slot closed or reopened meanwhile had these in its earlier life */
    if (after == 0 && l->gen != gen) return;
    int nout = 0;
    for (int i = 0; i < n; i++) {
      if (after != 0 && (!l->active || received_at(&in[i].msg_hdr) < after)) continue;
      nout += rc_input(r, id, k, &from[i], bufs[i], in[i].msg_len, (in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, t,
                       out + nout, BATCH - nout);
    }
    send_all(r, out, nout);
    if (n < BATCH) {
      if (reused && l->gen == gen && after == before) settle(r, l, id, k);
      return;
    }
  }
}

/* ---- commands ---- */

static worker *worker_of(rc_relay *r, int id) { return &r->w[id % r->nw]; }

static void reset_leg(leg *l, uint32_t gen) {
  uint32_t sl = l->sl, rsl = l->rsl;
  int fd0 = l->fd[0], fd1 = l->fd[1], has = l->has_fds;
  int64_t f0 = l->fresh_after[0], f1 = l->fresh_after[1];
  memset(l, 0, sizeof(*l));
  l->fresh_after[0] = f0;
  l->fresh_after[1] = f1;
  l->sl = sl;
  l->rsl = rsl;
  l->fd[0] = fd0;
  l->fd[1] = fd1;
  l->has_fds = has;
  l->gen = gen;
  l->active = 1;
  l->peer = -1;
  l->mode = RC_DROP;
  l->can_send = 1;
  l->dtmf_pt = -1;
  l->clock_rate = 8000;
  l->sdp[0].sin_family = l->sdp[1].sin_family = AF_INET;
  l->remote[0].sin_family = l->remote[1].sin_family = AF_INET;
}

static void close_fds(rc_relay *r, int id) {
  leg *l = &r->legs[id];
  int epfd = worker_of(r, id)->epfd;
  for (int k = 0; k < 2; k++) {
    if (l->fd[k] >= 0) {
      if (epfd >= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, l->fd[k], NULL);
      close(l->fd[k]);
    }
    l->fd[k] = -1;
  }
  l->has_fds = 0;
}

/* One command, on the worker of its leg (or on the owner once the workers are gone): it only
   ever writes that leg, so no other worker is disturbed. */
static void apply(rc_relay *r, const cmd *c, int64_t t) {
  leg *l = &r->legs[c->id];
  wbegin(l);
  rbegin(l);
  switch (c->op) {
  case C_OPEN:
    l->fd[0] = c->fd0;
    l->fd[1] = c->fd1;
    l->has_fds = 1;
    l->fresh_after[0] = l->fresh_after[1] = 0;
    reset_leg(l, c->gen);
    break;
  case C_REUSE:
    /* the pair is still bound and in epoll under this slot: what reached it before the owner took
       it is the previous call's, what came after may already be the new phone's (its first packet
       sent the moment it had our SDP, before this thread woke); the stamps tell them apart */
    l->fresh_after[0] = l->fresh_after[1] = c->reused_at;
    reset_leg(l, c->gen);
    break;
  case C_CLOSE:
    /* those routed to this leg were unlinked by the owner (their own commands); a route still
       pending on another worker finds a different generation here */
    l->active = 0;
    l->mode = RC_DROP;
    l->peer = -1;
    if (c->park) {
      l->fresh_after[0] = l->fresh_after[1] = INT64_MAX;
      set_stamping(l->fd[0], 1);
      set_stamping(l->fd[1], 1);
    } else
      close_fds(r, c->id);
    break;
  case C_UNPARK:
    close_fds(r, c->id);
    break;
  case C_REMOTE: {
    if (c->ip != 0) {
      struct sockaddr_in s0 = {.sin_family = AF_INET}, s1 = {.sin_family = AF_INET};
      s0.sin_addr.s_addr = s1.sin_addr.s_addr = c->ip;
      s0.sin_port = htons((uint16_t)c->rtp_port);
      s1.sin_port = htons((uint16_t)(c->rtcp_port > 0 ? c->rtcp_port : c->rtp_port + 1));
      if (!l->sdp_known || !same_addr(&s0, &l->sdp[0]) || !same_addr(&s1, &l->sdp[1])) {
        /* a new address (first SDP, or the phone moved): learn it afresh */
        l->sdp[0] = s0;
        l->sdp[1] = s1;
        l->remote[0] = s0;
        l->remote[1] = s1;
        l->latched[0] = l->latched[1] = 0;
        l->rtcp_mux = 0;
        l->sdp_known = 1;
      }
      /* the same address again (hold, resume, refresh): the latch stands, the window reopens */
      l->learn_until = t + r->cfg.learn_ns;
    }
    /* unknown (c=0.0.0.0, port 0): nothing is sent to it (can_send), what it sends is still known */
    l->can_send = c->can_send;
    l->dtmf_pt = c->dtmf_pt;
    l->clock_rate = c->clock_rate;
    break;
  }
  case C_ROUTE:
    l->mode = c->mode;
    l->peer = c->peer;
    l->peer_gen = c->peer_gen;
    break;
  case C_LEARN:
    if (l->sdp_known) l->learn_until = t + r->cfg.learn_ns;
    break;
  case C_EVENTS:
    l->report_events = c->events;
    break;
  }
  l->applied = c->seq;
  rend(l);
  wend(l);
}

/* Applies every command queued for one worker (on it, or on the owner once it is gone). */
static int apply_all_of(rc_relay *r, worker *w) {
  uint32_t head = __atomic_load_n(&w->head, __ATOMIC_ACQUIRE);
  uint32_t tail = w->tail;
  if (head == tail) return 0;
  int64_t t = now_ns();
  for (; tail != head; tail++) apply(r, &w->ring[tail & (RING - 1)], t);
  __atomic_store_n(&w->tail, tail, __ATOMIC_RELEASE);
  return 1;
}

static void apply_all(rc_relay *r) {
  for (int i = 0; i < r->nw; i++) apply_all_of(r, &r->w[i]);
}

void rc_fuzz_apply(rc_relay *r) { apply_all(r); }

static void wake(worker *w) {
  uint64_t one = 1;
  if (w->evfd >= 0 && write(w->evfd, &one, 8) < 0) { /* a full eventfd is awake already */ }
}

/* Owner: every worker stopped and joined (close, or after one died). */
static void stop_workers(rc_relay *r) {
  r->stop = 1;
  for (int i = 0; i < r->nw; i++)
    if (r->w[i].started) wake(&r->w[i]);
  for (int i = 0; i < r->nw; i++)
    if (r->w[i].started && !r->w[i].joined) {
      pthread_join(r->w[i].thread, NULL);
      r->w[i].joined = 1;
    }
}

static int consumers_gone(rc_relay *r) {
  return r->stopped || (r->started && __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE));
}

/* Owner: what the command will make of the leg's route, published before it is queued (the
   mirror of apply() for the fields other threads read). */
static void publish(rc_relay *r, cmd *c) {
  published *p = &r->pub[c->id];
  __atomic_store_n(&p->psl, p->psl + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  c->seq = __atomic_add_fetch(&p->seq, 1, __ATOMIC_SEQ_CST); /* settle() reads it from a worker */
  switch (c->op) {
  case C_OPEN:
  case C_REUSE:
    if (c->op == C_OPEN) {
      p->fd[0] = c->fd0;
      p->fd[1] = c->fd1;
    }
    p->active = 1;
    p->gen = c->gen;
    p->mode = RC_DROP;
    p->can_send = 1;
    memset(p->sdp, 0, sizeof(p->sdp));
    p->sdp[0].sin_family = p->sdp[1].sin_family = AF_INET;
    p->addr_seq = c->seq;
    break;
  case C_CLOSE:
    p->active = 0;
    p->mode = RC_DROP;
    if (!c->park) p->fd[0] = p->fd[1] = -1;
    break;
  case C_UNPARK:
    p->fd[0] = p->fd[1] = -1;
    break;
  case C_REMOTE:
    if (c->ip != 0) {
      struct sockaddr_in s0 = {.sin_family = AF_INET}, s1 = {.sin_family = AF_INET};
      s0.sin_addr.s_addr = s1.sin_addr.s_addr = c->ip;
      s0.sin_port = htons((uint16_t)c->rtp_port);
      s1.sin_port = htons((uint16_t)(c->rtcp_port > 0 ? c->rtcp_port : c->rtp_port + 1));
      if (p->sdp[0].sin_port == 0 || !same_addr(&s0, &p->sdp[0]) || !same_addr(&s1, &p->sdp[1])) {
        p->sdp[0] = s0;
        p->sdp[1] = s1;
        p->addr_seq = c->seq;
      }
    }
    p->can_send = c->can_send;
    break;
  case C_ROUTE:
    p->mode = c->mode;
    break;
  }
  __atomic_store_n(&p->psl, p->psl + 1, __ATOMIC_RELEASE);
}

/* Owner: queue a command for the worker of its leg. Once the workers are gone (closed, or one
   died: the others are stopped then), the owner applies it itself. */
static void push(rc_relay *r, const cmd *c0) {
  cmd cc = *c0;
  const cmd *c = &cc;
  publish(r, &cc);
  worker *w = worker_of(r, c->id);
  for (;;) {
    if (consumers_gone(r)) {
      stop_workers(r);
      apply_all(r);
      apply(r, c, now_ns());
      return;
    }
    uint32_t tail = __atomic_load_n(&w->tail, __ATOMIC_ACQUIRE);
    if (w->head - tail < RING) break;
    if (!r->started) {
      /* no thread yet (or none ever: the fuzz harness): the owner applies what it queued */
      apply_all_of(r, w);
      continue;
    }
    wake(w);
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
  }
  w->ring[w->head & (RING - 1)] = *c;
  __atomic_store_n(&w->head, w->head + 1, __ATOMIC_RELEASE);
  if (r->started) wake(w);
}

/* Owner: waits until the workers applied everything queued (a port a close held is free). */
static void wait_applied(rc_relay *r) {
  for (int i = 0; i < r->nw; i++) {
    worker *w = &r->w[i];
    while (r->started && !consumers_gone(r) && __atomic_load_n(&w->tail, __ATOMIC_ACQUIRE) != w->head) {
      wake(w);
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
  }
  if (consumers_gone(r)) {
    stop_workers(r);
    apply_all(r);
  }
}

/* ---- the relay threads ---- */

static void *relay_thread(void *arg) {
  worker *w = arg;
  rc_relay *r = w->r;
  struct epoll_event evs[EVENTS];
  if (r->cfg.rt_priority > 0) {
    /* media is late if this thread waits for a CPU behind builds or logs (Asterisk's -p does the same) */
    struct sched_param sp = {.sched_priority = r->cfg.rt_priority};
    w->rt_error = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
  }
  if (r->cfg.use_nice && (r->cfg.rt_priority <= 0 || w->rt_error != 0)) {
    /* Without SCHED_RR the relay still must not share its CPU evenly with the JS thread of its own
       process: a 100 ms garbage collection there took half the CPU the relay needed and added
       milliseconds of jitter to every call. The nice is this thread's alone (Linux: a thread id
       names one thread); lowering it needs CAP_SYS_NICE or RLIMIT_NICE (systemd LimitNICE=). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), r->cfg.nice) != 0) w->nice_error = errno;
  }
  __atomic_store_n(&w->sched_done, 1, __ATOMIC_RELEASE);
  int js_pending = 0;
  while (!r->stop) {
    int n = epoll_wait(w->epfd, evs, EVENTS, js_pending ? 1 : 200);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      __atomic_store_n(&r->dead, err, __ATOMIC_RELEASE);
      if (__atomic_exchange_n(&r->reported, 1, __ATOMIC_ACQ_REL) == 0 && r->hooks.died) r->hooks.died(r->hooks.ctx, err);
      return NULL;
    }
    apply_all_of(r, w);
    if (n == 0 && !js_pending) continue;
    int64_t t = now_ns();
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == WAKE_TAG) {
        uint64_t v;
        if (read(w->evfd, &v, 8) < 0) { /* already read */ }
        continue;
      }
      handle_socket(r, w, (int)(tag >> 1), (int)(tag & 1), t);
    }
    js_pending = !flush_js(r, w);
    /* Optional: let packets from many legs gather so one wakeup + epoll_wait serves a batch;
       passes start at most every coalesce_ns (docs/performance.md weighs what it costs in delay). */
    if (r->cfg.coalesce_ns > 0 && n < EVENTS / 2) {
      int64_t left = r->cfg.coalesce_ns - (now_ns() - t);
      if (left > 20000) {
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
      }
    }
  }
  return NULL;
}

/* ---- owner API ---- */

static void free_relay(rc_relay *r) {
  if (r->stamp_fd >= 0) close(r->stamp_fd);
  for (int i = 0; i < MAX_WORKERS; i++) {
    if (r->w[i].epfd >= 0) close(r->w[i].epfd);
    if (r->w[i].evfd >= 0) close(r->w[i].evfd);
    free(r->w[i].ring);
    free(r->w[i].stage);
  }
  free(r->legs);
  free(r->own);
  free(r->pub);
  free(r->port_slot);
  free(r->free_q);
  free(r->q);
  free(r);
}

/*
 * How many relay threads when not configured (docs/media-engine.md, Threading). Most of a packet's
 * cost is the kernel's. Real-time threads preempt everything else, so one per CPU (at most 4)
 * spreads the work and keeps each under the kernel's RT throttling limit. At normal priority one
 * CPU is left to the SIP/JS thread and the kernel: on 2 CPUs a second relay thread only added
 * wake-ups and waited behind the first for a CPU (43.9 ms p99 added jitter at 500 calls against
 * 2.3 ms with one, docs/performance.md).
 */
static int auto_threads(int realtime) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  if (realtime) return cpus > 4 ? 4 : (int)cpus;
  return cpus <= 2 ? 1 : cpus > 5 ? 4 : (int)cpus - 1;
}

int rc_create(rc_relay **out, const rc_config *cfg, const rc_hooks *hooks) {
  *out = NULL;
  rc_relay *r = calloc(1, sizeof(*r));
  if (!r) return ENOMEM;
  r->cfg = *cfg;
  if (r->cfg.rt_priority < 0 || r->cfg.rt_priority > 99) r->cfg.rt_priority = 0;
  if (r->cfg.nice < -20 || r->cfg.nice > 19) r->cfg.use_nice = 0;
  if (r->cfg.coalesce_ns < 0 || r->cfg.coalesce_ns > 10000000) r->cfg.coalesce_ns = 0;
  int nw = r->cfg.threads;
  if (nw <= 0) {
    r->auto_threads = 1;
    nw = auto_threads(r->cfg.rt_priority > 0);
  }
  r->nw = nw > MAX_WORKERS ? MAX_WORKERS : nw;
  for (int i = 0; i < MAX_WORKERS; i++) {
    r->w[i].r = r;
    r->w[i].idx = i;
    r->w[i].epfd = r->w[i].evfd = -1;
  }
  r->stamp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  set_stamping(r->stamp_fd, 1);
  if (hooks) r->hooks = *hooks;
  int err = ENOMEM;
  r->legs = calloc(RC_MAX_LEGS, sizeof(leg));
  r->own = calloc(RC_MAX_LEGS, sizeof(owner_leg));
  r->pub = calloc(RC_MAX_LEGS, sizeof(published));
  r->port_slot = calloc(65536, sizeof(int));
  r->free_q = malloc(RC_MAX_LEGS * sizeof(int));
  if (!r->legs || !r->own || !r->pub || !r->port_slot || !r->free_q) goto fail;
  for (int i = 0; i < r->nw; i++)
    if (!(r->w[i].ring = malloc(RING * sizeof(cmd)))) goto fail;
  struct rlimit nofile;
  r->max_parked = MAX_PARKED;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur / 4 < MAX_PARKED)
    r->max_parked = (int)(nofile.rlim_cur / 4);
  for (int i = 0; i < r->nw; i++) {
    worker *w = &r->w[i];
    if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) goto fail_errno;
    if ((w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) goto fail_errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0) goto fail_errno;
  }
  if ((err = pthread_mutex_init(&r->qmu, NULL)) != 0) goto fail;
  *out = r;
  return 0;
fail_errno:
  err = errno;
fail:
  free_relay(r);
  return err;
}

static int start_worker(rc_relay *r, int i) {
  int err = pthread_create(&r->w[i].thread, NULL, relay_thread, &r->w[i]);
  if (err != 0) {
    stop_workers(r); /* the ones already started */
    return err;
  }
  r->w[i].started = 1;
  r->started = 1;
  return 0;
}

int rc_start(rc_relay *r) {
  int from = 0;
  if (r->auto_threads && r->cfg.rt_priority > 0 && r->nw > 1) {
    /* the count for real time assumed SCHED_RR: the first thread finds out (no leg exists yet,
       so the legs' spread over threads is not disturbed by settling it now) */
    int err = start_worker(r, 0);
    if (err != 0) return err;
    for (int i = 0; i < 20000 && !__atomic_load_n(&r->w[0].sched_done, __ATOMIC_ACQUIRE); i++) {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    }
    if (r->w[0].rt_error != 0) r->nw = auto_threads(0);
    from = 1;
  }
  for (int i = from; i < r->nw; i++) {
    int err = start_worker(r, i);
    if (err != 0) return err;
  }
  return 0;
}

int rc_dead(rc_relay *r) { return __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE); }

int rc_nice_error(rc_relay *r) {
  for (int i = 0; i < r->nw; i++)
    if (r->w[i].nice_error) return r->w[i].nice_error;
  return 0;
}

int rc_rt_error(rc_relay *r) {
  for (int i = 0; i < r->nw; i++)
    if (r->w[i].rt_error) return r->w[i].rt_error;
  return 0;
}

void rc_stop(rc_relay *r) {
  if (r->stopped) return;
  stop_workers(r);
  r->stopped = 1;
  apply_all(r);
  for (int i = 0; i < r->fresh; i++)
    if (r->legs[i].has_fds) close_fds(r, i);
  for (int i = 0; i < MAX_WORKERS; i++) {
    if (r->w[i].epfd >= 0) close(r->w[i].epfd);
    if (r->w[i].evfd >= 0) close(r->w[i].evfd);
    r->w[i].epfd = r->w[i].evfd = -1;
  }
}

void rc_free(rc_relay *r) {
  if (!r) return;
  rc_stop(r);
  pthread_mutex_destroy(&r->qmu);
  free_relay(r);
}

int rc_break_epoll(rc_relay *r) {
  if (r->stopped) return EPIPE;
  /* the descriptor stays valid but is no epoll instance any more: epoll_wait fails with EINVAL */
  return dup2(r->w[0].evfd, r->w[0].epfd) < 0 ? errno : 0;
}

static int open_udp(uint32_t ip, int port, int *err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return -1;
  }
  int sz = 256 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = ip;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    *err = errno;
    close(fd);
    return -1;
  }
  return fd;
}

/* Owner: the slot of the pair parked on an RTP port, -1 none. */
static int parked_slot(rc_relay *r, int port) { return port >= 0 && port < 65536 ? r->port_slot[port] - 1 : -1; }
static void set_parked_slot(rc_relay *r, int port, int slot) { r->port_slot[port] = slot + 1; }

/* Owner: a slot neither used nor parked any more waits in the FIFO. */
static void release_slot(rc_relay *r, int id) {
  r->free_q[(r->free_head + r->free_len) % RC_MAX_LEGS] = id;
  r->free_len++;
}

/* Owner: a parked pair is closed for real (its worker closes the sockets). */
static void unpark(rc_relay *r, int id) {
  owner_leg *o = &r->own[id];
  if (parked_slot(r, o->port) == id) set_parked_slot(r, o->port, -1);
  o->parked = 0;
  r->parked_count--;
  release_slot(r, id);
  cmd c = {.op = C_UNPARK, .id = id};
  push(r, &c);
}

/* The oldest free slot once QUARANTINE of them wait (or the table is all handed out), else a
   fresh one: its worker-side and published "no socket" (-1) written now, before its first command. */
static int alloc_slot(rc_relay *r) {
  if (r->free_len > 0 && (r->free_len >= QUARANTINE || r->fresh == RC_MAX_LEGS)) {
    int c = r->free_q[r->free_head];
    r->free_head = (r->free_head + 1) % RC_MAX_LEGS;
    r->free_len--;
    return c;
  }
  if (r->fresh == RC_MAX_LEGS) return -1;
  int c = r->fresh++;
  r->legs[c].fd[0] = r->legs[c].fd[1] = -1;
  r->pub[c].fd[0] = r->pub[c].fd[1] = -1;
  return c;
}

static void owner_init(owner_leg *o, int port, uint32_t ip) {
  uint32_t gen = o->gen + 1;
  memset(o, 0, sizeof(*o));
  o->used = 1;
  o->port = port;
  o->bind_ip = ip;
  o->gen = gen;
  o->can_send = 1;
  o->peer = -1;
}

int rc_open_leg(rc_relay *r, uint32_t ip, int port, int *id) {
  if (port < 2 || port > 65534 || (port & 1)) return EINVAL;
  if (r->stopped || rc_dead(r)) return EPIPE;
  int s = parked_slot(r, port);
  if (s >= 0 && r->own[s].parked) {
    if (r->own[s].bind_ip == ip) {
      set_parked_slot(r, port, -1);
      r->parked_count--;
      r->reused++;
      owner_init(&r->own[s], port, ip);
      set_stamping(r->pub[s].fd[0], 1); /* in case its worker settled the pair's previous life meanwhile */
      set_stamping(r->pub[s].fd[1], 1);
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      cmd c = {.op = C_REUSE, .id = s, .gen = r->own[s].gen, .reused_at = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec};
      push(r, &c);
      *id = s;
      return 0;
    }
    unpark(r, s); /* bound to another address: let the fresh bind below have the port */
    wait_applied(r);
  }
  int err = 0, f0 = -1, f1 = -1;
  for (int attempt = 0; attempt < 3; attempt++) {
    err = 0;
    f0 = open_udp(ip, port, &err);
    f1 = f0 >= 0 ? open_udp(ip, port + 1, &err) : -1;
    if (f0 >= 0 && f1 >= 0) break;
    if (f0 >= 0) close(f0);
    f0 = f1 = -1;
    if (err == EADDRINUSE && attempt == 0) {
      wait_applied(r); /* a close still queued may hold the port */
      continue;
    }
    if ((err != EMFILE && err != ENFILE) || attempt == 2) break;
    /* out of descriptors: parked pairs are only a cache, give some back and try once more */
    for (int i = 0, freed = 0; i < r->fresh && freed < 64 && r->parked_count > 0; i++)
      if (r->own[i].parked) {
        unpark(r, i);
        freed++;
      }
    wait_applied(r);
  }
  if (f0 < 0) return err ? err : EIO;
  int slot = alloc_slot(r);
  if (slot < 0) {
    close(f0);
    close(f1);
    return ENOSPC;
  }
  int epfd = worker_of(r, slot)->epfd;
  for (int k = 0; k < 2; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)slot << 1) | (uint64_t)k};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, k == 0 ? f0 : f1, &ev) < 0) {
      err = errno;
      close(f0); /* closing drops the registration of f0 made just before, if any */
      close(f1);
      release_slot(r, slot);
      return err;
    }
  }
  owner_init(&r->own[slot], port, ip);
  cmd c = {.op = C_OPEN, .id = slot, .fd0 = f0, .fd1 = f1, .gen = r->own[slot].gen};
  push(r, &c);
  *id = slot;
  return 0;
}

int rc_leg_open(rc_relay *r, int id) { return id >= 0 && id < RC_MAX_LEGS && r->own[id].used; }

/* Owner: points leg id at peer (or nowhere), keeping the reverse counts. */
static void route(rc_relay *r, int id, int mode, int peer) {
  owner_leg *o = &r->own[id];
  if (o->peer >= 0) r->own[o->peer].refs--;
  o->mode = mode;
  o->peer = peer;
  if (peer >= 0) r->own[peer].refs++;
  cmd c = {.op = C_ROUTE, .id = id, .mode = mode, .peer = peer, .peer_gen = peer >= 0 ? r->own[peer].gen : 0};
  push(r, &c);
}

int rc_close_leg(rc_relay *r, int id) {
  if (!rc_leg_open(r, id)) return EINVAL;
  owner_leg *o = &r->own[id];
  int old = o->peer;
  if (old >= 0) route(r, id, RC_DROP, -1);
  /* those routed here are unlinked by commands to their own workers: the bridge partner at once,
     anyone else (rare) by a scan of the owner's table */
  if (old >= 0 && o->refs > 0 && r->own[old].used && r->own[old].peer == id) route(r, old, r->own[old].mode, -1);
  for (int i = 0; o->refs > 0 && i < r->fresh; i++)
    if (r->own[i].used && r->own[i].peer == id) route(r, i, r->own[i].mode, -1);
  int p = o->port;
  int park = !r->stopped && !rc_dead(r) && r->parked_count < r->max_parked && p >= 0 && p < 65536 && parked_slot(r, p) < 0;
  o->used = 0;
  if (park) {
    /* kept bound: its worker drops what still arrives, the next leg on this port reuses it. Stamped
       from now on (before its worker may even know), so the reuse can tell old from new. */
    set_stamping(r->pub[id].fd[0], 1);
    set_stamping(r->pub[id].fd[1], 1);
    o->parked = 1;
    set_parked_slot(r, p, id);
    r->parked_count++;
  } else {
    release_slot(r, id);
  }
  cmd c = {.op = C_CLOSE, .id = id, .park = park};
  push(r, &c);
  return 0;
}

int rc_set_remote(rc_relay *r, int id, uint32_t ip, int rtp_port, int rtcp_port, int can_send, int dtmf_pt,
                  uint32_t clock_rate) {
  if (!rc_leg_open(r, id)) return EINVAL;
  if (ip != 0 && (rtp_port < 1 || rtp_port > 65535 || rtcp_port < 0 || rtcp_port > 65535 ||
                  (rtcp_port == 0 && rtp_port == 65535)))
    return EINVAL;
  if (dtmf_pt < -1 || dtmf_pt > 127 || clock_rate > 192000) return EINVAL;
  /* after the workers died the owner applies commands itself: a call can still be wound down */
  r->own[id].can_send = can_send != 0;
  cmd c = {.op = C_REMOTE, .id = id, .ip = ip, .rtp_port = rtp_port, .rtcp_port = rtcp_port,
           .can_send = can_send != 0, .dtmf_pt = dtmf_pt, .clock_rate = clock_rate ? clock_rate : 8000};
  push(r, &c);
  return 0;
}

int rc_set_route(rc_relay *r, int id, int mode, int peer) {
  if (!rc_leg_open(r, id)) return EINVAL;
  if (mode < RC_DROP || mode > RC_JS || peer < -1 || peer >= RC_MAX_LEGS || (peer >= 0 && !r->own[peer].used) || peer == id)
    return EINVAL;
  route(r, id, mode, peer);
  return 0;
}

int rc_learn(rc_relay *r, int id) {
  if (!rc_leg_open(r, id)) return EINVAL;
  cmd c = {.op = C_LEARN, .id = id};
  push(r, &c);
  return 0;
}

int rc_set_events(rc_relay *r, int id, int on) {
  if (!rc_leg_open(r, id)) return EINVAL;
  cmd c = {.op = C_EVENTS, .id = id, .events = on != 0};
  push(r, &c);
  return 0;
}

int rc_send(rc_relay *r, int id, int kind, const void *data, size_t len) {
  if (!rc_leg_open(r, id) || r->stopped || rc_dead(r)) return 0;
  owner_leg *o = &r->own[id];
  route_view v;
  /* A worker preempted in the middle of writing this leg leaves it unreadable for as long as it
     waits for a CPU; the owner (never a worker) may wait for it, up to ~20 ms, rather than drop a
     packet it was asked to send. */
  int readable = read_route(r, id, &v);
  for (int i = 0; !readable && i < 400; i++) {
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
    readable = read_route(r, id, &v);
  }
  if (!readable || !v.active || v.gen != o->gen) return 0; /* its open is still queued */
  int k = kind == 1 && !v.rtcp_mux ? 1 : 0;
  struct sockaddr_in dst = v.remote[k];
  if (dst.sin_port == 0 || (kind == 0 && !o->can_send)) return 0;
  if (sendto(v.fd[k], data, len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof(dst)) != (ssize_t)len) {
    o->send_failed++;
    return 0;
  }
  if (kind == 0) {
    o->sent_pkts++;
    o->sent_bytes += len;
  } else o->sent_rtcp++;
  return 1;
}

int rc_stats_get(rc_relay *r, int id, rc_stats *s) {
  if (!rc_leg_open(r, id)) return EINVAL;
  leg *lp = &r->legs[id];
  leg l;
  read_leg(lp, &l);
  owner_leg *o = &r->own[id];
  memset(s, 0, sizeof(*s));
  if (l.gen != o->gen) { /* its open is still queued: the slot still shows the previous leg */
    s->pkts_out = o->sent_pkts;
    s->bytes_out = o->sent_bytes;
    s->rtcp_out = o->sent_rtcp;
    s->dropped_send = o->send_failed;
    s->remote[0].sin_family = s->remote[1].sin_family = AF_INET;
    return 0;
  }
  s->pkts_in = l.pkts_in;
  s->bytes_in = l.bytes_in;
  s->pkts_out = __atomic_load_n(&lp->pkts_out, __ATOMIC_RELAXED) + o->sent_pkts;
  s->bytes_out = __atomic_load_n(&lp->bytes_out, __ATOMIC_RELAXED) + o->sent_bytes;
  s->rtcp_in = l.rtcp_in;
  s->rtcp_out = __atomic_load_n(&lp->rtcp_out, __ATOMIC_RELAXED) + o->sent_rtcp;
  s->dropped_foreign = l.dropped_foreign;
  s->dropped_no_route = l.dropped_no_route;
  s->dropped_malformed = l.dropped_malformed;
  s->dropped_oversize = l.dropped_oversize;
  s->dropped_send = __atomic_load_n(&lp->dropped_send, __ATOMIC_RELAXED) + o->send_failed;
  s->relatches = l.relatches;
  s->js_dropped = l.js_dropped;
  s->expected = l.st.have ? (double)(l.st.cycles + l.st.max_seq) - (double)l.st.base_seq + 1 : 0;
  double lost = s->expected - (double)l.st.received;
  s->lost = lost > 0 ? lost : 0;
  s->jitter = l.st.jitter;
  s->ssrc = l.st.ssrc;
  s->ext_max_seq = l.st.cycles + l.st.max_seq;
  s->latched = l.latched[0];
  s->rtcp_latched = l.latched[1];
  s->rtcp_mux = l.rtcp_mux;
  s->learning = learning(&l, now_ns());
  s->remote[0] = l.remote[0];
  s->remote[1] = l.rtcp_mux ? l.remote[0] : l.remote[1];
  return 0;
}

void rc_pool(rc_relay *r, int *parked, uint64_t *reused) {
  *parked = r->parked_count;
  *reused = r->reused;
}

int rc_fuzz_add_leg(rc_relay *r, int *id) {
  int slot = alloc_slot(r);
  if (slot < 0) return ENOSPC;
  owner_init(&r->own[slot], -1, 0);
  cmd c = {.op = C_OPEN, .id = slot, .fd0 = -1, .fd1 = -1, .gen = r->own[slot].gen};
  push(r, &c);
  *id = slot;
  return 0;
}
