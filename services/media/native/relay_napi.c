/*
 * N-API binding of the relay core (relay_core.c): argument checks at the boundary, errors as
 * JavaScript exceptions with a code, packets for JS through one thread-safe function.
 *
 * Lifetime: the handle (an external) and the thread-safe function each hold a reference on the
 * binding; the core is freed when both are gone, so a call queued on the thread-safe function
 * never runs on freed memory. The relay thread is joined before the thread-safe function is
 * released, so it never calls into a finalized one.
 */
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay_core.h"

typedef struct {
  rc_relay *core;
  napi_threadsafe_function tsfn;
  int refs;          /* external + tsfn */
  int tsfn_released; /* released by us (close or the external's finalizer) */
  int closed;
} binding;

#define DIED ((void *)1)

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, "ERR_MEDIA_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

static void unref_binding(binding *b) {
  if (--b->refs > 0) return;
  rc_free(b->core);
  free(b);
}

static void throw_errno(napi_env env, int err) {
  const char *code = err == EADDRINUSE ? "EADDRINUSE"
                     : err == EINVAL   ? "ERR_MEDIA_ARG"
                     : err == ENOSPC   ? "ERR_MEDIA_LEGS"
                     : err == EPIPE    ? "ERR_MEDIA_DEAD"
                                       : "ERR_MEDIA_BIND";
  const char *msg = err == ENOSPC ? "too many legs" : err == EPIPE ? "the relay thread has stopped" : strerror(err);
  if (err == EINVAL) napi_throw_range_error(env, code, msg);
  else napi_throw_error(env, code, msg);
}

/* relay thread: the queue for JS became non-empty */
static void on_notify(void *ctx) {
  binding *b = ctx;
  napi_call_threadsafe_function(b->tsfn, NULL, napi_tsfn_nonblocking);
}

/* relay thread: it exits on an error */
static void on_died(void *ctx, int err) {
  (void)err;
  binding *b = ctx;
  napi_call_threadsafe_function(b->tsfn, DIED, napi_tsfn_nonblocking);
}

/* JS thread: onPackets(batch: Buffer) or, when the relay thread died, onPackets(errno: number) */
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  binding *b = ctx;
  if (!env || !cb || b->closed) return;
  napi_value arg, undef;
  if (data == DIED) {
    if (napi_create_int32(env, rc_dead(b->core), &arg) != napi_ok) return;
  } else {
    uint8_t *q = NULL;
    size_t len = rc_take_queue(b->core, &q);
    if (len == 0) return;
    void *dst;
    napi_status st = napi_create_buffer_copy(env, len, q, &dst, &arg);
    free(q);
    if (st != napi_ok) return;
  }
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, cb, 1, &arg, NULL);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  binding *b = data;
  rc_stop(b->core); /* at environment teardown the thread may still run: it must not call us again */
  unref_binding(b);
}

static void shutdown_binding(binding *b) {
  if (b->closed) return;
  b->closed = 1;
  rc_stop(b->core); /* joins the relay thread first */
  if (!b->tsfn_released) {
    b->tsfn_released = 1;
    napi_release_threadsafe_function(b->tsfn, napi_tsfn_abort);
  }
}

static void external_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  binding *b = data;
  shutdown_binding(b);
  unref_binding(b);
}

static binding *get_binding(napi_env env, napi_value v, int open) {
  binding *b = NULL;
  if (napi_get_value_external(env, v, (void **)&b) != napi_ok || !b) {
    napi_throw_type_error(env, "ERR_MEDIA_NATIVE", "not a relay handle");
    return NULL;
  }
  if (open && b->closed) {
    napi_throw_error(env, "ERR_MEDIA_CLOSED", "relay is closed");
    return NULL;
  }
  return b;
}

static int get_int(napi_env env, napi_value v, const char *what, int32_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      d != (double)(int32_t)d) {
    napi_throw_type_error(env, "ERR_MEDIA_ARG", what);
    return 0;
  }
  *out = (int32_t)d;
  return 1;
}

static int get_leg_id(napi_env env, binding *b, napi_value v) {
  int32_t id;
  if (!get_int(env, v, "leg id must be an integer", &id)) return -1;
  if (!rc_leg_open(b->core, id)) {
    napi_throw_range_error(env, "ERR_MEDIA_LEG", "unknown leg id");
    return -1;
  }
  return id;
}

/* A call's arguments: at least `need` (else a TypeError showing `usage`), argv[0] a relay handle
   (open unless `open` is 0). NULL with an exception pending on any failure. */
static binding *call_args(napi_env env, napi_callback_info info, size_t need, napi_value *argv, const char *usage, int open) {
  size_t argc = need;
  for (size_t i = 0; i < need; i++) argv[i] = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_MEDIA_NATIVE", "N-API call failed: napi_get_cb_info");
    return NULL;
  }
  if (argc < need) {
    napi_throw_type_error(env, "ERR_MEDIA_ARG", usage);
    return NULL;
  }
  return get_binding(env, argv[0], open);
}

/* The same, with argv[1] the id of an open leg: the id, or -1 with an exception pending. */
static int leg_args(napi_env env, napi_callback_info info, size_t need, napi_value *argv, const char *usage, binding **b) {
  *b = call_args(env, info, need, argv, usage, 1);
  return *b ? get_leg_id(env, *b, argv[1]) : -1;
}

/* "" -> 0 (unknown); a dotted IPv4 -> its address; else throws */
static int get_ipv4(napi_env env, napi_value v, int allow_empty, uint32_t *ip) {
  char s[64];
  size_t n;
  if (napi_get_value_string_utf8(env, v, s, sizeof(s), &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_MEDIA_ARG", "address must be a string");
    return 0;
  }
  if (n == 0 && allow_empty) {
    *ip = 0;
    return 1;
  }
  struct in_addr a;
  if (n >= sizeof(s) - 1 || inet_pton(AF_INET, s, &a) != 1) {
    napi_throw_range_error(env, "ERR_MEDIA_ARG", "not an IPv4 address");
    return 0;
  }
  *ip = a.s_addr;
  return 1;
}

/* create(onPackets, coalesceUs, rtPriority, learnMs, threads, nice) (nice: a number, or null = keep the process's) */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 6 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_MEDIA_ARG", "create(onPackets, coalesceUs, rtPriority, learnMs, threads, nice)");
    return NULL;
  }
  int32_t coalesce_us, rt_priority, learn_ms, threads, nice = 0;
  napi_valuetype nt;
  if (napi_typeof(env, argv[5], &nt) != napi_ok) return NULL;
  int use_nice = nt != napi_null && nt != napi_undefined;
  if (use_nice && !get_int(env, argv[5], "nice must be an integer or null", &nice)) return NULL;
  if (!get_int(env, argv[1], "coalesceUs must be an integer", &coalesce_us) ||
      !get_int(env, argv[2], "rtPriority must be an integer", &rt_priority) ||
      !get_int(env, argv[3], "learnMs must be an integer", &learn_ms) ||
      !get_int(env, argv[4], "threads must be an integer", &threads))
    return NULL;
  if (coalesce_us < 0 || coalesce_us > 10000 || rt_priority < 0 || rt_priority > 99 || learn_ms < 0 || learn_ms > 60000 ||
      threads < 0 || threads > 8 || nice < -20 || nice > 19) {
    napi_throw_range_error(env, "ERR_MEDIA_ARG", "coalesceUs 0..10000, rtPriority 0..99, learnMs 0..60000, threads 0..8, nice -20..19");
    return NULL;
  }
  binding *b = calloc(1, sizeof(*b));
  if (!b) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  rc_config cfg = {.coalesce_ns = (long)coalesce_us * 1000L, .rt_priority = rt_priority, .learn_ns = (int64_t)learn_ms * 1000000LL,
                   .threads = threads, .use_nice = use_nice, .nice = nice};
  rc_hooks hooks = {.notify = on_notify, .died = on_died, .ctx = b};
  int err = rc_create(&b->core, &cfg, &hooks);
  if (err) {
    free(b);
    throw_errno(env, err);
    return NULL;
  }
  napi_value name, ext;
  if (napi_create_string_utf8(env, "media-relay", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, b, tsfn_finalize, b, call_js, &b->tsfn) != napi_ok) {
    rc_free(b->core);
    free(b);
    napi_throw_error(env, "ERR_MEDIA_NATIVE", "cannot create the relay's thread-safe function");
    return NULL;
  }
  b->refs = 1; /* the tsfn's; its finalizer drops it */
  napi_unref_threadsafe_function(env, b->tsfn);
  if (napi_create_external(env, b, external_finalize, NULL, &ext) != napi_ok) {
    /* the tsfn's finalizer frees everything once released */
    b->closed = 1;
    b->tsfn_released = 1;
    napi_release_threadsafe_function(b->tsfn, napi_tsfn_abort);
    napi_throw_error(env, "ERR_MEDIA_NATIVE", "cannot create the relay handle");
    return NULL;
  }
  b->refs++;
  if ((err = rc_start(b->core)) != 0) {
    shutdown_binding(b); /* the external's finalizer frees it later */
    napi_throw_error(env, "ERR_MEDIA_THREAD", strerror(err));
    return NULL;
  }
  return ext;
}

/* openLeg(h, ip, rtpPort) -> id; rtpPort even, 2..65534 */
static napi_value js_open_leg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  binding *b = call_args(env, info, 3, argv, "openLeg(h, ip, rtpPort)", 1);
  if (!b) return NULL;
  uint32_t ip;
  int32_t port;
  if (!get_ipv4(env, argv[1], 0, &ip) || !get_int(env, argv[2], "port must be an integer", &port)) return NULL;
  if (port < 2 || port > 65534 || (port & 1)) {
    napi_throw_range_error(env, "ERR_MEDIA_ARG", "RTP port must be even, 2..65534 (RTCP takes the odd port above)");
    return NULL;
  }
  int id;
  int err = rc_open_leg(b->core, ip, port, &id);
  if (err) {
    throw_errno(env, err);
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_int32(env, id, &out));
  return out;
}

static napi_value js_close_leg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  binding *b;
  int id = leg_args(env, info, 2, argv, "closeLeg(h, id)", &b);
  if (id < 0) return NULL;
  rc_close_leg(b->core, id);
  return NULL;
}

/* pool(h) -> { parked, reused } */
static napi_value js_pool(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  binding *b = call_args(env, info, 1, argv, "pool(h)", 1);
  if (!b) return NULL;
  int parked;
  uint64_t reused;
  rc_pool(b->core, &parked, &reused);
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_double(env, parked, &v));
  CHECK(napi_set_named_property(env, o, "parked", v));
  CHECK(napi_create_double(env, (double)reused, &v));
  CHECK(napi_set_named_property(env, o, "reused", v));
  return o;
}

/* setRemote(h, id, ip, rtpPort, rtcpPort, canSend, dtmfPt, clockRate); ip '' = unknown */
static napi_value js_set_remote(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  binding *b;
  int id = leg_args(env, info, 8, argv, "setRemote(h, id, ip, rtpPort, rtcpPort, canSend, dtmfPt, clockRate)", &b);
  if (id < 0) return NULL;
  uint32_t ip;
  int32_t port, rport, can_send, dtmf, rate;
  if (!get_ipv4(env, argv[2], 1, &ip) || !get_int(env, argv[3], "rtpPort must be an integer", &port) ||
      !get_int(env, argv[4], "rtcpPort must be an integer", &rport) ||
      !get_int(env, argv[5], "canSend must be 0 or 1", &can_send) || !get_int(env, argv[6], "dtmfPt must be an integer", &dtmf) ||
      !get_int(env, argv[7], "clockRate must be an integer", &rate))
    return NULL;
  if (rate < 0) {
    napi_throw_range_error(env, "ERR_MEDIA_ARG", "clockRate must be positive");
    return NULL;
  }
  int err = rc_set_remote(b->core, id, ip, port, rport, can_send, dtmf, (uint32_t)rate);
  if (err) throw_errno(env, err);
  return NULL;
}

/* setRoute(h, id, mode, peerId) */
static napi_value js_set_route(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  binding *b;
  int id = leg_args(env, info, 4, argv, "setRoute(h, id, mode, peer)", &b);
  if (id < 0) return NULL;
  int32_t mode, peer;
  if (!get_int(env, argv[2], "mode must be an integer", &mode) || !get_int(env, argv[3], "peer must be an integer", &peer))
    return NULL;
  int err = rc_set_route(b->core, id, mode, peer);
  if (err == EINVAL) napi_throw_range_error(env, "ERR_MEDIA_ROUTE", "bad mode or peer");
  else if (err) throw_errno(env, err);
  return NULL;
}

/* learn(h, id): our SDP went to this leg's phone, its learning window (re)opens */
static napi_value js_learn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  binding *b;
  int id = leg_args(env, info, 2, argv, "learn(h, id)", &b);
  if (id < 0) return NULL;
  int err = rc_learn(b->core, id);
  if (err) throw_errno(env, err);
  return NULL;
}

/* setEvents(h, id, on): relayed telephone-events of this leg are also copied to JS (kind 2) */
static napi_value js_set_events(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  binding *b;
  int id = leg_args(env, info, 3, argv, "setEvents(h, id, on)", &b);
  if (id < 0) return NULL;
  int on;
  if (!get_int(env, argv[2], "on must be 0 or 1", &on)) return NULL;
  int err = rc_set_events(b->core, id, on);
  if (err) throw_errno(env, err);
  return NULL;
}

/* send(h, id, kind 0=RTP 1=RTCP, buf) -> boolean (false: no remote known / not allowed / not sent) */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  binding *b;
  int id = leg_args(env, info, 4, argv, "send(h, id, kind, buffer)", &b);
  if (id < 0) return NULL;
  int32_t k;
  if (!get_int(env, argv[2], "kind must be 0 or 1", &k)) return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[3], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_MEDIA_SEND", "expected a Buffer");
    return NULL;
  }
  napi_value out;
  CHECK(napi_get_boolean(env, len <= RC_PKT_MAX && rc_send(b->core, id, k ? 1 : 0, data, len) == 1, &out));
  return out;
}

static void set_num(napi_env env, napi_value o, const char *k, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, o, k, n);
}

static void set_addr(napi_env env, napi_value o, const char *ipk, const char *portk, const struct sockaddr_in *a) {
  char ip[INET_ADDRSTRLEN] = "";
  if (a->sin_port) inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
  napi_value s;
  napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, ipk, s);
  set_num(env, o, portk, ntohs(a->sin_port));
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  binding *b;
  int id = leg_args(env, info, 2, argv, "stats(h, id)", &b);
  if (id < 0) return NULL;
  rc_stats s;
  rc_stats_get(b->core, id, &s);
  napi_value o;
  CHECK(napi_create_object(env, &o));
  set_num(env, o, "packetsIn", (double)s.pkts_in);
  set_num(env, o, "bytesIn", (double)s.bytes_in);
  set_num(env, o, "packetsOut", (double)s.pkts_out);
  set_num(env, o, "bytesOut", (double)s.bytes_out);
  set_num(env, o, "rtcpIn", (double)s.rtcp_in);
  set_num(env, o, "rtcpOut", (double)s.rtcp_out);
  set_num(env, o, "expected", s.expected);
  set_num(env, o, "lost", s.lost);
  set_num(env, o, "jitter", s.jitter);
  set_num(env, o, "ssrc", (double)s.ssrc);
  set_num(env, o, "extendedMaxSeq", (double)s.ext_max_seq);
  set_num(env, o, "droppedForeign", (double)s.dropped_foreign);
  set_num(env, o, "droppedNoRoute", (double)s.dropped_no_route);
  set_num(env, o, "droppedMalformed", (double)s.dropped_malformed);
  set_num(env, o, "droppedOversize", (double)s.dropped_oversize);
  set_num(env, o, "droppedSend", (double)s.dropped_send);
  set_num(env, o, "jsDropped", (double)s.js_dropped);
  set_num(env, o, "relatches", (double)s.relatches);
  set_num(env, o, "latched", s.latched);
  set_num(env, o, "rtcpLatched", s.rtcp_latched);
  set_num(env, o, "rtcpMux", s.rtcp_mux);
  set_num(env, o, "learning", s.learning);
  set_addr(env, o, "remoteIp", "remotePort", &s.remote[0]);
  set_addr(env, o, "remoteRtcpIp", "remoteRtcpPort", &s.remote[1]);
  return o;
}

/* One errno-valued query of the relay: 0 = all well. */
static napi_value errno_query(napi_env env, napi_callback_info info, const char *usage, int (*query)(rc_relay *)) {
  napi_value argv[1];
  binding *b = call_args(env, info, 1, argv, usage, 1);
  if (!b) return NULL;
  napi_value out;
  CHECK(napi_create_int32(env, query(b->core), &out));
  return out;
}

/* realtime(h) -> 0 granted or not asked, else the errno of the SCHED_RR request */
static napi_value js_realtime(napi_env env, napi_callback_info info) { return errno_query(env, info, "realtime(h)", rc_rt_error); }

/* nice(h) -> 0 applied, not asked or SCHED_RR held, else the errno of the setpriority refusal */
static napi_value js_nice(napi_env env, napi_callback_info info) { return errno_query(env, info, "nice(h)", rc_nice_error); }

/* dead(h) -> 0 while the relay thread runs, else the errno it died of */
static napi_value js_dead(napi_env env, napi_callback_info info) { return errno_query(env, info, "dead(h)", rc_dead); }

/* breakEpoll(h): the relay thread's epoll_wait fails from now on (tests of the death path) */
static napi_value js_break_epoll(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  binding *b = call_args(env, info, 1, argv, "breakEpoll(h)", 1);
  if (!b) return NULL;
  int err = rc_break_epoll(b->core);
  if (err) throw_errno(env, err);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  binding *b = call_args(env, info, 1, argv, "close(h)", 0);
  if (!b) return NULL;
  shutdown_binding(b);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"create", 0, js_create, 0, 0, 0, napi_enumerable, 0},
      {"openLeg", 0, js_open_leg, 0, 0, 0, napi_enumerable, 0},
      {"closeLeg", 0, js_close_leg, 0, 0, 0, napi_enumerable, 0},
      {"setRemote", 0, js_set_remote, 0, 0, 0, napi_enumerable, 0},
      {"setRoute", 0, js_set_route, 0, 0, 0, napi_enumerable, 0},
      {"learn", 0, js_learn, 0, 0, 0, napi_enumerable, 0},
      {"setEvents", 0, js_set_events, 0, 0, 0, napi_enumerable, 0},
      {"send", 0, js_send, 0, 0, 0, napi_enumerable, 0},
      {"stats", 0, js_stats, 0, 0, 0, napi_enumerable, 0},
      {"pool", 0, js_pool, 0, 0, 0, napi_enumerable, 0},
      {"realtime", 0, js_realtime, 0, 0, 0, napi_enumerable, 0},
      {"nice", 0, js_nice, 0, 0, 0, napi_enumerable, 0},
      {"dead", 0, js_dead, 0, 0, 0, napi_enumerable, 0},
      {"breakEpoll", 0, js_break_epoll, 0, 0, 0, napi_enumerable, 0},
      {"close", 0, js_close, 0, 0, 0, napi_enumerable, 0},
  };
  napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
