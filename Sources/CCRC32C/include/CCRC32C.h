#ifndef CCRC32C_H
#define CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (x86-64 SSE4.2) that
/// `p2mp_crc32c_hardware_update` can use. Checked once per call; cheap.
int p2mp_crc32c_hardware_available(void);

/// Advances the CRC-32C register `state` (before the final XOR) over `count` bytes at
/// `bytes` with the CPU's CRC-32C instruction. Call only when
/// `p2mp_crc32c_hardware_available()` returned non-zero.
uint32_t p2mp_crc32c_hardware_update(uint32_t state, const void *bytes, size_t count);

#endif
