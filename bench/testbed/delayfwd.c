/*
 * delayfwd: a bump in the wire that adds one-way delay and jitter to a link.
 *
 * It bridges two interfaces of a namespace through AF_PACKET sockets: every frame that
 * arrives on one interface is stamped on arrival, held until arrival + delay (+ a uniform
 * jitter draw), then written out of the other interface unchanged. This kernel has no
 * netem, so this is where the testbed's delay comes from (bench/testbed/README.md).
 *
 *   delayfwd --a IF --b IF --delay-us N [--jitter-us N] [--reorder] [--seed N]
 *            [--queue FRAMES] [--stats FILE]
 *
 * Both directions get the same delay and jitter, drawn independently per frame. Without
 * --reorder a frame is never sent before the one that arrived ahead of it (its due time
 * is at least the previous frame's), as on a real path; with it, jitter may reorder.
 *
 * It counts its own drops, which must stay zero at the rates the testbed uses: frames the
 * kernel dropped because the socket's receive queue was full (PACKET_STATISTICS), frames
 * refused because the hold queue was full, frames longer than the interface's MTU allows,
 * and failed writes. SIGUSR1 writes the counters to --stats FILE (atomically, with a
 * generation number that grows by one each time); SIGTERM/SIGINT write them and exit 0.
 *
 * One thread; it sleeps in ppoll until a frame arrives or the earliest held frame is due,
 * so it costs nothing when idle. Run it with real-time priority (chrt -f) so that holding
 * times are precise under load.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

/* A held frame: a slot of the pool, due at `due` nanoseconds (CLOCK_MONOTONIC). */
struct held {
    uint64_t due;
    uint64_t order;  /* arrival order, breaks ties so equal due times keep FIFO order */
    uint32_t slot;
    uint32_t length;
};

/* One direction: frames read from `in`, held in a min-heap by due time, written to `out`. */
struct direction {
    const char *name;
    int in, out;
    int out_index;
    struct held *heap;
    uint32_t count;
    uint64_t last_due;
    uint64_t received, forwarded;
    uint64_t queue_full, oversize, send_errors, kernel_drops;
};

static uint32_t *free_slots;  /* stack of free pool slots, shared by both directions */
static uint32_t free_count;
static unsigned char *pool;
static size_t slot_size;
static uint32_t capacity;
static uint64_t delay_ns, jitter_ns;
static int reorder;
static uint64_t rng_state;
static uint64_t arrivals;
static volatile sig_atomic_t stats_requested, stop_requested;
static const char *stats_path;
static uint64_t stats_generation;

static void die(const char *what) {
    fprintf(stderr, "delayfwd: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a small seeded generator, so a run's jitter draws can be reproduced. */
static uint64_t next_random(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Uniform in [-jitter, +jitter], never making the total delay negative. */
static uint64_t draw_delay(void) {
    if (jitter_ns == 0) return delay_ns;
    uint64_t span = 2 * jitter_ns + 1;
    int64_t offset = (int64_t)(next_random() % span) - (int64_t)jitter_ns;
    int64_t total = (int64_t)delay_ns + offset;
    return total < 0 ? 0 : (uint64_t)total;
}

static int earlier(const struct held *x, const struct held *y) {
    return x->due < y->due || (x->due == y->due && x->order < y->order);
}

static void heap_push(struct direction *d, struct held h) {
    uint32_t i = d->count++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!earlier(&h, &d->heap[parent])) break;
        d->heap[i] = d->heap[parent];
        i = parent;
    }
    d->heap[i] = h;
}

static struct held heap_pop(struct direction *d) {
    struct held top = d->heap[0], last = d->heap[--d->count];
    uint32_t i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= d->count) break;
        if (child + 1 < d->count && earlier(&d->heap[child + 1], &d->heap[child])) child++;
        if (!earlier(&d->heap[child], &last)) break;
        d->heap[i] = d->heap[child];
        i = child;
    }
    if (d->count > 0) d->heap[i] = last;
    return top;
}

static int open_interface(const char *name, int *index_out, int *mtu_out) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) die("socket(AF_PACKET)");
    unsigned index = if_nametoindex(name);
    if (index == 0) {
        fprintf(stderr, "delayfwd: no interface '%s' in this namespace\n", name);
        exit(1);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) die("SIOCGIFMTU");
    *mtu_out = ifr.ifr_mtu;
    struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)index};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind(AF_PACKET)");
    struct packet_mreq mreq = {.mr_ifindex = (int)index, .mr_type = PACKET_MR_PROMISC};
    if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) die("PACKET_MR_PROMISC");
    int one = 1;
    /* Frames this socket sends must not come back to it as input. */
    if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) die("PACKET_IGNORE_OUTGOING");
    int buffer = 16 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer) < 0)
        die("SO_RCVBUF");
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) < 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) < 0)
        die("SO_SNDBUF");
    *index_out = (int)index;
    return fd;
}

/* Adds what the kernel dropped on `d->in` since the last call (reading resets it). */
static void collect_kernel_drops(struct direction *d) {
    struct tpacket_stats stats;
    socklen_t length = sizeof stats;
    if (getsockopt(d->in, SOL_PACKET, PACKET_STATISTICS, &stats, &length) == 0) d->kernel_drops += stats.tp_drops;
}

static void write_stats(struct direction *dirs) {
    if (!stats_path) return;
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp", stats_path);
    FILE *f = fopen(temporary, "w");
    if (!f) return;
    stats_generation++;
    uint64_t drops = 0;
    for (int i = 0; i < 2; i++) {
        struct direction *d = &dirs[i];
        collect_kernel_drops(d);
        drops += d->queue_full + d->oversize + d->send_errors + d->kernel_drops;
        fprintf(f, "%s_received=%llu\n%s_forwarded=%llu\n%s_held=%u\n%s_queue_full=%llu\n%s_oversize=%llu\n"
                   "%s_send_errors=%llu\n%s_kernel_drops=%llu\n",
                d->name, (unsigned long long)d->received, d->name, (unsigned long long)d->forwarded, d->name, d->count,
                d->name, (unsigned long long)d->queue_full, d->name, (unsigned long long)d->oversize, d->name,
                (unsigned long long)d->send_errors, d->name, (unsigned long long)d->kernel_drops);
    }
    fprintf(f, "drops=%llu\ngeneration=%llu\n", (unsigned long long)drops, (unsigned long long)stats_generation);
    fclose(f);
    rename(temporary, stats_path);
}

static void on_signal(int signal) {
    if (signal == SIGUSR1)
        stats_requested = 1;
    else
        stop_requested = 1;
}

/* Reads every frame waiting on `d->in` and queues each for its due time. */
static void receive_frames(struct direction *d, uint32_t max_frame) {
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    struct sockaddr_ll sources[BATCH];
    uint32_t slots[BATCH];
    for (;;) {
        uint32_t n = 0;
        while (n < BATCH && n < free_count) {
            slots[n] = free_slots[free_count - 1 - n];
            vectors[n].iov_base = pool + (size_t)slots[n] * slot_size;
            vectors[n].iov_len = slot_size;
            memset(&messages[n], 0, sizeof messages[n]);
            messages[n].msg_hdr.msg_iov = &vectors[n];
            messages[n].msg_hdr.msg_iovlen = 1;
            messages[n].msg_hdr.msg_name = &sources[n];
            messages[n].msg_hdr.msg_namelen = sizeof sources[n];
            n++;
        }
        if (n == 0) {
            /* Hold queue full: read one frame into a scratch buffer and count it dropped. */
            static unsigned char scratch[65536];
            ssize_t got = recv(d->in, scratch, sizeof scratch, MSG_DONTWAIT);
            if (got < 0) return;
            d->received++;
            d->queue_full++;
            continue;
        }
        int got = recvmmsg(d->in, messages, n, MSG_DONTWAIT, NULL);
        if (got <= 0) return;
        uint64_t arrival = now_ns();
        free_count -= (uint32_t)got;  /* slots[0..<got] were the top `got` entries of the stack */
        for (int i = 0; i < got; i++) {
            uint32_t length = messages[i].msg_len;
            if (sources[i].sll_pkttype == PACKET_OUTGOING) {
                free_slots[free_count++] = slots[i];
                continue;
            }
            d->received++;
            if (length > max_frame || (messages[i].msg_hdr.msg_flags & MSG_TRUNC)) {
                d->oversize++;
                free_slots[free_count++] = slots[i];
                continue;
            }
            uint64_t due = arrival + draw_delay();
            if (!reorder && due < d->last_due) due = d->last_due;
            d->last_due = due;
            heap_push(d, (struct held){.due = due, .order = arrivals++, .slot = slots[i], .length = length});
        }
        if ((uint32_t)got < n) return;
    }
}

/* Writes every held frame that is due at `now`. */
static void send_due(struct direction *d, uint64_t now) {
    while (d->count > 0 && d->heap[0].due <= now) {
        struct held h = heap_pop(d);
        struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = d->out_index, .sll_halen = ETH_ALEN};
        unsigned char *frame = pool + (size_t)h.slot * slot_size;
        memcpy(to.sll_addr, frame, ETH_ALEN);
        ssize_t sent;
        do {
            sent = sendto(d->out, frame, h.length, 0, (struct sockaddr *)&to, sizeof to);
        } while (sent < 0 && errno == EINTR);
        if (sent < 0 && errno == EAGAIN) {
            /* The interface's queue is full for a moment: wait for room rather than drop. */
            struct pollfd p = {.fd = d->out, .events = POLLOUT};
            poll(&p, 1, 10);
            sent = sendto(d->out, frame, h.length, 0, (struct sockaddr *)&to, sizeof to);
        }
        if (sent == (ssize_t)h.length)
            d->forwarded++;
        else
            d->send_errors++;
        free_slots[free_count++] = h.slot;
    }
}

static uint64_t parse_number(const char *option, const char *text) {
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || *end || end == text) {
        fprintf(stderr, "delayfwd: %s '%s' is not a non-negative integer\n", option, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    const char *a = NULL, *b = NULL;
    capacity = 16384;
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i];
        if (!strcmp(option, "--reorder")) {
            reorder = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "delayfwd: %s needs a value\n", option);
            return 2;
        }
        const char *value = argv[++i];
        if (!strcmp(option, "--a")) a = value;
        else if (!strcmp(option, "--b")) b = value;
        else if (!strcmp(option, "--delay-us")) delay_ns = parse_number(option, value) * 1000;
        else if (!strcmp(option, "--jitter-us")) jitter_ns = parse_number(option, value) * 1000;
        else if (!strcmp(option, "--seed")) rng_state = parse_number(option, value) | 1;
        else if (!strcmp(option, "--queue")) capacity = (uint32_t)parse_number(option, value);
        else if (!strcmp(option, "--stats")) stats_path = value;
        else {
            fprintf(stderr, "delayfwd: unknown option '%s'\n", option);
            return 2;
        }
    }
    if (!a || !b || capacity == 0) {
        fprintf(stderr, "usage: delayfwd --a IF --b IF --delay-us N [--jitter-us N] [--reorder] [--seed N] "
                        "[--queue FRAMES] [--stats FILE]\n");
        return 2;
    }

    struct direction dirs[2];
    memset(dirs, 0, sizeof dirs);
    int index_a, index_b, mtu_a, mtu_b;
    int fd_a = open_interface(a, &index_a, &mtu_a);
    int fd_b = open_interface(b, &index_b, &mtu_b);
    int mtu = mtu_a > mtu_b ? mtu_a : mtu_b;
    uint32_t max_frame = (uint32_t)mtu + 18;  /* Ethernet header + one VLAN tag */
    slot_size = ((size_t)max_frame + 1 + 63) & ~(size_t)63;  /* +1: a longer frame shows as oversize */
    pool = malloc(slot_size * capacity);
    free_slots = malloc(sizeof *free_slots * capacity);
    if (!pool || !free_slots) die("malloc");
    for (uint32_t i = 0; i < capacity; i++) free_slots[i] = capacity - 1 - i;
    free_count = capacity;
    dirs[0] = (struct direction){.name = "ab", .in = fd_a, .out = fd_b, .out_index = index_b};
    dirs[1] = (struct direction){.name = "ba", .in = fd_b, .out = fd_a, .out_index = index_a};
    for (int i = 0; i < 2; i++) {
        dirs[i].heap = malloc(sizeof(struct held) * capacity);
        if (!dirs[i].heap) die("malloc");
        collect_kernel_drops(&dirs[i]);  /* drops before we started reading are not ours */
        dirs[i].kernel_drops = 0;
    }

    struct sigaction action = {.sa_handler = on_signal};
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigset_t blocked, during_poll;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &during_poll);  /* signals arrive only inside ppoll */
    sigdelset(&during_poll, SIGUSR1);
    sigdelset(&during_poll, SIGTERM);
    sigdelset(&during_poll, SIGINT);

    write_stats(dirs);
    fprintf(stderr, "delayfwd: %s <-> %s, delay %llu us, jitter %llu us%s, queue %u frames of %zu bytes\n", a, b,
            (unsigned long long)(delay_ns / 1000), (unsigned long long)(jitter_ns / 1000),
            reorder ? " (reordering)" : "", capacity, slot_size);

    struct pollfd fds[2] = {{.fd = fd_a, .events = POLLIN}, {.fd = fd_b, .events = POLLIN}};
    while (!stop_requested) {
        uint64_t now = now_ns();
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < 2; i++)
            if (dirs[i].count > 0 && dirs[i].heap[0].due < next) next = dirs[i].heap[0].due;
        struct timespec timeout, *wait = NULL;
        if (next != UINT64_MAX) {
            uint64_t left = next > now ? next - now : 0;
            timeout.tv_sec = (time_t)(left / 1000000000u);
            timeout.tv_nsec = (long)(left % 1000000000u);
            wait = &timeout;
        }
        int ready = ppoll(fds, 2, wait, &during_poll);
        if (ready < 0 && errno != EINTR) die("ppoll");
        if (ready > 0) {
            if (fds[0].revents & POLLIN) receive_frames(&dirs[0], max_frame);
            if (fds[1].revents & POLLIN) receive_frames(&dirs[1], max_frame);
        }
        now = now_ns();
        send_due(&dirs[0], now);
        send_due(&dirs[1], now);
        if (stats_requested) {
            stats_requested = 0;
            write_stats(dirs);
        }
    }
    write_stats(dirs);
    return 0;
}
