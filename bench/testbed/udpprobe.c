/*
 * udpprobe: measures a testbed path with UDP datagrams that are echoed back.
 *
 *   udpprobe echo PORT
 *       Echo every datagram to its sender, writing the arrival time into bytes 16..23.
 *   udpprobe rtt HOST PORT COUNT INTERVAL_MS [SIZE] [SAMPLES_FILE]
 *       Send COUNT probes, one every INTERVAL_MS, and print one line of key=value pairs:
 *       round-trip min/avg/max/standard deviation and the one-way delays each way (all
 *       namespaces share one CLOCK_MONOTONIC, so these are exact). SAMPLES_FILE gets one
 *       line per answered probe: "rtt_us forward_us reverse_us".
 *   udpprobe burst HOST PORT COUNT RATE_MBIT [SIZE]
 *       Send COUNT datagrams of SIZE bytes paced at RATE_MBIT, then count the echoes that
 *       came back; prints sent, echoed and lost.
 *
 * A probe is answered when its echo is back within 2 s of the last send; the program
 * never waits longer than that. Exit status 0 when the measurement ran, 1 on an error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x74627072u /* "tbpr" */
#define DRAIN_NS 2000000000ull

struct probe_header {
    uint32_t magic;
    uint32_t sequence;
    uint64_t sent;     /* CLOCK_MONOTONIC ns at the sender */
    uint64_t echoed;   /* CLOCK_MONOTONIC ns when the echo server received it */
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline) {
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u), .tv_nsec = (long)(deadline % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static long parse(const char *what, const char *text, long min, long max) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || *end || end == text || value < min || value > max) {
        fprintf(stderr, "udpprobe: %s '%s' is not an integer in %ld-%ld\n", what, text, min, max);
        exit(1);
    }
    return value;
}

static int large_buffers(int fd) {
    int size = 16 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return fd;
}

static int echo(int port) {
    int fd = large_buffers(socket(AF_INET, SOCK_DGRAM, 0));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("udpprobe: echo bind");
        return 1;
    }
    unsigned char buffer[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t length = sizeof from;
        ssize_t got = recvfrom(fd, buffer, sizeof buffer, 0, (struct sockaddr *)&from, &length);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("udpprobe: recvfrom");
            return 1;
        }
        if ((size_t)got >= sizeof(struct probe_header)) {
            uint64_t t = now_ns();
            memcpy(buffer + offsetof(struct probe_header, echoed), &t, sizeof t);
        }
        sendto(fd, buffer, (size_t)got, 0, (struct sockaddr *)&from, length);
    }
}

static int connect_to(const char *host, int port) {
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *result;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &result) != 0) {
        fprintf(stderr, "udpprobe: cannot resolve '%s'\n", host);
        exit(1);
    }
    int fd = large_buffers(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    if (fd < 0 || connect(fd, result->ai_addr, result->ai_addrlen) < 0) {
        perror("udpprobe: connect");
        exit(1);
    }
    freeaddrinfo(result);
    return fd;
}

/* Reads every echo waiting on fd; calls back with each valid header. */
typedef void (*on_echo)(const struct probe_header *, uint64_t arrived, void *context);
static void drain(int fd, unsigned char *buffer, size_t size, on_echo callback, void *context) {
    for (;;) {
        ssize_t got = recv(fd, buffer, size, MSG_DONTWAIT);
        if (got < 0) return;
        uint64_t arrived = now_ns();
        struct probe_header header;
        if ((size_t)got < sizeof header) continue;
        memcpy(&header, buffer, sizeof header);
        if (header.magic == MAGIC) callback(&header, arrived, context);
    }
}

/* Waits for echoes until `done` says all are in or DRAIN_NS passed since `last_send`. */
static void collect(int fd, unsigned char *buffer, size_t size, uint64_t last_send, on_echo callback, void *context,
                    int (*done)(void *)) {
    while (!done(context)) {
        uint64_t now = now_ns();
        if (now >= last_send + DRAIN_NS) return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait_ms = (int)((last_send + DRAIN_NS - now) / 1000000u) + 1;
        if (poll(&p, 1, wait_ms) > 0) drain(fd, buffer, size, callback, context);
    }
}

/* Reads echoes as they arrive until `deadline`, so each is stamped when it came back. */
static void receive_until(int fd, unsigned char *buffer, size_t size, uint64_t deadline, on_echo callback,
                          void *context) {
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline) return;
        uint64_t left = deadline - now;
        struct timespec timeout = {.tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u)};
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (ppoll(&p, 1, &timeout, NULL) > 0) drain(fd, buffer, size, callback, context);
    }
}

struct rtt_run {
    long count, answered;
    unsigned char *seen;
    double *rtt, *forward, *reverse;
};

static void rtt_echo(const struct probe_header *h, uint64_t arrived, void *context) {
    struct rtt_run *run = context;
    if (h->sequence >= (uint32_t)run->count || run->seen[h->sequence]) return;
    run->seen[h->sequence] = 1;
    long i = run->answered++;
    run->rtt[i] = (double)(arrived - h->sent) / 1000.0;
    run->forward[i] = (double)(h->echoed - h->sent) / 1000.0;
    run->reverse[i] = (double)(arrived - h->echoed) / 1000.0;
}

static int rtt_done(void *context) {
    struct rtt_run *run = context;
    return run->answered == run->count;
}

static double mean(const double *values, long n) {
    double sum = 0;
    for (long i = 0; i < n; i++) sum += values[i];
    return n ? sum / (double)n : 0;
}

static int rtt(const char *host, int port, long count, long interval_ms, long size, const char *samples_path) {
    int fd = connect_to(host, port);
    unsigned char *buffer = calloc(1, 65536);
    struct rtt_run run = {.count = count, .seen = calloc((size_t)count, 1)};
    run.rtt = calloc((size_t)count, sizeof(double));
    run.forward = calloc((size_t)count, sizeof(double));
    run.reverse = calloc((size_t)count, sizeof(double));
    uint64_t start = now_ns(), last_send = start;
    for (long i = 0; i < count; i++) {
        last_send = start + (uint64_t)i * (uint64_t)interval_ms * 1000000u;
        receive_until(fd, buffer, 65536, last_send, rtt_echo, &run);
        struct probe_header h = {.magic = MAGIC, .sequence = (uint32_t)i, .sent = now_ns()};
        memcpy(buffer, &h, sizeof h);
        if (send(fd, buffer, (size_t)size, 0) < 0 && errno != ECONNREFUSED) perror("udpprobe: send");
    }
    collect(fd, buffer, 65536, last_send, rtt_echo, &run, rtt_done);
    long n = run.answered;
    double avg = mean(run.rtt, n), lo = n ? run.rtt[0] : 0, hi = lo, var = 0;
    for (long i = 0; i < n; i++) {
        if (run.rtt[i] < lo) lo = run.rtt[i];
        if (run.rtt[i] > hi) hi = run.rtt[i];
        var += (run.rtt[i] - avg) * (run.rtt[i] - avg);
    }
    double sd = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
    printf("sent=%ld answered=%ld rtt_min_us=%.0f rtt_avg_us=%.0f rtt_max_us=%.0f rtt_sd_us=%.0f "
           "forward_avg_us=%.0f reverse_avg_us=%.0f\n",
           count, n, lo, avg, hi, sd, mean(run.forward, n), mean(run.reverse, n));
    if (samples_path) {
        FILE *f = fopen(samples_path, "w");
        if (!f) {
            perror("udpprobe: samples file");
            return 1;
        }
        for (long i = 0; i < n; i++) fprintf(f, "%.1f %.1f %.1f\n", run.rtt[i], run.forward[i], run.reverse[i]);
        fclose(f);
    }
    return 0;
}

struct burst_run {
    long count, echoed;
    unsigned char *seen;
};

static void burst_echo(const struct probe_header *h, uint64_t arrived, void *context) {
    (void)arrived;
    struct burst_run *run = context;
    if (h->sequence < (uint32_t)run->count && !run->seen[h->sequence]) {
        run->seen[h->sequence] = 1;
        run->echoed++;
    }
}

static int burst_done(void *context) {
    struct burst_run *run = context;
    return run->echoed == run->count;
}

static int burst(const char *host, int port, long count, long rate_mbit, long size) {
    int fd = connect_to(host, port);
    unsigned char *buffer = calloc(1, 65536);
    struct burst_run run = {.count = count, .seen = calloc((size_t)count, 1)};
    /* Wire bits per datagram: payload + UDP/IP/Ethernet headers. */
    uint64_t gap_ns = (uint64_t)((double)(size + 8 + 20 + 14) * 8.0 * 1000.0 / (double)rate_mbit);
    uint64_t start = now_ns(), last_send = start;
    long send_errors = 0;
    for (long i = 0; i < count; i++) {
        last_send = start + (uint64_t)i * gap_ns;
        if (i % 16 == 0) {
            sleep_until(last_send);
            drain(fd, buffer, 65536, burst_echo, &run);
        }
        struct probe_header h = {.magic = MAGIC, .sequence = (uint32_t)i, .sent = now_ns()};
        memcpy(buffer, &h, sizeof h);
        while (send(fd, buffer, (size_t)size, 0) < 0) {
            if (errno != EAGAIN && errno != ENOBUFS) {
                send_errors++;
                break;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 10);
        }
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    collect(fd, buffer, 65536, now_ns(), burst_echo, &run, burst_done);
    printf("sent=%ld echoed=%ld lost=%ld send_errors=%ld size=%ld seconds=%.3f offered_mbit=%.1f\n", count, run.echoed,
           count - run.echoed, send_errors, size, seconds, (double)count * (double)size * 8 / seconds / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "echo")) return echo((int)parse("PORT", argv[2], 1, 65535));
    if ((argc >= 6 && argc <= 8) && !strcmp(argv[1], "rtt")) {
        long size = argc >= 7 ? parse("SIZE", argv[6], (long)sizeof(struct probe_header), 1472) : 64;
        return rtt(argv[2], (int)parse("PORT", argv[3], 1, 65535), parse("COUNT", argv[4], 1, 1000000),
                   parse("INTERVAL_MS", argv[5], 0, 60000), size, argc == 8 ? argv[7] : NULL);
    }
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "burst")) {
        long size = argc == 7 ? parse("SIZE", argv[6], (long)sizeof(struct probe_header), 1472) : 1200;
        return burst(argv[2], (int)parse("PORT", argv[3], 1, 65535), parse("COUNT", argv[4], 1, 10000000),
                     parse("RATE_MBIT", argv[5], 1, 100000), size);
    }
    fprintf(stderr, "usage: udpprobe echo PORT\n"
                    "       udpprobe rtt HOST PORT COUNT INTERVAL_MS [SIZE] [SAMPLES_FILE]\n"
                    "       udpprobe burst HOST PORT COUNT RATE_MBIT [SIZE]\n");
    return 1;
}
