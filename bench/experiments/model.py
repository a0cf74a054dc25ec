"""Analytic model of the seed's Stop-and-Wait delay to n receivers (docs/EXPERIMENTS.md).

The sender (p2mpsend's seed form: SenderEngine with window 1 and the lockstep group
policy) sends segment j to every receiver and sends j+1 only once every receiver acked j.
A receiver discards each data packet independently with probability p; ACKs are not lost.
A receiver that lost the segment gets it again when its own retransmission timer fires.

Textbook model: with a fixed timeout T and round-trip time R, receiver i needs K_i
transmissions, K_i ~ Geometric(1 - p), and the segment takes R + (max_i K_i - 1) * T. So

    E[delay] = N * (R + (E[max K] - 1) * T),   E[max K] = sum_{k>=0} 1 - (1 - p^k)^n

for N segments (the data segments plus the empty end-of-file marker).

The sender's timer is RFC 6298 (RTTEstimator): before its first sample it is 1 s; every
expiry doubles it until the next sample, and by Karn's rule only a segment delivered on
its first transmission gives a sample. So a receiver's timeout for segment j depends on
its history: state (sampled?, backoff exponent b); needing k transmissions costs
sum_{m=0}^{k-2} min(base * 2^(b+m), 3 s) + R and moves it to (True, 0) if k = 1, else to
(sampled, b + k - 1). Receivers evolve independently, so at every segment their waiting
times are independent and identically distributed and E[max] follows from their common
distribution exactly. `stop_and_wait_delay` sums that over the segments.
"""

from dataclasses import dataclass

# RTTEstimator.Bounds.standard: initial 1 s, floor 10 ms, ceiling 3 s.
INITIAL_TIMEOUT = 1.0
MINIMUM_TIMEOUT = 0.010
MAXIMUM_TIMEOUT = 3.0
# Truncation: a receiver needing more than this many transmissions has probability p^40.
MAX_TRANSMISSIONS = 40
MAX_BACKOFF = 40


def segments(file_bytes: int, mss: int) -> int:
    """Datagrams the seed sender waits on: ceil(size / MSS) data segments + the end marker."""
    return -(-file_bytes // mss) + 1


def expected_max_transmissions(n: int, p: float) -> float:
    """E[max of n independent Geometric(1 - p) transmission counts]."""
    if p <= 0:
        return 1.0
    total, k = 0.0, 0
    while True:
        term = 1 - (1 - p**k) ** n
        total += term
        k += 1
        if term < 1e-15 or k > 10_000:
            return total


def textbook_delay(file_bytes: int, mss: int, n: int, p: float, rtt: float, timeout: float) -> float:
    """N * (R + (E[max K] - 1) * T): a fixed timeout T, no backoff, no initial timeout."""
    return segments(file_bytes, mss) * (rtt + (expected_max_transmissions(n, p) - 1) * timeout)


def rfc6298_timeout(samples: list[float]) -> float:
    """The timeout RTTEstimator settles on for a series of RTT samples (seconds): RFC 6298
    (alpha 1/8, beta 1/4, K = 4, 1 ms granularity), averaged over the second half of the
    series, clamped to the estimator's bounds."""
    if not samples:
        raise ValueError("no RTT samples")
    srtt, rttvar, timeouts = samples[0], samples[0] / 2, []
    for sample in samples[1:]:
        rttvar = 0.75 * rttvar + 0.25 * abs(srtt - sample)
        srtt = 0.875 * srtt + 0.125 * sample
        timeouts.append(srtt + max(0.001, 4 * rttvar))
    tail = timeouts[len(timeouts) // 2 :] or [srtt + max(0.001, 4 * rttvar)]
    return min(max(sum(tail) / len(tail), MINIMUM_TIMEOUT), MAXIMUM_TIMEOUT)


def rtt_variation(samples: list[float]) -> float:
    """RTTVAR of RFC 6298 averaged over the second half of a series of samples (seconds)."""
    srtt, rttvar, values = samples[0], samples[0] / 2, []
    for sample in samples[1:]:
        rttvar = 0.75 * rttvar + 0.25 * abs(srtt - sample)
        srtt = 0.875 * srtt + 0.125 * sample
        values.append(rttvar)
    tail = values[len(values) // 2 :] or [rttvar]
    return sum(tail) / len(tail)


def steady_timeout(rtt: float, variation: float) -> float:
    """RTTEstimator's timeout for a steady RTT and RTTVAR: SRTT + max(1 ms, 4 RTTVAR), clamped."""
    return min(max(rtt + max(0.001, 4 * variation), MINIMUM_TIMEOUT), MAXIMUM_TIMEOUT)


@dataclass(frozen=True)
class _State:
    sampled: bool
    backoff: int


def _segment_time_distribution(states: dict, p: float, rtt: float, timeout: float):
    """(waiting time -> probability) for one receiver and its next-state distribution."""
    times: dict[float, float] = {}
    following: dict[_State, float] = {}
    for state, weight in states.items():
        base = timeout if state.sampled else INITIAL_TIMEOUT
        waited = 0.0
        for k in range(1, MAX_TRANSMISSIONS + 1):
            probability = weight * p ** (k - 1) * (1 - p)
            if probability < 1e-18:
                break
            key = round(waited + rtt, 9)
            times[key] = times.get(key, 0.0) + probability
            nxt = _State(True, 0) if k == 1 else _State(state.sampled, min(state.backoff + k - 1, MAX_BACKOFF))
            following[nxt] = following.get(nxt, 0.0) + probability
            waited += min(base * 2 ** (state.backoff + k - 1), MAXIMUM_TIMEOUT)
    return times, following


def _expected_max(times: dict, n: int) -> float:
    """E[max of n iid draws] of a discrete distribution {value: probability}."""
    total = sum(times.values())
    cumulative, previous, expectation = 0.0, 0.0, 0.0
    for value in sorted(times):
        cumulative += times[value] / total
        now = min(cumulative, 1.0) ** n
        expectation += value * (now - previous)
        previous = now
    return expectation


def stop_and_wait_delay(file_bytes: int, mss: int, n: int, p: float, rtt: float, timeout: float) -> float:
    """Expected transfer time (seconds) of the seed sender to n receivers: the exact
    expectation under the model of the module docstring. `rtt` is the round-trip time of
    a segment and its ACK, `timeout` the steady RFC 6298 timeout (before backoff)."""
    total_segments = segments(file_bytes, mss)
    if p <= 0:
        return total_segments * rtt
    states = {_State(False, 0): 1.0}
    total = 0.0
    for index in range(total_segments):
        times, following = _segment_time_distribution(states, p, rtt, timeout)
        segment_time = _expected_max(times, n)
        total += segment_time
        converged = all(abs(following.get(s, 0.0) - states.get(s, 0.0)) < 1e-12 for s in set(following) | set(states))
        states = following
        if converged:  # stationary from here on: every later segment takes the same time
            return total + segment_time * (total_segments - index - 1)
    return total


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 7:
        sys.exit("usage: model.py FILE_BYTES MSS N P RTT_MS TIMEOUT_MS")
    size, mss, n = (int(v) for v in sys.argv[1:4])
    p, rtt, timeout = float(sys.argv[4]), float(sys.argv[5]) / 1000, float(sys.argv[6]) / 1000
    print(f"segments {segments(size, mss)}  E[max K] {expected_max_transmissions(n, p):.5f}")
    print(f"textbook {textbook_delay(size, mss, n, p, rtt, timeout):.3f} s")
    print(f"with backoff and 1 s initial timeout {stop_and_wait_delay(size, mss, n, p, rtt, timeout):.3f} s")
