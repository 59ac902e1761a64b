"""The compiled loops of :mod:`skyaccord.tactical._csv` (numba, cached on disk), kept in
their own module so that small outputs are written without loading numba.

Exact rounding: Python prints the decimal rounding of the exact binary value, ties to
even. ``p = x * 10**digits`` rounds, so where ``p`` lies exactly half-way between two
integers the product's exact rounding error decides (Dekker's product, T. J. Dekker,
"A floating-point technique for extending the available precision", Numer. Math. 18,
1971): ``0.0005`` is a little above ``5e-4`` and prints ``0.001``.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["format_block"]

_LIMIT = 2.0 ** 51  # |x| * 10**digits below this: the integer and p - k are exact


@numba.njit(cache=True, nogil=True)
def _put_fixed(buf: np.ndarray, pos: int, x: float, digits: int, scale: float,
               tmp: np.ndarray) -> int:
    """Write ``x`` with ``digits`` decimals at ``buf[pos:]``; the new position, or -1
    when ``x`` is outside the exact range."""
    if x != x:
        buf[pos] = 110  # nan
        buf[pos + 1] = 97
        buf[pos + 2] = 110
        return pos + 3
    if np.signbit(x):
        buf[pos] = 45  # "-", also for -0.0, as Python
        pos += 1
    a = abs(x)
    if a == np.inf:
        buf[pos] = 105  # inf
        buf[pos + 1] = 110
        buf[pos + 2] = 102
        return pos + 3
    p = a * scale
    if p >= _LIMIT:
        return -1
    k = np.rint(p)
    frac = p - k
    if frac == 0.5 or frac == -0.5:
        t = 134217729.0 * a  # Veltkamp's split: a == hi + lo, 26 bits each
        hi = t - (t - a)
        lo = a - hi
        err = (hi * scale - p) + lo * scale  # exact: a * scale == p + err
        if frac == 0.5 and err > 0.0:
            k += 1.0
        elif frac == -0.5 and err < 0.0:
            k -= 1.0
    v = np.uint64(k)
    ten = np.uint64(10)
    n = 0
    while True:  # digits, last first (unsigned: no sign fix-ups in the division)
        q = v // ten
        tmp[n] = np.uint8(48 + (v - q * ten))
        v = q
        n += 1
        if v == 0 and n > digits:
            break
    for c in range(n - 1, -1, -1):
        if c == digits - 1:
            buf[pos] = 46  # "."
            pos += 1
        buf[pos] = tmp[c]
        pos += 1
    return pos


@numba.njit(cache=True, nogil=True)
def format_block(kinds: np.ndarray, texts: np.ndarray, numbers: np.ndarray,
                  digits: np.ndarray, tables: np.ndarray, starts: np.ndarray,
                  codes: np.ndarray, buf: np.ndarray) -> int:
    """Rows of ``kinds`` (0: text column ``texts[c]``, 1: number column) into ``buf``;
    bytes written, or -1 when a number is outside the exact range."""
    m = codes.shape[0] if codes.shape[1] else numbers.shape[0]
    tmp = np.empty(32, np.uint8)
    scales = np.empty(digits.shape[0])
    for c in range(digits.shape[0]):
        scales[c] = 10.0 ** digits[c]
    pos = 0
    for r in range(m):
        ti = 0
        ni = 0
        for c in range(kinds.shape[0]):
            if c:
                buf[pos] = 44  # ","
                pos += 1
            if kinds[c] == 0:
                s = codes[r, ti] + texts[ti]
                for b in range(starts[s], starts[s + 1]):
                    buf[pos] = tables[b]
                    pos += 1
                ti += 1
            else:
                pos = _put_fixed(buf, pos, numbers[r, ni], digits[ni], scales[ni], tmp)
                if pos < 0:
                    return -1
                ni += 1
        buf[pos] = 10  # "\n"
        pos += 1
    return pos
