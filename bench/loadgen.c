/*
 * loadgen: a small HTTP/1.1 load generator for the Sekisho benchmark (Linux, epoll).
 *
 * Two modes over keep-alive connections to one host:
 *   rate   open loop: request i is due at t0 + i/RATE whether or not earlier ones
 *          have answered. A due request takes an idle connection or opens a new
 *          one (up to MAX_CONNS); otherwise it waits in a queue. Latency counts
 *          from the moment it was due, so a stalled target cannot hide its queue
 *          (no coordinated omission).
 *   closed N connections each send the next request as soon as the last answered
 *          (concurrency N); latency counts from the send.
 *
 * A request succeeds when the response is complete with status 200 within
 * TIMEOUT_MS of being due. Output: one JSON line on stdout with the counts, and
 * the latency of every successful request in microseconds, one per line, in
 * SAMPLES_FILE.
 *
 * usage: loadgen HOST PORT REQUEST_FILE rate|closed RATE|N DURATION_S TIMEOUT_MS
 *                MAX_CONNS SAMPLES_FILE [MAX_REQUESTS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { FREE, CONNECTING, IDLE, BUSY };

typedef struct {
    int fd, state;
    char *buf;
    size_t len, cap, wpos;
    double due, sent;
} conn_t;

static struct sockaddr_in addr;
static char *req;
static size_t req_len;
static conn_t *conns;
static int max_conns, open_conns, peak_conns, epfd;
static int *idle, nidle;
static double *queue; /* due times of requests waiting for a connection (ring) */
static size_t qhead, qtail, qcap;
static uint32_t *samples;
static size_t nsamples, samples_cap;
static long long n_ok, n_status, n_timeout, n_conn_err, n_sent;
static int closed_mode;
static double end_at;
static long long max_requests;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void record(double latency) {
    if (nsamples == samples_cap) {
        samples_cap = samples_cap ? samples_cap * 2 : 65536;
        samples = realloc(samples, samples_cap * sizeof *samples);
    }
    samples[nsamples++] = (uint32_t)(latency * 1e6);
}

static void watch(conn_t *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, op, c->fd, &ev);
}

static void drop(conn_t *c) {
    if (c->state == IDLE)
        for (int i = 0; i < nidle; i++)
            if (&conns[idle[i]] == c) { idle[i] = idle[--nidle]; break; }
    close(c->fd);
    c->fd = -1;
    c->state = FREE;
    c->len = 0;
    open_conns--;
}

static void send_request(conn_t *c) {
    while (c->wpos < req_len) {
        ssize_t n = write(c->fd, req + c->wpos, req_len - c->wpos);
        if (n < 0) {
            if (errno == EAGAIN) { watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD); return; }
            n_conn_err++; drop(c); return;
        }
        c->wpos += n;
    }
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void start(conn_t *c, double due) {
    c->due = due;
    c->sent = now();
    c->wpos = 0;
    c->len = 0;
    c->state = BUSY;
    n_sent++;
    send_request(c);
}

static conn_t *open_conn(double due) {
    for (int i = 0; i < max_conns; i++) {
        conn_t *c = &conns[i];
        if (c->state != FREE) continue;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->state = CONNECTING;
        c->due = due;
        if (++open_conns > peak_conns) peak_conns = open_conns;
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
            n_conn_err++; drop(c); return NULL;
        }
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        return c;
    }
    return NULL;
}

/* 1 when the buffer holds a whole response, -1 on garbage; sets *status and *keep. */
static int complete(conn_t *c, int *status, int *keep) {
    char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!hend) return 0;
    size_t hlen = hend - c->buf + 4;
    if (c->len < 12 || strncmp(c->buf, "HTTP/1.", 7)) return -1;
    *status = atoi(c->buf + 9);
    *keep = 1;
    long clen = -1;
    int chunked = 0;
    for (char *line = c->buf; line < hend;) {
        char *eol = memmem(line, hend + 2 - line, "\r\n", 2);
        if (!eol) break;
        if (!strncasecmp(line, "content-length:", 15)) clen = atol(line + 15);
        else if (!strncasecmp(line, "transfer-encoding:", 18) && memmem(line, eol - line, "chunked", 7)) chunked = 1;
        else if (!strncasecmp(line, "connection:", 11) && memmem(line, eol - line, "close", 5)) *keep = 0;
        line = eol + 2;
    }
    if (chunked) /* good enough for the JSON bodies measured here: wait for the last chunk */
        return c->len >= hlen + 5 && !memcmp(c->buf + c->len - 5, "0\r\n\r\n", 5);
    if (clen < 0) return -1;
    return c->len >= hlen + (size_t)clen;
}

static void next_or_idle(conn_t *c) {
    if (closed_mode) {
        if (now() < end_at && (!max_requests || n_sent < max_requests)) start(c, now());
        else { c->state = IDLE; idle[nidle++] = c - conns; }
        return;
    }
    if (qhead != qtail) { double due = queue[qhead++ % qcap]; start(c, due); return; }
    c->state = IDLE;
    idle[nidle++] = c - conns;
}

static void on_readable(conn_t *c) {
    for (;;) {
        if (c->cap - c->len < 16384) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            if (c->state == BUSY) n_conn_err++;
            drop(c);
            if (closed_mode && now() < end_at) open_conn(now());
            return;
        }
        if (n < 0) break;
        c->len += n;
    }
    if (c->state != BUSY) return;
    int status = 0, keep = 1, done = complete(c, &status, &keep);
    if (done == 0) return;
    double t = now();
    if (done < 0) n_conn_err++;
    else if (status != 200) n_status++;
    else { n_ok++; record(t - (closed_mode ? c->sent : c->due)); }
    if (done < 0 || !keep) { drop(c); if (closed_mode && t < end_at) { conn_t *o = open_conn(t); (void)o; } return; }
    c->len = 0;
    next_or_idle(c);
}

int main(int argc, char **argv) {
    if (argc < 10) {
        fprintf(stderr, "usage: loadgen HOST PORT REQUEST_FILE rate|closed RATE|N DURATION_S "
                        "TIMEOUT_MS MAX_CONNS SAMPLES_FILE [MAX_REQUESTS]\n");
        return 2;
    }
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    FILE *f = fopen(argv[3], "rb");
    if (!f) { perror("request file"); return 2; }
    fseek(f, 0, SEEK_END); req_len = ftell(f); fseek(f, 0, SEEK_SET);
    req = malloc(req_len);
    if (fread(req, 1, req_len, f) != req_len) { perror("request file"); return 2; }
    fclose(f);
    closed_mode = !strcmp(argv[4], "closed");
    double rate = atof(argv[5]), duration = atof(argv[6]), timeout = atof(argv[7]) / 1000.0;
    max_conns = atoi(argv[8]);
    max_requests = argc > 10 ? atoll(argv[10]) : 0;
    if (closed_mode && max_conns < (int)rate) max_conns = (int)rate;
    conns = calloc(max_conns, sizeof *conns);
    idle = calloc(max_conns, sizeof *idle);
    long long total = closed_mode ? 0 : (long long)(rate * duration);
    qcap = total + 1;
    queue = closed_mode ? NULL : calloc(qcap, sizeof *queue);
    epfd = epoll_create1(0);

    double t0 = now();
    if (closed_mode) {
        for (int i = 0; i < (int)rate; i++) open_conn(t0);
    } else {
        /* open a few keep-alive connections before the clock starts, as a client pool would */
        int warm = 4 + (int)(rate / 250);
        for (int i = 0; i < warm && i < max_conns; i++) open_conn(-1);
        struct epoll_event evs[256];
        for (double until = now() + 0.2; now() < until;) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
            int n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
            for (int i = 0; i < n; i++) {
                conn_t *c = evs[i].data.ptr;
                if (c->state != CONNECTING) continue;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { drop(c); continue; }
                c->state = IDLE; idle[nidle++] = c - conns; watch(c, EPOLLIN, EPOLL_CTL_MOD);
            }
        }
        t0 = now();
    }
    end_at = t0 + duration;
    long long next = 0;
    double last_sweep = t0, hard_stop = t0 + duration + timeout + 2;
    struct epoll_event events[256];
    for (;;) {
        double t = now();
        if (!closed_mode) {
            while (next < total && t0 + next / rate <= t) queue[qtail++ % qcap] = t0 + next++ / rate;
            while (qhead != qtail) {
                if (nidle > 0) { conn_t *c = &conns[idle[--nidle]]; start(c, queue[qhead++ % qcap]); }
                else if (open_conns < max_conns) { if (!open_conn(queue[qhead++ % qcap])) break; }
                else break;
            }
        }
        if (t - last_sweep > 0.01) { /* expire what waited too long */
            last_sweep = t;
            while (qhead != qtail && t - queue[qhead % qcap] > timeout) { qhead++; n_timeout++; }
            for (int i = 0; i < max_conns; i++) {
                conn_t *c = &conns[i];
                if ((c->state == BUSY || c->state == CONNECTING) && c->due >= 0 && t - c->due > timeout) {
                    n_timeout++;
                    drop(c);
                    if (closed_mode && t < end_at) open_conn(t);
                }
            }
        }
        int busy = 0;
        for (int i = 0; i < max_conns; i++)
            if (conns[i].state == BUSY || (conns[i].state == CONNECTING && conns[i].due >= 0)) { busy = 1; break; }
        int finished = closed_mode ? (t >= end_at || (max_requests && n_sent >= max_requests))
                                   : (next >= total && qhead == qtail);
        if ((finished && !busy) || t > hard_stop) break;
        double wait = 0.01;
        if (!closed_mode && next < total) {
            double due = t0 + next / rate - t;
            if (due < wait) wait = due > 0 ? due : 0;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(wait * 1e9)};
        int n = epoll_pwait2(epfd, events, 256, &ts, NULL);
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->state == FREE) continue;
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { n_conn_err++; drop(c); continue; }
                if (closed_mode) start(c, now());
                else if (c->due < 0) { c->state = IDLE; idle[nidle++] = c - conns; watch(c, EPOLLIN, EPOLL_CTL_MOD); }
                else start(c, c->due);
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
            else if (c->state == BUSY && (events[i].events & EPOLLOUT)) send_request(c);
        }
    }
    double elapsed = now() - t0;
    long long unsent = closed_mode ? 0 : (total - next) + (long long)(qtail - qhead);
    for (int i = 0; i < max_conns; i++)
        if (conns[i].state == BUSY || (conns[i].state == CONNECTING && conns[i].due >= 0)) n_timeout++;
    FILE *out = fopen(argv[9], "w");
    if (!out) { perror("samples file"); return 2; }
    for (size_t i = 0; i < nsamples; i++) fprintf(out, "%u\n", samples[i]);
    fclose(out);
    printf("{\"scheduled\": %lld, \"sent\": %lld, \"ok\": %lld, \"bad_status\": %lld, "
           "\"timeouts\": %lld, \"conn_errors\": %lld, \"unsent\": %lld, \"elapsed_s\": %.3f, "
           "\"peak_conns\": %d}\n",
           closed_mode ? n_sent : total, n_sent, n_ok, n_status, n_timeout + unsent, n_conn_err,
           unsent, elapsed, peak_conns);
    return 0;
}
