/*
 * RTP load generator for the media benchmark: N concurrent G.711 calls, 50 packets/s per direction,
 * 172-byte RTP packets (12-byte header + 160 bytes of payload), sent from two UDP sockets per call
 * (phone A, phone B) to a relay, and received back on the other phone's socket.
 *
 * Protocol on stdio (driven by bench/media/run.ts):
 *   argv: loadgen <calls> <seconds> <warmupSeconds>
 *   out:  "PORTS <portA> <portB>" per call (the phones' local ports, for their SDP)
 *   in:   "<relayIp> <relayPortForA> <relayPortForB>" per call (where each phone sends)
 *   out:  "MEASURE_START" / "MEASURE_END" around the measured window (the bench samples the relay's
 *         CPU there), then one JSON line with the results.
 * Delay is taken from a CLOCK_REALTIME send stamp in the payload to the kernel receive timestamp
 * (SO_TIMESTAMPNS), so the generator's own scheduling does not count. "Added jitter" is reported as
 * the p99 of (delay - that stream's minimum delay) over the measured window.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKT 172
#define PERIOD_NS 20000000LL
#define HIST_US 200000

typedef struct {
  int fd;
  struct sockaddr_in dst;
  uint16_t seq;
  uint32_t ts, ssrc;
  int64_t next;
  uint64_t sent_measured, recv_measured;
  int64_t min_delay;
} stream;

static int64_t now_real(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

typedef struct { uint32_t stream; int32_t delay_us; int32_t at_ms; } sample;

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: loadgen calls seconds warmup\n"); return 2; }
  int calls = atoi(argv[1]);
  double seconds = atof(argv[2]), warmup = atof(argv[3]);
  if (calls <= 0 || calls > 20000 || seconds <= 0 || seconds > 600) { fprintf(stderr, "bad args\n"); return 2; }
  int ns = calls * 2;
  stream *s = calloc((size_t)ns, sizeof(stream));
  int ep = epoll_create1(0);
  for (int i = 0; i < ns; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); return 1; }
    int one = 1, sz = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) { perror("bind"); return 1; }
    s[i].fd = fd;
    s[i].ssrc = 0x10000000u + (uint32_t)i;
    s[i].seq = (uint16_t)(i * 7);
    s[i].min_delay = INT64_MAX;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  for (int c = 0; c < calls; c++) {
    struct sockaddr_in a, b;
    socklen_t l = sizeof(a);
    getsockname(s[2 * c].fd, (struct sockaddr *)&a, &l);
    l = sizeof(b);
    getsockname(s[2 * c + 1].fd, (struct sockaddr *)&b, &l);
    printf("PORTS %d %d\n", ntohs(a.sin_port), ntohs(b.sin_port));
  }
  fflush(stdout);
  for (int c = 0; c < calls; c++) {
    char ip[64];
    int pa, pb;
    if (scanf("%63s %d %d", ip, &pa, &pb) != 3) { fprintf(stderr, "bad relay line %d\n", c); return 1; }
    for (int k = 0; k < 2; k++) {
      stream *st = &s[2 * c + k];
      st->dst.sin_family = AF_INET;
      inet_pton(AF_INET, ip, &st->dst.sin_addr);
      st->dst.sin_port = htons((uint16_t)(k == 0 ? pa : pb));
      /* connected: cheaper sends (cached route), and the relay answers from that same port (symmetric RTP) */
      if (connect(st->fd, (struct sockaddr *)&st->dst, sizeof(st->dst)) < 0) { perror("connect"); return 1; }
    }
  }
  int64_t t0 = now_real() + 50000000LL;
  for (int i = 0; i < ns; i++) s[i].next = t0 + (PERIOD_NS * i) / ns;
  int64_t mstart = t0 + (int64_t)(warmup * 1e9), mend = mstart + (int64_t)(seconds * 1e9);
  int64_t stop_send = mend, stop_all = mend + 300000000LL;
  size_t cap = (size_t)((seconds + 1) * 50.0 * ns) + 1024, nsamp = 0;
  sample *samp = malloc(cap * sizeof(sample));
  uint64_t late_hist[1000] = {0}; /* send lateness, 0.1 ms buckets */
  uint8_t pkt[PKT];
  memset(pkt, 0xff, sizeof(pkt));
  struct epoll_event evs[512];
  enum { B = 16 };
  struct mmsghdr mm[B];
  struct iovec iov[B];
  uint8_t rb[B][256];
  char cbuf[B][64];
  int idx = 0, started = 0, ended = 0;
  uint64_t late_n = 0;
  for (;;) {
    int64_t t = now_real();
    if (!started && t >= mstart) { printf("MEASURE_START\n"); fflush(stdout); started = 1; }
    if (!ended && t >= mend) { printf("MEASURE_END\n"); fflush(stdout); ended = 1; }
    if (t >= stop_all) break;
    /* send everything due, in phase order */
    if (t < stop_send) {
      int guard = 0;
      while (s[idx].next <= t && guard++ < ns) {
        stream *st = &s[idx];
        int64_t lat = (t - st->next) / 100000;
        late_hist[lat < 999 ? lat : 999]++;
        late_n++;
        pkt[0] = 0x80;
        pkt[1] = 0; /* PCMU */
        pkt[2] = (uint8_t)(st->seq >> 8); pkt[3] = (uint8_t)st->seq;
        pkt[4] = (uint8_t)(st->ts >> 24); pkt[5] = (uint8_t)(st->ts >> 16);
        pkt[6] = (uint8_t)(st->ts >> 8); pkt[7] = (uint8_t)st->ts;
        pkt[8] = (uint8_t)(st->ssrc >> 24); pkt[9] = (uint8_t)(st->ssrc >> 16);
        pkt[10] = (uint8_t)(st->ssrc >> 8); pkt[11] = (uint8_t)st->ssrc;
        int64_t stamp = now_real();
        memcpy(pkt + 12, &stamp, 8);
        if (send(st->fd, pkt, PKT, MSG_DONTWAIT) == PKT &&
            stamp >= mstart && stamp < mend)
          st->sent_measured++;
        st->seq++;
        st->ts += 160;
        st->next += PERIOD_NS;
        idx = (idx + 1) % ns;
      }
    }
    /* sleep until the next packet is due (at least 250 us, so sends go out in small bursts) */
    int64_t wait_ns = s[idx].next - now_real();
    if (wait_ns < 250000) wait_ns = 250000;
    if (wait_ns > 1000000) wait_ns = 1000000;
    struct timespec tmo = {0, (long)wait_ns};
    int n = epoll_pwait2(ep, evs, 512, &tmo, NULL);
    for (int e = 0; e < n; e++) {
      int i = (int)evs[e].data.u32;
      /* packets sent by stream i arrive at its partner's socket; here the receiving socket is i */
      int from = i ^ 1;
      for (;;) {
        for (int k = 0; k < B; k++) {
          iov[k].iov_base = rb[k];
          iov[k].iov_len = sizeof(rb[k]);
          memset(&mm[k].msg_hdr, 0, sizeof(struct msghdr));
          mm[k].msg_hdr.msg_iov = &iov[k];
          mm[k].msg_hdr.msg_iovlen = 1;
          mm[k].msg_hdr.msg_control = cbuf[k];
          mm[k].msg_hdr.msg_controllen = sizeof(cbuf[k]);
        }
        int r = recvmmsg(s[i].fd, mm, B, MSG_DONTWAIT, NULL);
        if (r <= 0) break;
        for (int k = 0; k < r; k++) {
          if (mm[k].msg_len < 20) continue;
          int64_t rx = 0;
          for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mm[k].msg_hdr); cm; cm = CMSG_NXTHDR(&mm[k].msg_hdr, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
              struct timespec ts;
              memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
              rx = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
            }
          }
          if (!rx) rx = now_real();
          int64_t stamp;
          memcpy(&stamp, rb[k] + 12, 8);
          if (stamp < mstart || stamp >= mend) continue;
          s[from].recv_measured++;
          int64_t d = rx - stamp;
          if (d < s[from].min_delay) s[from].min_delay = d;
          if (nsamp < cap) {
            samp[nsamp].stream = (uint32_t)from;
            samp[nsamp].delay_us = (int32_t)(d / 1000);
            samp[nsamp].at_ms = (int32_t)((stamp - mstart) / 1000000);
            nsamp++;
          }
        }
        if (r < B) break;
      }
    }
  }
  uint64_t sent = 0, recv = 0;
  for (int i = 0; i < ns; i++) { sent += s[i].sent_measured; recv += s[i].recv_measured; }
  uint64_t *hist = calloc(HIST_US + 1, sizeof(uint64_t));
  uint64_t *dh = calloc(HIST_US + 1, sizeof(uint64_t));
  for (size_t k = 0; k < nsamp; k++) {
    int64_t add = samp[k].delay_us - s[samp[k].stream].min_delay / 1000;
    if (add < 0) add = 0;
    hist[add < HIST_US ? add : HIST_US]++;
    int32_t d = samp[k].delay_us < 0 ? 0 : samp[k].delay_us;
    dh[d < HIST_US ? d : HIST_US]++;
  }
  /* LOADGEN_TRACE=file: per 10 ms of send time, the packets and the largest added delay (when the
     stalls happen tells what caused them: a periodic job, the start of the run, the whole run) */
  const char *trace = getenv("LOADGEN_TRACE");
  if (trace) {
    FILE *tf = fopen(trace, "w");
    int nb = (int)(seconds * 100) + 1;
    int32_t *mx = calloc((size_t)nb, sizeof(int32_t));
    uint32_t *over = calloc((size_t)nb, sizeof(uint32_t));
    for (size_t k = 0; tf && k < nsamp; k++) {
      int b = samp[k].at_ms / 10;
      if (b < 0 || b >= nb) continue;
      int32_t add = samp[k].delay_us - (int32_t)(s[samp[k].stream].min_delay / 1000);
      if (add > mx[b]) mx[b] = add;
      if (add > 2000) over[b]++;
    }
    for (int b = 0; tf && b < nb; b++) fprintf(tf, "%d %d %u\n", b * 10, mx[b], over[b]);
    if (tf) fclose(tf);
  }
  double q[3] = {0.5, 0.99, 0.999};
  long res[3] = {0, 0, 0}, dres[3] = {0, 0, 0};
  for (int j = 0; j < 3; j++) {
    uint64_t want = (uint64_t)(q[j] * (double)nsamp), acc = 0, acc2 = 0;
    for (long u = 0; u <= HIST_US; u++) { acc += hist[u]; if (acc > want) { res[j] = u; break; } }
    for (long u = 0; u <= HIST_US; u++) { acc2 += dh[u]; if (acc2 > want) { dres[j] = u; break; } }
  }
  uint64_t acc = 0, lateP99 = 0;
  for (int u = 0; u < 1000; u++) { acc += late_hist[u]; if (acc > late_n * 99 / 100) { lateP99 = (uint64_t)u * 100; break; } }
  double loss = sent ? 1.0 - (double)recv / (double)sent : 1.0;
  if (loss < 0) loss = 0;
  printf("{\"calls\":%d,\"sent\":%llu,\"received\":%llu,\"loss\":%.6f,\"jitterP50us\":%ld,\"jitterP99us\":%ld,"
         "\"jitterP999us\":%ld,\"delayP50us\":%ld,\"delayP99us\":%ld,\"sendLateP99us\":%llu}\n",
         calls, (unsigned long long)sent, (unsigned long long)recv, loss, res[0], res[1], res[2], dres[0], dres[1],
         (unsigned long long)lateP99);
  fflush(stdout);
  return 0;
}
