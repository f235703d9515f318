"""Surrogate keys of the star schema: computed from (retailer_code, natural key), never
looked up, so every run and process gives a row the same key."""

from __future__ import annotations

import numpy as np
import pandas as pd

_MASK63 = np.uint64(0x7FFF_FFFF_FFFF_FFFF)


def surrogate_key(retailer_code: pd.Series, natural_key: pd.Series, repeated: bool = True) -> np.ndarray:
    """Deterministic 63-bit key of (retailer_code, natural key), vectorised (int64 >= 0).

    pandas' hash_array is SipHash-2-4 with a fixed key over the UTF-8 text
    "{retailer_code}\x1f{natural_key}", so a key is the same in every run and process.
    With `repeated` (dimension keys) each distinct pair is hashed once; transaction ids, unique
    per row, are hashed directly. Both give the same key for the same pair. A collision would be refused by the loader (and trip
    the dimension's unique natural key), never merged silently.
    """
    if not repeated:
        texts = retailer_code.astype("str") + "\x1f" + natural_key.astype("str")
        hashed = pd.util.hash_array(texts.to_numpy(dtype=object), categorize=False)
        return (hashed & _MASK63).astype(np.int64)
    r_codes, r_uniq = pd.factorize(retailer_code, use_na_sentinel=False)
    k_codes, k_uniq = pd.factorize(natural_key, use_na_sentinel=False)
    width = max(len(k_uniq), 1)
    pair = r_codes.astype(np.int64) * width + k_codes.astype(np.int64)
    p_codes, p_uniq = pd.factorize(pair)
    texts = (pd.Series(np.asarray(r_uniq, dtype=object)[p_uniq // width], dtype="str") + "\x1f"
             + pd.Series(np.asarray(k_uniq, dtype=object)[p_uniq % width], dtype="str"))
    hashed = pd.util.hash_array(texts.to_numpy(dtype=object), categorize=False)
    return (hashed & _MASK63).astype(np.int64)[p_codes]
