// CRC-32C with the CPU's own instruction, which Swift cannot reach directly. The portable
// table-driven version lives in P2MPWire/CRC32C.swift and is used when this one is not
// available.
#include "CCRC32C.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#include <pthread.h>

int p2mp_crc32c_hardware_available(void) {
    return __builtin_cpu_supports("sse4.2");
}

// The instruction takes 3 cycles but can start one every cycle, so three independent streams
// over three adjacent lanes run about three times faster than one. The lanes' registers are
// then joined: the register is linear in its input, so feeding a lane of L bytes after a
// register r gives shift_L(r) ^ (that lane's register started from 0), where shift_L feeds L
// zero bytes. shift_L is linear too, so it is four 256-entry tables, one per byte of r.
#define LONG_LANE 1024
#define SHORT_LANE 128

static uint32_t long_shift[4][256];
static uint32_t short_shift[4][256];
static pthread_once_t shift_tables_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2")))
static uint32_t after_zeros(uint32_t crc, size_t count) {
    uint64_t register64 = crc;
    for (size_t done = 0; done < count; done += 8) register64 = _mm_crc32_u64(register64, 0);
    return (uint32_t)register64;
}

static void fill_shift_table(uint32_t table[4][256], size_t lane) {
    for (int byte = 0; byte < 4; byte++) {
        for (uint32_t value = 0; value < 256; value++) table[byte][value] = after_zeros(value << (8 * byte), lane);
    }
}

static void fill_shift_tables(void) {
    fill_shift_table(long_shift, LONG_LANE);
    fill_shift_table(short_shift, SHORT_LANE);
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t crc) {
    return table[0][crc & 0xFF] ^ table[1][(crc >> 8) & 0xFF] ^ table[2][(crc >> 16) & 0xFF] ^ table[3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *bytes) {
    uint64_t word;
    memcpy(&word, bytes, 8);
    return word;
}

// Advances `*crc` over three lanes of `lane` bytes each at `*cursor`, as long as three fit.
__attribute__((target("sse4.2")))
static inline void three_lanes(
    uint64_t *crc, const unsigned char **cursor, size_t *count, size_t lane, const uint32_t table[4][256]
) {
    while (*count >= 3 * lane) {
        const unsigned char *first = *cursor, *end = first + lane;
        uint64_t crc0 = *crc, crc1 = 0, crc2 = 0;
        for (; first < end; first += 8) {
            crc0 = _mm_crc32_u64(crc0, load64(first));
            crc1 = _mm_crc32_u64(crc1, load64(first + lane));
            crc2 = _mm_crc32_u64(crc2, load64(first + 2 * lane));
        }
        crc0 = shift(table, (uint32_t)crc0) ^ crc1;
        *crc = shift(table, (uint32_t)crc0) ^ crc2;
        *cursor += 3 * lane;
        *count -= 3 * lane;
    }
}

__attribute__((target("sse4.2")))
uint32_t p2mp_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count) {
    pthread_once(&shift_tables_once, fill_shift_tables);
    const unsigned char *cursor = bytes;
    uint64_t crc = state;
    three_lanes(&crc, &cursor, &count, LONG_LANE, (const uint32_t (*)[256])long_shift);
    three_lanes(&crc, &cursor, &count, SHORT_LANE, (const uint32_t (*)[256])short_shift);
    while (count >= 8) {
        crc = _mm_crc32_u64(crc, load64(cursor));
        cursor += 8;
        count -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (count > 0) {
        crc32 = _mm_crc32_u8(crc32, *cursor);
        cursor += 1;
        count -= 1;
    }
    return crc32;
}

#else

int p2mp_crc32c_hardware_available(void) {
    return 0;
}

uint32_t p2mp_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return state;
}

#endif
