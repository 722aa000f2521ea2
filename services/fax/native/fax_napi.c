/*
 * N-API binding of spandsp 0.0.6's fax terminal: T.30 over audio (fax_state_t, V.21/V.27ter/V.29/V.17
 * modems) or over T.38 (t38_terminal_state_t), pages read from / written to a TIFF-F file.
 * Deliberately small: no sockets, no threads, no timers. JS feeds 20 ms of received audio (or one
 * received IFP packet), asks for 20 ms of audio to send (or ticks the T.38 clock and collects the IFP
 * packets it produced), and reads the T.30 status. Everything runs on the JS thread.
 */
#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES 0
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <spandsp.h>

#define MAX_SAMPLES 8000
#define IDENT_MAX 21 /* T.30 §5.3.6.2.4: 20 characters */

typedef struct {
  int t38;                 /* 0: audio (fax_state_t), 1: T.38 terminal */
  fax_state_t *fax;
  t38_terminal_state_t *term;
  t38_gateway_state_t *gw; /* a T.38 gateway: T.30 audio on one side, T.38 on the other (no T.30 of ours) */
  t30_state_t *t30;
  int phase_e;             /* the call's T.30 part is over */
  int result;              /* T30_ERR_* at phase E */
  /* IFP packets produced by the T.38 terminal since JS last took them: [u16 len][u8 count][bytes]... */
  uint8_t *queue;
  size_t queue_len, queue_cap;
  int queue_overflow;
  int closed;
} session;

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "ERR_FAX_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static void phase_e_handler(t30_state_t *t30, void *user, int completion) {
  session *s = user;
  s->phase_e = 1;
  s->result = completion;
}

static int tx_packet_handler(t38_core_state_t *core, void *user, const uint8_t *buf, int len, int count) {
  session *s = user;
  if (len < 0 || len > 65535) return -1;
  size_t need = s->queue_len + 3 + (size_t)len;
  if (need > 1 << 20) { /* JS stopped collecting: never grow without bound */
    s->queue_overflow++;
    return -1;
  }
  if (need > s->queue_cap) {
    size_t cap = s->queue_cap ? s->queue_cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *q = realloc(s->queue, cap);
    if (!q) return -1;
    s->queue = q;
    s->queue_cap = cap;
  }
  uint8_t *p = s->queue + s->queue_len;
  p[0] = (uint8_t)(len & 0xff);
  p[1] = (uint8_t)(len >> 8);
  p[2] = (uint8_t)(count < 1 ? 1 : count > 255 ? 255 : count);
  memcpy(p + 3, buf, (size_t)len);
  s->queue_len = need;
  return 0;
}

static void free_session(session *s) {
  if (s->fax) fax_free(s->fax);
  if (s->term) t38_terminal_free(s->term);
  if (s->gw) t38_gateway_free(s->gw);
  s->fax = NULL;
  s->term = NULL;
  s->gw = NULL;
  s->t30 = NULL;
  free(s->queue);
  s->queue = NULL;
  s->closed = 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  session *s = data;
  if (!s->closed) free_session(s);
  free(s);
}

static session *unwrap(napi_env env, napi_value v) {
  session *s = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, "ERR_FAX_ARG", "not a fax session");
    return NULL;
  }
  if (s->closed) {
    napi_throw_error(env, "ERR_FAX_CLOSED", "fax session is closed");
    return NULL;
  }
  return s;
}

/* A call's arguments: at least `need` (else a TypeError showing `usage`). 0, or -1 with an exception pending. */
static int call_args(napi_env env, napi_callback_info info, size_t need, napi_value *argv, const char *usage) {
  size_t argc = need;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_FAX_NATIVE", "N-API call failed: napi_get_cb_info");
    return -1;
  }
  if (argc < need) {
    napi_throw_type_error(env, "ERR_FAX_ARG", usage);
    return -1;
  }
  return 0;
}

/* The same, with argv[0] an open session: the session, or NULL with an exception pending. */
static session *session_args(napi_env env, napi_callback_info info, size_t need, napi_value *argv, const char *usage) {
  return call_args(env, info, need, argv, usage) ? NULL : unwrap(env, argv[0]);
}

/* A new session handed to JS; on failure it is freed and an exception is pending. */
static napi_value wrap_session(napi_env env, session *s) {
  napi_value out;
  if (napi_create_external(env, s, finalize, NULL, &out) != napi_ok) {
    free_session(s);
    free(s);
    napi_throw_error(env, "ERR_FAX_NATIVE", "napi_create_external failed");
    return NULL;
  }
  return out;
}

/* T.38 §D.2.3: transferredTCF (2, what UDPTL peers use) or localTCF (1), as the SDP agreed. */
static void t38_core_setup(t38_core_state_t *core, int local_tcf, int max_datagram) {
  t38_set_t38_version(core, 0);
  t38_set_data_rate_management_method(core, local_tcf ? 1 : 2);
  t38_set_fastest_image_data_rate(core, 14400);
  t38_set_max_datagram_size(core, max_datagram);
}

static session *new_session(napi_env env) {
  session *s = calloc(1, sizeof *s);
  if (!s) napi_throw_error(env, "ERR_FAX_NOMEM", "out of memory");
  else s->result = -1;
  return s;
}

static int check_max_datagram(napi_env env, int32_t max_datagram) {
  if (max_datagram >= 100 && max_datagram <= 1400) return 0;
  napi_throw_range_error(env, "ERR_FAX_ARG", "maxDatagram must be 100..1400");
  return -1;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_FAX_ARG", what);
    return -1;
  }
  return 0;
}

static int get_int(napi_env env, napi_value v, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_FAX_ARG", what);
    return -1;
  }
  return 0;
}

/*
 * open(t38: 0|1, callingParty: 0|1, send: 0|1, file: string, ident: string, ecm: 0|1,
 *      localTcf: 0|1, maxDatagram: number) -> external
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (call_args(env, info, 8, argv, "open(t38, callingParty, send, file, ident, ecm, localTcf, maxDatagram)")) return NULL;
  int32_t t38, calling, send, ecm, local_tcf, max_datagram;
  char file[4096], ident[64];
  if (get_int(env, argv[0], &t38, "t38 must be 0 or 1") || get_int(env, argv[1], &calling, "callingParty must be 0 or 1") ||
      get_int(env, argv[2], &send, "send must be 0 or 1") || get_string(env, argv[3], file, sizeof file, "file must be a string") ||
      get_string(env, argv[4], ident, sizeof ident, "ident must be a string") || get_int(env, argv[5], &ecm, "ecm must be 0 or 1") ||
      get_int(env, argv[6], &local_tcf, "localTcf must be 0 or 1") || get_int(env, argv[7], &max_datagram, "maxDatagram must be an integer") ||
      check_max_datagram(env, max_datagram))
    return NULL;
  if (file[0] == '\0') {
    napi_throw_range_error(env, "ERR_FAX_ARG", "file must not be empty");
    return NULL;
  }
  ident[IDENT_MAX - 1] = '\0';
  session *s = new_session(env);
  if (!s) return NULL;
  s->t38 = t38 != 0;
  if (s->t38) {
    s->term = t38_terminal_init(NULL, calling != 0, tx_packet_handler, s);
    if (s->term) {
      s->t30 = t38_terminal_get_t30_state(s->term);
      t38_core_setup(t38_terminal_get_t38_core_state(s->term), local_tcf, max_datagram);
      t38_terminal_set_config(s->term, 0);
      t38_terminal_set_tep_mode(s->term, 0);
      t38_terminal_set_fill_bit_removal(s->term, 0);
    }
  } else {
    s->fax = fax_init(NULL, calling != 0);
    if (s->fax) {
      s->t30 = fax_get_t30_state(s->fax);
      /* send silence when idle: the RTP stream stays continuous (jitter buffers, NAT, latching) */
      fax_set_transmit_on_idle(s->fax, 1);
      fax_set_tep_mode(s->fax, 0);
    }
  }
  if (!s->t30) {
    free_session(s);
    free(s);
    napi_throw_error(env, "ERR_FAX_INIT", "spandsp could not create the fax context");
    return NULL;
  }
  if (getenv("FAX_SPANDSP_LOG")) {
    /* diagnostics: spandsp's own protocol log on stderr */
    int level = SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_FLOW;
    span_log_set_level(t30_get_logging_state(s->t30), level);
    if (s->term) {
      span_log_set_level(t38_terminal_get_logging_state(s->term), level);
      span_log_set_level(t38_core_get_logging_state(t38_terminal_get_t38_core_state(s->term)), level);
    }
  }
  t30_set_tx_ident(s->t30, ident);
  t30_set_ecm_capability(s->t30, ecm != 0);
  t30_set_supported_modems(s->t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
  t30_set_supported_compressions(s->t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION);
  t30_set_phase_e_handler(s->t30, phase_e_handler, s);
  if (send) t30_set_tx_file(s->t30, file, -1, -1);
  else t30_set_rx_file(s->t30, file, -1);
  return wrap_session(env, s);
}

/*
 * gatewayOpen(ecm: 0|1, localTcf: 0|1, maxDatagram: number) -> external: spandsp's T.38 gateway, an
 * ATA's fax relay: the fax machine's T.30 audio (audioRx/audioTx) <-> T.38 IFP packets (t38Rx/t38Take).
 */
static napi_value js_gateway_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (call_args(env, info, 3, argv, "gatewayOpen(ecm, localTcf, maxDatagram)")) return NULL;
  int32_t ecm, local_tcf, max_datagram;
  if (get_int(env, argv[0], &ecm, "ecm must be 0 or 1") || get_int(env, argv[1], &local_tcf, "localTcf must be 0 or 1") ||
      get_int(env, argv[2], &max_datagram, "maxDatagram must be an integer") || check_max_datagram(env, max_datagram))
    return NULL;
  session *s = new_session(env);
  if (!s) return NULL;
  s->gw = t38_gateway_init(NULL, tx_packet_handler, s);
  if (!s->gw) {
    free(s);
    napi_throw_error(env, "ERR_FAX_INIT", "spandsp could not create the T.38 gateway");
    return NULL;
  }
  t38_core_state_t *core = t38_gateway_get_t38_core_state(s->gw);
  t38_core_setup(core, local_tcf, max_datagram);
  t38_gateway_set_transmit_on_idle(s->gw, 1);
  t38_gateway_set_supported_modems(s->gw, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
  t38_gateway_set_ecm_capability(s->gw, ecm != 0);
  t38_gateway_set_tep_mode(s->gw, 0);
  t38_gateway_set_fill_bit_removal(s->gw, 0);
  if (getenv("FAX_SPANDSP_LOG")) {
    int level = SPAN_LOG_SHOW_SEVERITY | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_FLOW;
    span_log_set_level(t38_gateway_get_logging_state(s->gw), level);
    span_log_set_level(t38_core_get_logging_state(core), level);
  }
  return wrap_session(env, s);
}

static int get_samples(napi_env env, napi_value v, int16_t **data, size_t *len) {
  napi_typedarray_type type;
  void *raw;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &raw, &ab, &off) != napi_ok || type != napi_int16_array) {
    napi_throw_type_error(env, "ERR_FAX_ARG", "samples must be an Int16Array");
    return -1;
  }
  if (*len > MAX_SAMPLES) {
    napi_throw_range_error(env, "ERR_FAX_ARG", "at most 8000 samples at a time");
    return -1;
  }
  *data = raw;
  return 0;
}

/* audioRx(h, Int16Array): received audio, 8 kHz linear */
static napi_value js_audio_rx(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  session *s = session_args(env, info, 2, argv, "audioRx(h, samples)");
  if (!s) return NULL;
  int16_t *amp;
  size_t len;
  if (get_samples(env, argv[1], &amp, &len)) return NULL;
  if (s->gw) {
    t38_gateway_rx(s->gw, amp, (int)len);
    return NULL;
  }
  if (!s->fax) {
    napi_throw_error(env, "ERR_FAX_MODE", "not an audio session");
    return NULL;
  }
  fax_rx(s->fax, amp, (int)len);
  return NULL;
}

/* audioTx(h, Int16Array) -> samples written (the rest is left as it was) */
static napi_value js_audio_tx(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  session *s = session_args(env, info, 2, argv, "audioTx(h, samples)");
  if (!s) return NULL;
  int16_t *amp;
  size_t len;
  if (get_samples(env, argv[1], &amp, &len)) return NULL;
  if (!s->fax && !s->gw) {
    napi_throw_error(env, "ERR_FAX_MODE", "not an audio session");
    return NULL;
  }
  int n = s->gw ? t38_gateway_tx(s->gw, amp, (int)len) : fax_tx(s->fax, amp, (int)len);
  napi_value out;
  CHECK(napi_create_int32(env, n < 0 ? 0 : n, &out));
  return out;
}

/* t38Rx(h, Buffer ifp, seq) -> 0 when accepted, -1 when spandsp refused the packet */
static napi_value js_t38_rx(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  session *s = session_args(env, info, 3, argv, "t38Rx(h, ifp, seq)");
  if (!s) return NULL;
  void *data;
  size_t len;
  int32_t seq;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len > 65535) {
    napi_throw_type_error(env, "ERR_FAX_ARG", "ifp must be a Buffer of at most 65535 bytes");
    return NULL;
  }
  if (get_int(env, argv[2], &seq, "seq must be an integer")) return NULL;
  if (!s->term && !s->gw) {
    napi_throw_error(env, "ERR_FAX_MODE", "not a T.38 session");
    return NULL;
  }
  t38_core_state_t *core = s->gw ? t38_gateway_get_t38_core_state(s->gw) : t38_terminal_get_t38_core_state(s->term);
  int r = t38_core_rx_ifp_packet(core, data, (int)len, (uint16_t)(seq & 0xffff));
  napi_value out;
  CHECK(napi_create_int32(env, r < 0 ? -1 : 0, &out));
  return out;
}

/* t38Tick(h, samples): the T.38 clock advanced by `samples` (8 kHz) */
static napi_value js_t38_tick(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  session *s = session_args(env, info, 2, argv, "t38Tick(h, samples)");
  if (!s) return NULL;
  int32_t samples;
  if (get_int(env, argv[1], &samples, "samples must be an integer")) return NULL;
  if (!s->term) {
    napi_throw_error(env, "ERR_FAX_MODE", "not a T.38 session");
    return NULL;
  }
  if (samples < 0 || samples > MAX_SAMPLES) {
    napi_throw_range_error(env, "ERR_FAX_ARG", "samples must be 0..8000");
    return NULL;
  }
  t38_terminal_send_timeout(s->term, samples);
  return NULL;
}

/* t38Take(h) -> Buffer of the IFP packets produced since the last call ([u16 LE len][u8 count][bytes]...) */
static napi_value js_t38_take(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  session *s = session_args(env, info, 1, argv, "t38Take(h)");
  if (!s) return NULL;
  napi_value out;
  void *dst;
  CHECK(napi_create_buffer_copy(env, s->queue_len, s->queue_len ? s->queue : (const uint8_t *)"", &dst, &out));
  s->queue_len = 0;
  return out;
}

static napi_status set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_status st = napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v);
  return st != napi_ok ? st : napi_set_named_property(env, obj, name, v);
}

static napi_status set_int(napi_env env, napi_value obj, const char *name, int value) {
  napi_value v;
  napi_status st = napi_create_int32(env, value, &v);
  return st != napi_ok ? st : napi_set_named_property(env, obj, name, v);
}

/* status(h) -> { done, result, resultText, pagesTx, pagesRx, pagesInFile, bitRate, ecm, remoteIdent, localIdent, overflow } */
static napi_value js_status(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  session *s = session_args(env, info, 1, argv, "status(h)");
  if (!s) return NULL;
  /* a gateway has no T.30 of its own: it reports what it relayed */
  int done = 0, result = -1, tx, rx, in_file = 0, bit_rate, ecm;
  const char *text = "", *remote = "", *local = "";
  if (s->gw) {
    t38_stats_t gs;
    memset(&gs, 0, sizeof gs);
    t38_gateway_get_transfer_statistics(s->gw, &gs);
    tx = rx = gs.pages_transferred;
    bit_rate = gs.bit_rate;
    ecm = gs.error_correcting_mode;
  } else {
    t30_stats_t st;
    memset(&st, 0, sizeof st);
    t30_get_transfer_statistics(s->t30, &st);
    done = s->phase_e;
    result = s->result;
    text = s->phase_e ? t30_completion_code_to_str(s->result) : "";
    tx = st.pages_tx;
    rx = st.pages_rx;
    in_file = st.pages_in_file;
    bit_rate = st.bit_rate;
    ecm = st.error_correcting_mode;
    remote = t30_get_rx_ident(s->t30);
    local = t30_get_tx_ident(s->t30);
  }
  napi_value out;
  CHECK(napi_create_object(env, &out));
  CHECK(set_int(env, out, "done", done));
  CHECK(set_int(env, out, "result", result));
  CHECK(set_str(env, out, "resultText", text));
  CHECK(set_int(env, out, "pagesTx", tx));
  CHECK(set_int(env, out, "pagesRx", rx));
  CHECK(set_int(env, out, "pagesInFile", in_file));
  CHECK(set_int(env, out, "bitRate", bit_rate));
  CHECK(set_int(env, out, "ecm", ecm));
  CHECK(set_str(env, out, "remoteIdent", remote));
  CHECK(set_str(env, out, "localIdent", local));
  CHECK(set_int(env, out, "overflow", s->queue_overflow));
  return out;
}

/* terminate(h): the call ended; T.30 closes its files (phase E runs if it had not) */
static napi_value js_terminate(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  session *s = session_args(env, info, 1, argv, "terminate(h)");
  if (!s) return NULL;
  if (s->t30) t30_terminate(s->t30);
  return NULL;
}

/* close(h): frees spandsp's state now (the external's finalizer frees the rest) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (call_args(env, info, 1, argv, "close(h)")) return NULL;
  session *s = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, "ERR_FAX_ARG", "not a fax session");
    return NULL;
  }
  if (!s->closed) free_session(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"gatewayOpen", NULL, js_gateway_open, NULL, NULL, NULL, napi_default, NULL},
    {"audioRx", NULL, js_audio_rx, NULL, NULL, NULL, napi_default, NULL},
    {"audioTx", NULL, js_audio_tx, NULL, NULL, NULL, napi_default, NULL},
    {"t38Rx", NULL, js_t38_rx, NULL, NULL, NULL, napi_default, NULL},
    {"t38Tick", NULL, js_t38_tick, NULL, NULL, NULL, napi_default, NULL},
    {"t38Take", NULL, js_t38_take, NULL, NULL, NULL, napi_default, NULL},
    {"status", NULL, js_status, NULL, NULL, NULL, napi_default, NULL},
    {"terminate", NULL, js_terminate, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
