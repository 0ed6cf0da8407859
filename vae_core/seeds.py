"""The named random streams of one run, each with its own seed derived from the run's seed.

``models.build_model`` seeds the initial weights from seed*3+1..3; a stream here gets its own
63-bit seed from numpy's SeedSequence, so no stream shares a generator state with another or with
the weights (with seed + 1 and seed + 2 the training noise replayed the encoder's init stream and
the test noise the decoder's).
"""
from __future__ import annotations

import numpy as np

STREAMS = ("noise", "test_noise", "codes")  # codes: generation.decoder_codes' one z per image


def stream_seed(seed: int, stream: str) -> int:
    """The seed of ``stream`` (one of ``STREAMS``) for a run seeded ``seed``."""
    state = np.random.SeedSequence([int(seed), STREAMS.index(stream) + 1, 0x5EED]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)
