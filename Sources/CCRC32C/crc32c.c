// CRC-32C with the CPU's own instruction, which Swift cannot reach directly. The portable
// table-driven version lives in P2MPWire/CRC32C.swift and is used when this one is not
// available.
#include "CCRC32C.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int p2mp_crc32c_hardware_available(void) {
    return __builtin_cpu_supports("sse4.2");
}

// Three independent streams would hide the instruction's 3-cycle latency; one stream
// already runs at about 8 bytes per 3 cycles, several GB/s, far above what the protocol needs.
__attribute__((target("sse4.2")))
uint32_t p2mp_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count) {
    const unsigned char *cursor = bytes;
    uint64_t crc = state;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, cursor, 8);
        crc = _mm_crc32_u64(crc, word);
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
