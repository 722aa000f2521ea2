/*
 * RTP relay core (see relay_core.h): one thread, epoll over the UDP sockets of every anchored
 * leg, recvmmsg in, sendmmsg out. A pure relay: packets leave as they came (SSRC/seq/timestamp
 * untouched), only the socket (and so the source port) changes. Each leg keeps RFC 3550 A.1/A.8
 * receive statistics and latches to its phone's real address under the rules of latch_rtp() and
 * latch_rtcp() (RTP Bleed defence, docs/media-engine.md).
 *
 * A closed leg's socket pair stays bound ("parked", still in epoll, its input dropped) until the
 * next leg on that port takes it: per call, no socket/bind/epoll_ctl/close.
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
#define RING 65536 /* commands owner -> relay thread; a power of two */
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
  uint32_t sl;
  int active;  /* a live leg: its input is handled */
  int has_fds; /* sockets open (live or parked) */
  int fd[2];   /* 0 = RTP, 1 = RTCP */
  uint32_t gen;
  int mode;
  int peer;     /* leg id of the bridge partner, -1 none */
  int refs;     /* how many legs have this one as peer: a close scans the table only when needed */
  int can_send; /* the phone accepts media (not sendonly/inactive/c=0.0.0.0 on its side) */
  int dtmf_pt;  /* excluded from jitter: RFC 4733 events repeat their timestamp */
  uint32_t clock_rate;
  int sdp_known;
  int rtcp_mux;                 /* the phone sends RTCP on its RTP port (RFC 5761): its RTCP goes there */
  struct sockaddr_in sdp[2];    /* from SDP */
  struct sockaddr_in remote[2]; /* where we send: latched, else from SDP */
  int latched[2];
  int64_t learn_until;
  src_stats st;
  uint64_t pkts_in, bytes_in, pkts_out, bytes_out, rtcp_in, rtcp_out;
  uint64_t dropped_foreign, dropped_no_route, dropped_malformed, dropped_oversize, dropped_send;
  uint64_t relatches, js_dropped;
} leg;

/* The owner's (JS thread's) bookkeeping of a slot. */
typedef struct {
  int used;
  int parked;
  int port;
  uint32_t bind_ip;
  uint32_t gen;
  int can_send;
  uint64_t sent_pkts, sent_bytes, sent_rtcp, send_failed;
} owner_leg;

enum op { C_OPEN, C_REUSE, C_CLOSE, C_UNPARK, C_REMOTE, C_ROUTE, C_LEARN };

typedef struct {
  int op;
  int id;
  int fd0, fd1; /* C_OPEN */
  uint32_t gen; /* C_OPEN, C_REUSE */
  int park;     /* C_CLOSE */
  uint32_t ip;  /* C_REMOTE: 0 = unknown */
  int rtp_port, rtcp_port, can_send, dtmf_pt;
  uint32_t clock_rate;
  int mode, peer; /* C_ROUTE */
} cmd;

struct rc_relay {
  rc_config cfg;
  rc_hooks hooks;
  pthread_t thread;
  int started, joined, stopped;
  int epfd, evfd;
  volatile int stop;
  int dead;     /* errno the thread died of (atomic) */
  int rt_error; /* errno of the SCHED_RR request */
  leg *legs;    /* relay thread */
  owner_leg *own; /* owner thread */
  int next_hint;
  int *port_slot; /* owner: RTP port -> slot of its parked pair, -1 none */
  int parked_count, max_parked;
  uint64_t reused;
  /* command ring: the owner writes head, the relay thread tail */
  cmd *ring;
  uint32_t head, tail;
  /* packets for JS: staged by the relay thread, moved to q under qmu (trylock: never waits) */
  uint8_t *stage;
  size_t stage_len, stage_cap;
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

static void set_rtp_source(leg *l, const struct sockaddr_in *src) {
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
  l->latched[1] = had_rtcp ? 0 : l->latched[1]; /* RTCP follows the rebinding until its own arrives */
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
  l->remote[1] = *src;
  l->latched[1] = 1;
  return 1;
}

/* ---- packets for JS ---- */

static void js_enqueue(rc_relay *r, leg *l, int id, int kind, const struct sockaddr_in *src, const uint8_t *p, size_t len) {
  size_t need = r->stage_len + 16 + len;
  if (need + __atomic_load_n(&r->q_bytes, __ATOMIC_RELAXED) > JS_QUEUE_MAX) {
    l->js_dropped++;
    return;
  }
  if (need > r->stage_cap) {
    size_t cap = r->stage_cap ? r->stage_cap : 65536;
    while (cap < need) cap *= 2;
    uint8_t *n = realloc(r->stage, cap);
    if (!n) {
      l->js_dropped++;
      return;
    }
    r->stage = n;
    r->stage_cap = cap;
  }
  uint8_t *h = r->stage + r->stage_len;
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
  r->stage_len = need;
}

/* Moves staged packets to the shared queue. Returns 0 when the owner held the lock (try later). */
static int flush_js(rc_relay *r) {
  if (r->stage_len == 0) return 1;
  if (pthread_mutex_trylock(&r->qmu) != 0) return 0;
  int ok = 1;
  if (r->qlen == 0) {
    uint8_t *q = r->q;
    size_t cap = r->qcap;
    r->q = r->stage;
    r->qcap = r->stage_cap;
    r->qlen = r->stage_len;
    r->stage = q;
    r->stage_cap = cap;
    r->stage_len = 0;
  } else {
    size_t need = r->qlen + r->stage_len;
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
      memcpy(r->q + r->qlen, r->stage, r->stage_len);
      r->qlen = need;
    }
    r->stage_len = 0; /* on ENOMEM the staged packets are lost */
  }
  __atomic_store_n(&r->q_bytes, r->qlen, __ATOMIC_RELAXED);
  int signal = !r->q_signalled && r->qlen > 0;
  if (signal) r->q_signalled = 1;
  pthread_mutex_unlock(&r->qmu);
  if (signal && r->hooks.notify) r->hooks.notify(r->hooks.ctx);
  return 1;
}

void rc_fuzz_flush_js(rc_relay *r) { flush_js(r); }

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
    if (k == 0) l->rtcp_mux = 1;
  }
  if (l->mode == RC_JS || kind == 1) {
    /* takeover legs go to JS; RTCP always also goes to JS (reports feed the call's stats) */
    js_enqueue(r, l, id, kind, src, p, len);
    if (l->mode == RC_JS) goto done;
  }
  if (l->mode != RC_RELAY || l->peer < 0) {
    l->dropped_no_route++;
    goto done;
  }
  leg *d = &r->legs[l->peer];
  /* RTCP keeps flowing on hold (RFC 3264 §5.1); a muxing phone gets it on its RTP port */
  int dk = kind == 1 && !d->rtcp_mux ? 1 : 0;
  if (!d->active || d->mode == RC_JS || (kind == 0 && !d->can_send) || d->remote[dk].sin_port == 0 || n >= max) {
    l->dropped_no_route++;
    goto done;
  }
  out[n].fd = d->fd[dk];
  out[n].dst = &d->remote[dk];
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
  wbegin(d);
  if (!ok) d->dropped_send++;
  else if (o->kind == 0) {
    d->pkts_out++;
    d->bytes_out += o->len;
  } else d->rtcp_out++;
  wend(d);
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
    mm[i].msg_hdr.msg_name = (void *)o[i].dst;
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

static void prepare_recv(struct mmsghdr *in, struct iovec *iov, uint8_t (*bufs)[RC_PKT_MAX], struct sockaddr_in *from) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = RC_PKT_MAX;
    memset(&in[i].msg_hdr, 0, sizeof(struct msghdr));
    in[i].msg_hdr.msg_iov = &iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
    if (from != NULL) {
      in[i].msg_hdr.msg_name = &from[i];
      in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
  }
}

static void handle_socket(rc_relay *r, int id, int k, int64_t t) {
  static __thread struct mmsghdr in[BATCH];
  static __thread struct iovec iov[BATCH];
  static __thread struct sockaddr_in from[BATCH];
  static __thread uint8_t bufs[BATCH][RC_PKT_MAX];
  static __thread rc_out out[BATCH];
  leg *l = &r->legs[id];
  if (!l->has_fds) return;
  if (!l->active) {
    /* stray packets to a parked pair (late RTP of a finished call) are read and dropped: the
       socket must not stay readable (level-triggered epoll) nor hand them to the next call */
    prepare_recv(in, iov, bufs, NULL);
    for (int round = 0; round < 8; round++)
      if (recvmmsg(l->fd[k], in, BATCH, MSG_DONTWAIT, NULL) < BATCH) break;
    return;
  }
  for (int round = 0; round < 8; round++) {
    prepare_recv(in, iov, bufs, from);
    int n = recvmmsg(l->fd[k], in, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    int nout = 0;
    for (int i = 0; i < n; i++)
      nout += rc_input(r, id, k, &from[i], bufs[i], in[i].msg_len, (in[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, t,
                       out + nout, BATCH - nout);
    send_all(r, out, nout);
    if (n < BATCH) return;
  }
}

/* ---- commands ---- */

static void reset_leg(leg *l, uint32_t gen) {
  uint32_t sl = l->sl;
  int fd0 = l->fd[0], fd1 = l->fd[1], has = l->has_fds;
  memset(l, 0, sizeof(*l));
  l->sl = sl;
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

static void drain(int fd) {
  static __thread uint8_t buf[RC_PKT_MAX];
  if (fd < 0) return;
  for (int i = 0; i < 4096; i++)
    if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0) break;
}

static void close_fds(rc_relay *r, leg *l) {
  for (int k = 0; k < 2; k++) {
    if (l->fd[k] >= 0) {
      epoll_ctl(r->epfd, EPOLL_CTL_DEL, l->fd[k], NULL);
      close(l->fd[k]);
    }
    l->fd[k] = -1;
  }
  l->has_fds = 0;
}

static void apply(rc_relay *r, const cmd *c, int64_t t) {
  leg *l = &r->legs[c->id];
  wbegin(l);
  switch (c->op) {
  case C_OPEN:
    l->fd[0] = c->fd0;
    l->fd[1] = c->fd1;
    l->has_fds = 1;
    reset_leg(l, c->gen);
    break;
  case C_REUSE:
    /* the pair is still bound and in epoll under this slot: only its leftovers must go */
    drain(l->fd[0]);
    drain(l->fd[1]);
    reset_leg(l, c->gen);
    break;
  case C_CLOSE: {
    if (l->peer >= 0) {
      leg *p = &r->legs[l->peer];
      p->refs--;
      if (p->active && p->peer == c->id) { /* the usual case, a bridged pair: the partner points back */
        wbegin(p);
        p->peer = -1;
        wend(p);
        l->refs--;
      }
    }
    /* anyone else still routed to this leg (rare): a scan of the table, on this thread */
    for (int i = 0; l->refs > 0 && i < RC_MAX_LEGS; i++)
      if (r->legs[i].active && r->legs[i].peer == c->id) {
        wbegin(&r->legs[i]);
        r->legs[i].peer = -1;
        wend(&r->legs[i]);
        l->refs--;
      }
    l->active = 0;
    l->mode = RC_DROP;
    l->peer = -1;
    l->refs = 0;
    if (!c->park) close_fds(r, l);
    break;
  }
  case C_UNPARK:
    close_fds(r, l);
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
    if (l->peer >= 0) r->legs[l->peer].refs--;
    l->mode = c->mode;
    l->peer = c->peer;
    if (c->peer >= 0) r->legs[c->peer].refs++;
    break;
  case C_LEARN:
    if (l->sdp_known) l->learn_until = t + r->cfg.learn_ns;
    break;
  }
  wend(l);
}

/* Applies every queued command (relay thread, or the owner once the thread is gone). */
static void apply_all(rc_relay *r) {
  uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
  uint32_t tail = r->tail;
  if (head == tail) return;
  int64_t t = now_ns();
  for (; tail != head; tail++) apply(r, &r->ring[tail & (RING - 1)], t);
  __atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
}

void rc_fuzz_apply(rc_relay *r) { apply_all(r); }

static void wake(rc_relay *r) {
  uint64_t one = 1;
  if (write(r->evfd, &one, 8) < 0) { /* a full eventfd is awake already */ }
}

static void join_thread(rc_relay *r) {
  if (r->started && !r->joined) {
    pthread_join(r->thread, NULL);
    r->joined = 1;
  }
}

/* Owner: queue a command. Once the thread is gone, the owner applies it itself. */
static void push(rc_relay *r, const cmd *c) {
  for (;;) {
    if (!r->started || __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE) || r->stopped) {
      if (r->started) join_thread(r);
      if (r->started || r->stopped) { /* no consumer any more */
        apply_all(r);
        apply(r, c, now_ns());
        return;
      }
    }
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (r->head - tail < RING) break;
    wake(r);
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
  }
  r->ring[r->head & (RING - 1)] = *c;
  __atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
  if (r->started) wake(r);
}

/* Owner: waits until the relay thread applied everything queued (a port it closes is free). */
static void wait_applied(rc_relay *r) {
  while (r->started && !__atomic_load_n(&r->dead, __ATOMIC_ACQUIRE) &&
         __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) != r->head) {
    wake(r);
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
  if (r->started && __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE)) {
    join_thread(r);
    apply_all(r);
  }
}

/* ---- the thread ---- */

static void *relay_thread(void *arg) {
  rc_relay *r = arg;
  struct epoll_event evs[EVENTS];
  if (r->cfg.rt_priority > 0) {
    /* media is late if this thread waits for a CPU behind builds or logs (Asterisk's -p does the same) */
    struct sched_param sp = {.sched_priority = r->cfg.rt_priority};
    r->rt_error = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
  }
  int js_pending = 0;
  while (!r->stop) {
    int n = epoll_wait(r->epfd, evs, EVENTS, js_pending ? 1 : 200);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      __atomic_store_n(&r->dead, err, __ATOMIC_RELEASE);
      if (r->hooks.died) r->hooks.died(r->hooks.ctx, err);
      return NULL;
    }
    apply_all(r);
    if (n == 0 && !js_pending) continue;
    int64_t t = now_ns();
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == WAKE_TAG) {
        uint64_t v;
        if (read(r->evfd, &v, 8) < 0) { /* already read */ }
        continue;
      }
      handle_socket(r, (int)(tag >> 1), (int)(tag & 1), t);
    }
    js_pending = !flush_js(r);
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

int rc_create(rc_relay **out, const rc_config *cfg, const rc_hooks *hooks) {
  *out = NULL;
  rc_relay *r = calloc(1, sizeof(*r));
  if (!r) return ENOMEM;
  r->epfd = r->evfd = -1;
  r->cfg = *cfg;
  if (r->cfg.rt_priority < 0 || r->cfg.rt_priority > 99) r->cfg.rt_priority = 0;
  if (r->cfg.coalesce_ns < 0 || r->cfg.coalesce_ns > 10000000) r->cfg.coalesce_ns = 0;
  if (hooks) r->hooks = *hooks;
  int err = ENOMEM;
  r->legs = calloc(RC_MAX_LEGS, sizeof(leg));
  r->own = calloc(RC_MAX_LEGS, sizeof(owner_leg));
  r->port_slot = malloc(65536 * sizeof(int));
  r->ring = malloc(RING * sizeof(cmd));
  if (!r->legs || !r->own || !r->port_slot || !r->ring) goto fail;
  for (int i = 0; i < 65536; i++) r->port_slot[i] = -1;
  for (int i = 0; i < RC_MAX_LEGS; i++) r->legs[i].fd[0] = r->legs[i].fd[1] = -1;
  struct rlimit nofile;
  r->max_parked = MAX_PARKED;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur / 4 < MAX_PARKED)
    r->max_parked = (int)(nofile.rlim_cur / 4);
  if ((err = pthread_mutex_init(&r->qmu, NULL)) != 0) goto fail;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0) goto fail_errno;
  r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->evfd < 0) goto fail_errno;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) < 0) goto fail_errno;
  *out = r;
  return 0;
fail_errno:
  err = errno;
  pthread_mutex_destroy(&r->qmu);
fail:
  if (r->epfd >= 0) close(r->epfd);
  if (r->evfd >= 0) close(r->evfd);
  free(r->legs);
  free(r->own);
  free(r->port_slot);
  free(r->ring);
  free(r);
  return err;
}

int rc_start(rc_relay *r) {
  int err = pthread_create(&r->thread, NULL, relay_thread, r);
  if (err == 0) r->started = 1;
  return err;
}

int rc_dead(rc_relay *r) { return __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE); }
int rc_rt_error(rc_relay *r) { return r->rt_error; }

void rc_stop(rc_relay *r) {
  if (r->stopped) return;
  r->stop = 1;
  if (r->started) {
    wake(r);
    join_thread(r);
  }
  r->stopped = 1;
  apply_all(r);
  for (int i = 0; i < RC_MAX_LEGS; i++)
    if (r->legs[i].has_fds) close_fds(r, &r->legs[i]);
  close(r->epfd);
  close(r->evfd);
  r->epfd = r->evfd = -1;
}

void rc_free(rc_relay *r) {
  if (!r) return;
  rc_stop(r);
  pthread_mutex_destroy(&r->qmu);
  free(r->legs);
  free(r->own);
  free(r->port_slot);
  free(r->ring);
  free(r->stage);
  free(r->q);
  free(r);
}

int rc_break_epoll(rc_relay *r) {
  if (r->stopped) return EPIPE;
  /* the descriptor stays valid but is no epoll instance any more: epoll_wait fails with EINVAL */
  return dup2(r->evfd, r->epfd) < 0 ? errno : 0;
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

/* Owner: a parked pair is closed for real (the thread closes its sockets). */
static void unpark(rc_relay *r, int id) {
  owner_leg *o = &r->own[id];
  if (o->port >= 0 && o->port < 65536 && r->port_slot[o->port] == id) r->port_slot[o->port] = -1;
  o->parked = 0;
  r->parked_count--;
  cmd c = {.op = C_UNPARK, .id = id};
  push(r, &c);
}

static int alloc_slot(rc_relay *r) {
  for (int i = 0; i < RC_MAX_LEGS; i++) {
    int c = (r->next_hint + i) % RC_MAX_LEGS;
    if (!r->own[c].used && !r->own[c].parked) {
      r->next_hint = (c + 1) % RC_MAX_LEGS;
      return c;
    }
  }
  return -1;
}

static void owner_init(owner_leg *o, int port, uint32_t ip) {
  uint32_t gen = o->gen + 1;
  memset(o, 0, sizeof(*o));
  o->used = 1;
  o->port = port;
  o->bind_ip = ip;
  o->gen = gen;
  o->can_send = 1;
}

int rc_open_leg(rc_relay *r, uint32_t ip, int port, int *id) {
  if (port < 2 || port > 65534 || (port & 1)) return EINVAL;
  if (r->stopped || rc_dead(r)) return EPIPE;
  int s = r->port_slot[port];
  if (s >= 0 && r->own[s].parked) {
    if (r->own[s].bind_ip == ip) {
      r->port_slot[port] = -1;
      r->parked_count--;
      r->reused++;
      owner_init(&r->own[s], port, ip);
      cmd c = {.op = C_REUSE, .id = s, .gen = r->own[s].gen};
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
    for (int i = 0, freed = 0; i < RC_MAX_LEGS && freed < 64 && r->parked_count > 0; i++)
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
  for (int k = 0; k < 2; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)slot << 1) | (uint64_t)k};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, k == 0 ? f0 : f1, &ev) < 0) {
      err = errno;
      close(f0); /* closing drops the registration of f0 made just before, if any */
      close(f1);
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

int rc_close_leg(rc_relay *r, int id) {
  if (!rc_leg_open(r, id)) return EINVAL;
  owner_leg *o = &r->own[id];
  int p = o->port;
  int park = !r->stopped && !rc_dead(r) && r->parked_count < r->max_parked && p >= 0 && p < 65536 && r->port_slot[p] < 0;
  o->used = 0;
  if (park) {
    /* kept bound: the relay thread drops what still arrives, the next leg on this port reuses it */
    o->parked = 1;
    r->port_slot[p] = id;
    r->parked_count++;
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
  /* after the thread died the owner applies commands itself: a call can still be wound down */
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
  cmd c = {.op = C_ROUTE, .id = id, .mode = mode, .peer = peer};
  push(r, &c);
  return 0;
}

int rc_learn(rc_relay *r, int id) {
  if (!rc_leg_open(r, id)) return EINVAL;
  cmd c = {.op = C_LEARN, .id = id};
  push(r, &c);
  return 0;
}

int rc_send(rc_relay *r, int id, int kind, const void *data, size_t len) {
  if (!rc_leg_open(r, id) || r->stopped || rc_dead(r)) return 0;
  owner_leg *o = &r->own[id];
  leg copy;
  read_leg(&r->legs[id], &copy);
  if (!copy.active || !copy.has_fds || copy.gen != o->gen) return 0; /* its open is still queued */
  int k = kind == 1 && !copy.rtcp_mux ? 1 : 0;
  struct sockaddr_in dst = copy.remote[k];
  if (dst.sin_port == 0 || (kind == 0 && !o->can_send)) return 0;
  if (sendto(copy.fd[k], data, len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof(dst)) != (ssize_t)len) {
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
  leg l;
  read_leg(&r->legs[id], &l);
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
  s->pkts_out = l.pkts_out + o->sent_pkts;
  s->bytes_out = l.bytes_out + o->sent_bytes;
  s->rtcp_in = l.rtcp_in;
  s->rtcp_out = l.rtcp_out + o->sent_rtcp;
  s->dropped_foreign = l.dropped_foreign;
  s->dropped_no_route = l.dropped_no_route;
  s->dropped_malformed = l.dropped_malformed;
  s->dropped_oversize = l.dropped_oversize;
  s->dropped_send = l.dropped_send + o->send_failed;
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
