/*
 * RTP relay hot path: one thread, epoll over the UDP sockets of every anchored leg, recvmmsg in,
 * sendmmsg out. A pure relay: packets leave as they came (SSRC/seq/timestamp untouched), only the
 * socket (and so the source port) changes. Each leg keeps RFC 3550 A.1/A.8 receive statistics and
 * does symmetric-RTP latching (RFC 4961 spirit), see latch() below.
 *
 * Legs in takeover ("js") mode hand their packets to JavaScript in batches through one
 * threadsafe function; JavaScript sends with relay_send() straight from its own thread.
 *
 * A closed leg's socket pair stays bound ("parked", still in epoll, its input dropped) until the
 * next leg on that port takes it: per call, no socket/bind/epoll_ctl/close (docs/media-engine.md).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEGS 65536
#define BATCH 32
#define PKT_MAX 2048
#define EVENTS 1024
#define JS_QUEUE_MAX (4 * 1024 * 1024)
#define RELATCH_SILENCE_NS 1000000000LL /* old source silent for 1 s before another may take over */
#define RTP_SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
/* Closed legs keep their bound sockets ("parked") so the next leg on the same port skips
   socket/setsockopt/bind/epoll_ctl/close; bounded so a huge port range cannot pin every fd. */
#define MAX_PARKED 16384

enum mode { MODE_DROP = 0, MODE_RELAY = 1, MODE_JS = 2 };

typedef struct {
  uint32_t ssrc;
  uint16_t max_seq;
  uint32_t cycles;
  uint32_t base_seq;
  uint32_t bad_seq;
  uint64_t received;
  int have;
  double jitter;  /* RFC 3550 A.8, in timestamp units */
  int64_t transit;
  int have_transit;
} src_stats;

typedef struct leg {
  int used;
  int parked;      /* closed, sockets kept bound (and in epoll) for the next leg on this port */
  int port;        /* the RTP port the pair is bound to (RTCP = port + 1) */
  uint32_t bind_ip; /* network order */
  int fd[2]; /* 0 = RTP, 1 = RTCP */
  int mode;
  int peer;        /* leg id of the bridge partner, -1 none */
  int refs;        /* how many legs have this one as peer: closeLeg scans the table only when needed */
  int can_send;    /* remote accepts media (not sendonly/inactive on its side) */
  int dtmf_pt;     /* excluded from jitter: RFC 4733 events repeat their timestamp */
  uint32_t clock_rate;
  struct sockaddr_in sdp_remote[2]; /* from SDP, port 0 = unknown */
  struct sockaddr_in remote[2];     /* where we send: latched or SDP */
  int latched[2];
  int64_t last_from_remote_ns[2];
  uint64_t pkts_in, bytes_in, pkts_out, bytes_out, rtcp_in, rtcp_out;
  uint64_t dropped_foreign, dropped_no_route, dropped_malformed, relatches, js_dropped;
  src_stats st;
} leg;

typedef struct {
  pthread_t thread;
  int started;
  int epfd;
  int evfd;
  volatile int stop;
  long coalesce_ns;
  int rt_priority; /* > 0: the relay thread asks for SCHED_RR at this priority */
  int rt_error;    /* errno of that request, 0 when granted or not asked */
  pthread_mutex_t mu;
  leg *legs;
  int next_hint;
  int *port_slot;  /* RTP port -> slot of its parked pair, -1 none */
  int parked_count;
  int max_parked;   /* pairs: MAX_PARKED, less when the descriptor limit is low (half of it at most) */
  uint64_t reused;  /* legs opened on a parked pair (tests, diagnostics) */
  /* queue of packets for JS */
  pthread_mutex_t qmu;
  uint8_t *q;
  size_t qlen, qcap;
  int q_signalled;
  napi_threadsafe_function tsfn;
  int closed;
} relay;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* RFC 3550 A.1 (simplified probation: the first packet starts the source) */
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
  uint32_t ts = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
  uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
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

/*
 * Symmetric RTP latching (RFC 4961 spirit, as rtpengine/Asterisk do for NAT'd phones):
 *  1. until latched, the first packet (from anywhere) fixes where we send: a phone behind NAT sends
 *     from its public mapping, not from the address in its SDP;
 *  2. once latched, packets from another source are dropped, unless the latched source has been
 *     silent for RELATCH_SILENCE_NS (the NAT mapping changed or the phone moved): then we re-latch;
 *  3. a new SDP from the phone (re-INVITE) clears the latch (relay_set_remote).
 * Returns 1 when the packet is accepted.
 */
static int latch(leg *l, int k, const struct sockaddr_in *src, int64_t t) {
  if (!l->latched[k]) {
    l->remote[k] = *src;
    l->latched[k] = 1;
    l->last_from_remote_ns[k] = t;
    if (k == 0 && !l->latched[1] && !same_addr(&l->sdp_remote[0], src)) {
      /* behind NAT: RTCP goes to the latched address, port + 1, until RTCP itself latches;
         a phone that sends from its SDP address keeps its SDP RTCP port (a=rtcp, RFC 3605) */
      l->remote[1] = *src;
      l->remote[1].sin_port = htons((uint16_t)(ntohs(src->sin_port) + 1));
    }
    return 1;
  }
  if (same_addr(&l->remote[k], src)) {
    l->last_from_remote_ns[k] = t;
    return 1;
  }
  if (t - l->last_from_remote_ns[k] > RELATCH_SILENCE_NS) {
    l->remote[k] = *src;
    l->last_from_remote_ns[k] = t;
    l->relatches++;
    return 1;
  }
  l->dropped_foreign++;
  return 0;
}

static void js_enqueue(relay *r, int id, int k, const struct sockaddr_in *src, const uint8_t *p, size_t len) {
  pthread_mutex_lock(&r->qmu);
  size_t need = r->qlen + 16 + len;
  if (need > JS_QUEUE_MAX) {
    pthread_mutex_unlock(&r->qmu);
    r->legs[id].js_dropped++;
    return;
  }
  if (need > r->qcap) {
    size_t cap = r->qcap ? r->qcap : 65536;
    while (cap < need) cap *= 2;
    uint8_t *nq = realloc(r->q, cap);
    if (!nq) {
      pthread_mutex_unlock(&r->qmu);
      r->legs[id].js_dropped++;
      return;
    }
    r->q = nq;
    r->qcap = cap;
  }
  uint8_t *h = r->q + r->qlen;
  uint32_t uid = (uint32_t)id;
  memcpy(h, &uid, 4);
  h[4] = (uint8_t)k;
  h[5] = 0;
  uint16_t l16 = (uint16_t)len;
  memcpy(h + 6, &l16, 2);
  memcpy(h + 8, &src->sin_addr.s_addr, 4); /* network order */
  uint16_t port = ntohs(src->sin_port);
  memcpy(h + 12, &port, 2);
  h[14] = h[15] = 0;
  memcpy(h + 16, p, len);
  r->qlen = need;
  int signal = !r->q_signalled;
  r->q_signalled = 1;
  pthread_mutex_unlock(&r->qmu);
  if (signal) napi_call_threadsafe_function(r->tsfn, NULL, napi_tsfn_nonblocking);
}

static int is_rtcp_pt(const uint8_t *p) { return p[1] >= 192 && p[1] <= 223; }

/* recvmmsg headers for one batch; `from` NULL when the sender's address is not wanted */
static void prepare_recv(struct mmsghdr *in, struct iovec *iov, uint8_t (*bufs)[PKT_MAX], struct sockaddr_in *from) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = PKT_MAX;
    memset(&in[i].msg_hdr, 0, sizeof(struct msghdr));
    in[i].msg_hdr.msg_iov = &iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
    if (from != NULL) {
      in[i].msg_hdr.msg_name = &from[i];
      in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
  }
}

static void handle_socket(relay *r, int id, int k, int64_t t) {
  static __thread struct mmsghdr in[BATCH], out[BATCH];
  static __thread struct iovec iov[BATCH], oiov[BATCH];
  static __thread struct sockaddr_in from[BATCH];
  static __thread uint8_t bufs[BATCH][PKT_MAX];
  if (r->legs[id].parked) {
    /* stray packets to a parked pair (late RTP of a finished call) are read and dropped: the
       socket must not stay readable (level-triggered epoll) nor hand them to the next call */
    prepare_recv(in, iov, bufs, NULL);
    for (int round = 0; round < 8; round++)
      if (recvmmsg(r->legs[id].fd[k], in, BATCH, MSG_DONTWAIT, NULL) < BATCH) break;
    return;
  }
  for (int round = 0; round < 8; round++) {
    leg *l = &r->legs[id];
    if (!l->used) return;
    prepare_recv(in, iov, bufs, from);
    int n = recvmmsg(l->fd[k], in, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    int nout = 0, outfd = -1;
    for (int i = 0; i < n; i++) {
      const uint8_t *p = bufs[i];
      size_t len = in[i].msg_len;
      int kk = k;
      if (len < 12 && !(k == 1 && len >= 8)) { l->dropped_malformed++; continue; }
      if ((p[0] >> 6) != 2) { l->dropped_malformed++; continue; }
      if (k == 0 && is_rtcp_pt(p)) kk = 1; /* rtcp-mux on the RTP port */
      if (!latch(l, k, &from[i], t)) continue;
      if (kk == 0) {
        l->pkts_in++;
        l->bytes_in += len;
        stats_update(l, p, t);
      } else {
        l->rtcp_in++;
      }
      if (l->mode == MODE_JS || kk == 1) {
        /* takeover legs go to JS; RTCP always also goes to JS (reports feed the call's stats) */
        js_enqueue(r, id, kk, &from[i], p, len);
        if (l->mode == MODE_JS) continue;
      }
      if (l->mode != MODE_RELAY || l->peer < 0) { l->dropped_no_route++; continue; }
      leg *d = &r->legs[l->peer];
      if (!d->used || d->mode == MODE_JS || !d->can_send || d->remote[kk].sin_port == 0) {
        l->dropped_no_route++;
        continue;
      }
      int dfd = d->fd[k == 0 && kk == 1 ? 0 : kk];
      if (outfd != -1 && dfd != outfd) {
        sendmmsg(outfd, out, nout, MSG_DONTWAIT);
        nout = 0;
      }
      outfd = dfd;
      oiov[nout].iov_base = (void *)p;
      oiov[nout].iov_len = len;
      memset(&out[nout].msg_hdr, 0, sizeof(struct msghdr));
      out[nout].msg_hdr.msg_iov = &oiov[nout];
      out[nout].msg_hdr.msg_iovlen = 1;
      out[nout].msg_hdr.msg_name = &d->remote[kk];
      out[nout].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
      nout++;
      if (kk == 0) {
        d->pkts_out++;
        d->bytes_out += len;
      } else {
        d->rtcp_out++;
      }
    }
    if (nout > 0) sendmmsg(outfd, out, nout, MSG_DONTWAIT);
    if (n < BATCH) return;
  }
}

static void *relay_thread(void *arg) {
  relay *r = arg;
  struct epoll_event evs[EVENTS];
  if (r->rt_priority > 0) {
    /* media is late if this thread waits for a CPU behind builds or logs (Asterisk's -p does the same) */
    struct sched_param sp = {.sched_priority = r->rt_priority};
    r->rt_error = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
  }
  while (!r->stop) {
    int n = epoll_wait(r->epfd, evs, EVENTS, 200);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    int64_t t = now_ns();
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == UINT64_MAX) continue; /* wakeup */
      handle_socket(r, (int)(tag >> 1), (int)(tag & 1), t);
    }
    pthread_mutex_unlock(&r->mu);
    /* Let packets from many legs gather so one wakeup + epoll_wait serves a batch: passes start at
       most every coalesce_ns (the pause is what is left of the period after the work), so the
       added delay stays below one period and a backlog is drained without pausing. */
    if (r->coalesce_ns > 0 && n < EVENTS / 2) {
      int64_t left = r->coalesce_ns - (now_ns() - t);
      if (left > 20000) {
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
      }
    }
  }
  return NULL;
}

/* ---------- N-API glue ---------- */

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, "ERR_MEDIA_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)data;
  relay *r = ctx;
  if (!env || !cb) return;
  pthread_mutex_lock(&r->qmu);
  uint8_t *q = r->q;
  size_t len = r->qlen;
  r->q = NULL;
  r->qlen = r->qcap = 0;
  r->q_signalled = 0;
  pthread_mutex_unlock(&r->qmu);
  if (!q || len == 0) {
    free(q);
    return;
  }
  napi_value buf, undef;
  void *dst;
  if (napi_create_buffer_copy(env, len, q, &dst, &buf) != napi_ok) {
    free(q);
    return;
  }
  free(q);
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, cb, 1, &buf, NULL);
}

static void relay_shutdown(relay *r) {
  if (r->closed) return;
  r->closed = 1;
  r->stop = 1;
  uint64_t one = 1;
  if (write(r->evfd, &one, 8) < 0) { /* thread wakes up within 200 ms anyway */ }
  if (r->started) pthread_join(r->thread, NULL);
  for (int i = 0; i < MAX_LEGS; i++) {
    if (r->legs[i].used || r->legs[i].parked) {
      close(r->legs[i].fd[0]);
      close(r->legs[i].fd[1]);
      r->legs[i].used = 0;
      r->legs[i].parked = 0;
    }
  }
  close(r->epfd);
  close(r->evfd);
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
}

static void relay_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  relay *r = data;
  if (!r->closed) {
    r->stop = 1;
    uint64_t one = 1;
    if (write(r->evfd, &one, 8) < 0) {}
    if (r->started) pthread_join(r->thread, NULL);
    for (int i = 0; i < MAX_LEGS; i++)
      if (r->legs[i].used || r->legs[i].parked) { close(r->legs[i].fd[0]); close(r->legs[i].fd[1]); }
    close(r->epfd);
    close(r->evfd);
  }
  free(r->legs);
  free(r->port_slot);
  free(r->q);
  free(r);
}

static relay *get_relay(napi_env env, napi_value v) {
  relay *r = NULL;
  if (napi_get_value_external(env, v, (void **)&r) != napi_ok || !r) {
    napi_throw_type_error(env, "ERR_MEDIA_NATIVE", "not a relay handle");
    return NULL;
  }
  if (r->closed) {
    napi_throw_error(env, "ERR_MEDIA_CLOSED", "relay is closed");
    return NULL;
  }
  return r;
}

static int get_leg_id(napi_env env, relay *r, napi_value v) {
  int32_t id = -1;
  if (napi_get_value_int32(env, v, &id) != napi_ok || id < 0 || id >= MAX_LEGS || !r->legs[id].used) {
    napi_throw_range_error(env, "ERR_MEDIA_LEG", "unknown leg id");
    return -1;
  }
  return id;
}

/* create(onPackets: (batch: Buffer) => void, coalesceUs: number, rtPriority: number) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t coalesce_us = 0, rt_priority = 0;
  if (argc > 1) napi_get_value_int32(env, argv[1], &coalesce_us);
  if (argc > 2) napi_get_value_int32(env, argv[2], &rt_priority);
  relay *r = calloc(1, sizeof(relay));
  if (!r) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  r->legs = calloc(MAX_LEGS, sizeof(leg));
  r->port_slot = malloc(65536 * sizeof(int));
  if (!r->legs || !r->port_slot) {
    free(r->legs);
    free(r->port_slot);
    free(r);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (int i = 0; i < 65536; i++) r->port_slot[i] = -1;
  struct rlimit nofile;
  r->max_parked = MAX_PARKED;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur / 4 < MAX_PARKED)
    r->max_parked = (int)(nofile.rlim_cur / 4);
  r->coalesce_ns = (long)coalesce_us * 1000L;
  r->rt_priority = rt_priority > 0 && rt_priority < 100 ? rt_priority : 0;
  pthread_mutex_init(&r->mu, NULL);
  pthread_mutex_init(&r->qmu, NULL);
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev);
  napi_value name;
  CHECK(napi_create_string_utf8(env, "media-relay", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, r, call_js, &r->tsfn));
  CHECK(napi_unref_threadsafe_function(env, r->tsfn));
  if (pthread_create(&r->thread, NULL, relay_thread, r) != 0) {
    napi_throw_error(env, "ERR_MEDIA_THREAD", "cannot start relay thread");
    return NULL;
  }
  r->started = 1;
  napi_value ext;
  CHECK(napi_create_external(env, r, relay_finalize, NULL, &ext));
  return ext;
}

static int open_udp(const struct in_addr *ip, int port, int *err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { *err = errno; return -1; }
  int sz = 256 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = *ip};
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) { *err = errno; close(fd); return -1; }
  return fd;
}

/* Really closes a parked pair (mu held). */
static void unpark(relay *r, int id) {
  leg *l = &r->legs[id];
  for (int k = 0; k < 2; k++) {
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, l->fd[k], NULL);
    close(l->fd[k]);
  }
  if (l->port >= 0 && l->port < 65536 && r->port_slot[l->port] == id) r->port_slot[l->port] = -1;
  l->parked = 0;
  r->parked_count--;
}

/* Reads and drops whatever waits on a socket (mu held): a parked pair is handed to a new leg empty. */
static void drain(int fd) {
  static __thread uint8_t buf[PKT_MAX];
  for (int i = 0; i < 4096; i++)
    if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0) break;
}

/* Removes the packets of a closed leg still queued for JS (qmu not held): its slot may soon serve
   another leg, which must not get them. */
static void purge_queue(relay *r, int id) {
  pthread_mutex_lock(&r->qmu);
  size_t in = 0, out = 0;
  while (in + 16 <= r->qlen) {
    uint32_t uid;
    uint16_t len;
    memcpy(&uid, r->q + in, 4);
    memcpy(&len, r->q + in + 6, 2);
    size_t n = 16 + (size_t)len;
    if (uid != (uint32_t)id) {
      if (out != in) memmove(r->q + out, r->q + in, n);
      out += n;
    }
    in += n;
  }
  r->qlen = out;
  pthread_mutex_unlock(&r->qmu);
}

static void init_leg(leg *l, int f0, int f1, int port, uint32_t ip) {
  memset(l, 0, sizeof(*l));
  l->used = 1;
  l->fd[0] = f0;
  l->fd[1] = f1;
  l->port = port;
  l->bind_ip = ip;
  l->peer = -1;
  l->mode = MODE_DROP;
  l->can_send = 1;
  l->dtmf_pt = -1;
  l->clock_rate = 8000;
}

/* openLeg(h, ip, rtpPort) -> id; binds rtpPort and rtpPort+1 (or reuses the pair parked on them);
   throws {code:'EADDRINUSE'} etc. */
static napi_value js_open_leg(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  char ip[64];
  size_t iplen;
  int32_t port;
  CHECK(napi_get_value_string_utf8(env, argv[1], ip, sizeof(ip), &iplen));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  struct in_addr addr;
  if (inet_pton(AF_INET, ip, &addr) != 1 || port < 0 || port > 65534) {
    napi_throw_error(env, "ERR_MEDIA_BIND", strerror(EINVAL));
    return NULL;
  }
  napi_value out;
  pthread_mutex_lock(&r->mu);
  int s = r->port_slot[port];
  if (s >= 0 && r->legs[s].parked) {
    leg *l = &r->legs[s];
    if (l->bind_ip == addr.s_addr) {
      /* the pair is still bound and in epoll under this slot: only its leftovers must go */
      drain(l->fd[0]);
      drain(l->fd[1]);
      init_leg(l, l->fd[0], l->fd[1], port, addr.s_addr);
      r->port_slot[port] = -1;
      r->parked_count--;
      r->reused++;
      pthread_mutex_unlock(&r->mu);
      CHECK(napi_create_int32(env, s, &out));
      return out;
    }
    unpark(r, s); /* bound to another address: let the fresh bind below have the port */
  }
  pthread_mutex_unlock(&r->mu);
  int err = 0;
  int f0 = -1, f1 = -1;
  for (int attempt = 0; attempt < 2; attempt++) {
    err = 0;
    f0 = open_udp(&addr, port, &err);
    f1 = f0 >= 0 ? open_udp(&addr, port + 1, &err) : -1;
    if (f0 >= 0 && f1 >= 0) break;
    if (f0 >= 0) close(f0);
    f0 = f1 = -1;
    if ((err != EMFILE && err != ENFILE) || attempt > 0) break;
    /* out of descriptors: parked pairs are only a cache, give some back and try once more */
    pthread_mutex_lock(&r->mu);
    for (int i = 0, freed = 0; i < MAX_LEGS && freed < 64 && r->parked_count > 0; i++)
      if (r->legs[i].parked) { unpark(r, i); freed++; }
    pthread_mutex_unlock(&r->mu);
  }
  if (f0 < 0 || f1 < 0) {
    napi_throw_error(env, err == EADDRINUSE ? "EADDRINUSE" : "ERR_MEDIA_BIND", strerror(err));
    return NULL;
  }
  pthread_mutex_lock(&r->mu);
  int id = -1;
  for (int i = 0; i < MAX_LEGS; i++) {
    int c = (r->next_hint + i) % MAX_LEGS;
    if (!r->legs[c].used && !r->legs[c].parked) { id = c; break; }
  }
  if (id < 0) {
    pthread_mutex_unlock(&r->mu);
    close(f0);
    close(f1);
    napi_throw_error(env, "ERR_MEDIA_LEGS", "too many legs");
    return NULL;
  }
  r->next_hint = (id + 1) % MAX_LEGS;
  leg *l = &r->legs[id];
  init_leg(l, f0, f1, port, addr.s_addr);
  for (int k = 0; k < 2; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)id << 1) | (uint64_t)k};
    epoll_ctl(r->epfd, EPOLL_CTL_ADD, l->fd[k], &ev);
  }
  pthread_mutex_unlock(&r->mu);
  CHECK(napi_create_int32(env, id, &out));
  return out;
}

static napi_value js_close_leg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  int id = get_leg_id(env, r, argv[1]);
  if (id < 0) return NULL;
  pthread_mutex_lock(&r->mu);
  leg *l = &r->legs[id];
  if (l->peer >= 0) {
    leg *p = &r->legs[l->peer];
    p->refs--;
    /* The usual case, a bridged pair: the partner points back. */
    if (p->used && p->peer == id) {
      p->peer = -1;
      l->refs--;
    }
  }
  /* Anyone else still routed to this leg: scanning all MAX_LEGS slots costs ~a ms per close. */
  for (int i = 0; l->refs > 0 && i < MAX_LEGS; i++)
    if (r->legs[i].used && r->legs[i].peer == id) {
      r->legs[i].peer = -1;
      l->refs--;
    }
  l->used = 0;
  l->mode = MODE_DROP;
  l->peer = -1;
  int p = l->port;
  if (r->parked_count < r->max_parked && p >= 0 && p < 65536 && r->port_slot[p] < 0) {
    /* kept bound: the relay thread drops what still arrives, the next leg on this port reuses it */
    l->parked = 1;
    r->port_slot[p] = id;
    r->parked_count++;
  } else {
    for (int k = 0; k < 2; k++) {
      epoll_ctl(r->epfd, EPOLL_CTL_DEL, l->fd[k], NULL);
      close(l->fd[k]);
    }
  }
  pthread_mutex_unlock(&r->mu);
  purge_queue(r, id);
  return NULL;
}

/* pool(h) -> { parked, reused }: the parked socket pairs and how many legs reused one */
static napi_value js_pool(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  pthread_mutex_lock(&r->mu);
  double parked = r->parked_count, reused = (double)r->reused;
  pthread_mutex_unlock(&r->mu);
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_double(env, parked, &v));
  CHECK(napi_set_named_property(env, o, "parked", v));
  CHECK(napi_create_double(env, reused, &v));
  CHECK(napi_set_named_property(env, o, "reused", v));
  return o;
}

/* setRemote(h, id, ip, rtpPort, rtcpPort, canSend, dtmfPt, clockRate); ip '' = unknown. Clears the latch. */
static napi_value js_set_remote(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  int id = get_leg_id(env, r, argv[1]);
  if (id < 0) return NULL;
  char ip[64];
  size_t iplen;
  int32_t port, rport, can_send, dtmf, rate;
  CHECK(napi_get_value_string_utf8(env, argv[2], ip, sizeof(ip), &iplen));
  CHECK(napi_get_value_int32(env, argv[3], &port));
  CHECK(napi_get_value_int32(env, argv[4], &rport));
  CHECK(napi_get_value_int32(env, argv[5], &can_send));
  CHECK(napi_get_value_int32(env, argv[6], &dtmf));
  CHECK(napi_get_value_int32(env, argv[7], &rate));
  struct sockaddr_in a = {.sin_family = AF_INET};
  int known = iplen > 0 && inet_pton(AF_INET, ip, &a.sin_addr) == 1 && port > 0 && port < 65536;
  pthread_mutex_lock(&r->mu);
  leg *l = &r->legs[id];
  for (int k = 0; k < 2; k++) {
    memset(&l->sdp_remote[k], 0, sizeof(struct sockaddr_in));
    l->sdp_remote[k].sin_family = AF_INET;
    if (known) {
      l->sdp_remote[k] = a;
      l->sdp_remote[k].sin_port = htons((uint16_t)(k == 0 ? port : (rport > 0 ? rport : port + 1)));
    }
    l->remote[k] = l->sdp_remote[k];
    l->latched[k] = 0;
  }
  l->can_send = can_send != 0;
  l->dtmf_pt = dtmf;
  l->clock_rate = rate > 0 ? (uint32_t)rate : 8000;
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* setRoute(h, id, mode, peerId) */
static napi_value js_set_route(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  int id = get_leg_id(env, r, argv[1]);
  if (id < 0) return NULL;
  int32_t mode, peer;
  CHECK(napi_get_value_int32(env, argv[2], &mode));
  CHECK(napi_get_value_int32(env, argv[3], &peer));
  if (mode < 0 || mode > 2 || peer < -1 || peer >= MAX_LEGS || (peer >= 0 && !r->legs[peer].used)) {
    napi_throw_range_error(env, "ERR_MEDIA_ROUTE", "bad mode or peer");
    return NULL;
  }
  pthread_mutex_lock(&r->mu);
  r->legs[id].mode = mode;
  if (r->legs[id].peer >= 0) r->legs[r->legs[id].peer].refs--;
  r->legs[id].peer = peer;
  if (peer >= 0) r->legs[peer].refs++;
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

/* send(h, id, kind 0=RTP 1=RTCP, buf) -> boolean (false: no remote known / not allowed) */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  int id = get_leg_id(env, r, argv[1]);
  if (id < 0) return NULL;
  int32_t k;
  CHECK(napi_get_value_int32(env, argv[2], &k));
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[3], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_MEDIA_SEND", "expected a Buffer");
    return NULL;
  }
  k = k ? 1 : 0;
  pthread_mutex_lock(&r->mu);
  leg *l = &r->legs[id];
  struct sockaddr_in dst = l->remote[k];
  int fd = l->fd[k];
  int ok = dst.sin_port != 0 && (k == 1 || l->can_send);
  if (ok) {
    if (k == 0) { l->pkts_out++; l->bytes_out += len; } else l->rtcp_out++;
  }
  pthread_mutex_unlock(&r->mu);
  if (ok) ok = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&dst, sizeof(dst)) == (ssize_t)len;
  napi_value out;
  CHECK(napi_get_boolean(env, ok, &out));
  return out;
}

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, o, k, n);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  int id = get_leg_id(env, r, argv[1]);
  if (id < 0) return NULL;
  pthread_mutex_lock(&r->mu);
  leg l = r->legs[id];
  pthread_mutex_unlock(&r->mu);
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "packetsIn", (double)l.pkts_in);
  set_num(env, o, "bytesIn", (double)l.bytes_in);
  set_num(env, o, "packetsOut", (double)l.pkts_out);
  set_num(env, o, "bytesOut", (double)l.bytes_out);
  set_num(env, o, "rtcpIn", (double)l.rtcp_in);
  set_num(env, o, "rtcpOut", (double)l.rtcp_out);
  double expected = l.st.have ? (double)(l.st.cycles + l.st.max_seq) - (double)l.st.base_seq + 1 : 0;
  double lost = expected - (double)l.st.received;
  set_num(env, o, "expected", expected);
  set_num(env, o, "lost", lost > 0 ? lost : 0);
  set_num(env, o, "jitter", l.st.jitter);
  set_num(env, o, "ssrc", (double)l.st.ssrc);
  set_num(env, o, "extendedMaxSeq", (double)(l.st.cycles + l.st.max_seq));
  set_num(env, o, "droppedForeign", (double)l.dropped_foreign);
  set_num(env, o, "droppedNoRoute", (double)l.dropped_no_route);
  set_num(env, o, "droppedMalformed", (double)l.dropped_malformed);
  set_num(env, o, "jsDropped", (double)l.js_dropped);
  set_num(env, o, "relatches", (double)l.relatches);
  set_num(env, o, "latched", l.latched[0]);
  char ip[INET_ADDRSTRLEN] = "";
  if (l.remote[0].sin_port) inet_ntop(AF_INET, &l.remote[0].sin_addr, ip, sizeof(ip));
  napi_value s;
  napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "remoteIp", s);
  set_num(env, o, "remotePort", ntohs(l.remote[0].sin_port));
  return o;
}

/* realtime(h) -> 0 granted or not asked, else the errno of the SCHED_RR request (EPERM without CAP_SYS_NICE) */
static napi_value js_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = get_relay(env, argv[0]);
  if (!r) return NULL;
  napi_value out;
  CHECK(napi_create_int32(env, r->rt_error, &out));
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  relay *r = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || !r) return NULL;
  relay_shutdown(r);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"create", 0, js_create, 0, 0, 0, napi_enumerable, 0},
      {"openLeg", 0, js_open_leg, 0, 0, 0, napi_enumerable, 0},
      {"closeLeg", 0, js_close_leg, 0, 0, 0, napi_enumerable, 0},
      {"setRemote", 0, js_set_remote, 0, 0, 0, napi_enumerable, 0},
      {"setRoute", 0, js_set_route, 0, 0, 0, napi_enumerable, 0},
      {"send", 0, js_send, 0, 0, 0, napi_enumerable, 0},
      {"stats", 0, js_stats, 0, 0, 0, napi_enumerable, 0},
      {"pool", 0, js_pool, 0, 0, 0, napi_enumerable, 0},
      {"realtime", 0, js_realtime, 0, 0, 0, napi_enumerable, 0},
      {"close", 0, js_close, 0, 0, 0, napi_enumerable, 0},
  };
  napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
