"""A fair generation test: decode draws from three sources and let the judge classifier score them.

"An AE's latent space is bad for generation" is only half the story if the AE is sampled from
N(0, I), a prior it was never trained towards. So every model is sampled three ways (``SOURCES``):

``prior``
    z ~ N(0, I): what a VAE is built for. Same seed, same draws as the scorecard always used.
``fitted``
    z ~ N(m̂, Σ̂), the mean and covariance of the model's own test codes (``decoder_codes``: the
    AE's z; for the VAE one z ~ q(z|x) per image): the best a user could do for an AE without a
    prior.
``box``
    z uniform over the bounding box (min to max per dim) of those codes.
``mixture`` (``AE_SOURCES``: the Generate page's AE only, not a scorecard key)
    z from a 10-Gaussian mixture fitted to those codes after training (``density``, Ghosh et
    al. 2020), judged exactly like the three above.

For each draw: where it lands (``nearest``: distance to the nearest test code; ``in_gap`` when
that exceeds ``codes.gap_radius``, the 95th percentile of the codes' own nearest-neighbour
distances, so about 5% is the baseline of a space without gaps) and what the judge sees in its
decoding (``confidence``: the top class probability, ``label``: that class). A draw is
*confident* when confidence ≥ ``CONFIDENT`` (0.9). A class is *covered* when at least
``COVER_FRACTION`` (a fifth) of its fair share 1/K of all draws decode to confident images of it:
2% of the draws for ten classes (20 of 1,000).

``generation_scores`` flattens the three tests into the scorecard's keys (see ``scorecard``); a page
that calls ``generation_test`` with the same codes, judge, ``n`` and ``seed`` gets the same numbers
as ``python -m vae_core evaluate --json``. All randomness uses explicit generators.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from vae_core.analysis.codes import codes_tensor, gap_radius, gaussian_fit, nearest_code_distance
from vae_core.analysis.density import sample_mixture
from vae_core.analysis.intervals import normal_interval
from vae_core.analysis.thresholds import CONFIDENT, GENERATION_SAMPLES  # noqa: F401 (re-exported)
from vae_core.models import LatentModel, reparameterize
from vae_core.text import N_
from vae_core.seeds import stream_seed

SOURCES = ("prior", "fitted", "box")  # the scorecard's three
MIXTURE = "mixture"  # the AE plus a density fitted after training (``density``): the Generate page's
AE_SOURCES = SOURCES + (MIXTURE,)  # fourth source for the AE, not part of the scorecard
# What a page calls each source ("the AE's draws come from …"); a UI translates them when shown.
SOURCE_NAMES = {"prior": N_("N(0, I)"), "fitted": N_("a Gaussian fitted to its codes"),
                "box": N_("uniform over its codes' bounding box"),
                MIXTURE: N_("a 10-Gaussian mixture fitted to its codes")}
SOURCE_SEED_OFFSET = {"prior": 0, "fitted": 1, "box": 2, MIXTURE: 3}  # seed + offset: a stream each
COVER_FRACTION = 0.2  # a class is covered by >= COVER_FRACTION / K of the draws, confidently


def decoder_codes(mu: np.ndarray | torch.Tensor, logvar: np.ndarray | torch.Tensor | None,
                  seed: int = 0) -> torch.Tensor:
    """The codes the decoder was trained on, one per test image (N, D) float32: the AE's z
    (``logvar`` None) or one seeded z = mu + sigma * eps ~ q(z|x) per image for the VAE. Its mu
    alone is too narrow (Var[mu] + E[sigma^2] ≈ 1): N(0, I) draws would look "in a gap" at its
    rim. These are the ``codes`` every function below takes."""
    mu_t = codes_tensor(mu, torch.float32)
    if logvar is None:
        return mu_t
    # Its own stream: with manual_seed(seed) the eps of these codes were the prior draws of
    # sample_codes("prior", seed=seed), so a collapsed VAE's prior draws sat exactly on its codes.
    return reparameterize(mu_t, codes_tensor(logvar, torch.float32),
                          torch.Generator().manual_seed(stream_seed(int(seed), "codes")))


def sample_codes(source: str, codes: np.ndarray | torch.Tensor, n: int = GENERATION_SAMPLES,
                 seed: int = 0) -> torch.Tensor:
    """n draws (n, D) float32 from ``source`` (see the module docstring, and ``density`` for the
    mixture), fitted to ``codes``."""
    if source not in AE_SOURCES:
        raise ValueError(f"source must be one of {AE_SOURCES}, got {source!r}")
    c = codes_tensor(codes, torch.float64)
    d = c.shape[1]
    if source == MIXTURE:
        return sample_mixture(c, n, int(seed) + SOURCE_SEED_OFFSET[source])
    gen = torch.Generator().manual_seed(int(seed) + SOURCE_SEED_OFFSET[source])
    if source == "prior":
        return torch.randn((n, d), generator=gen)
    if source == "fitted":
        mean, cov = gaussian_fit(c)
        chol = torch.linalg.cholesky(cov)
        eps = torch.randn((n, d), generator=gen, dtype=torch.float64)
        return (mean + eps @ chol.T).float()
    lo, hi = c.min(0).values, c.max(0).values
    return (lo + (hi - lo) * torch.rand((n, d), generator=gen, dtype=torch.float64)).float()


@torch.no_grad()
def judge_codes(model: LatentModel, judge: Any, z: torch.Tensor | np.ndarray,
                batch: int = 4096) -> tuple[np.ndarray, np.ndarray, int]:
    """Decode codes z (n, D) and judge each image: (confidence (n,), predicted class (n,),
    the judge's number of classes K)."""
    z = torch.as_tensor(z)
    clf = getattr(judge, "model", judge)  # a JudgedClassifier or the bare classifier
    probs = []
    for i in range(0, len(z), batch):
        images = torch.sigmoid(model.decode(z[i:i + batch].float()))
        probs.append(clf.probs(images) if hasattr(clf, "probs") else torch.softmax(clf(images), 1))
    p = torch.cat(probs) if probs else torch.zeros((0, int(getattr(clf, "n_classes", 1))))
    top, label = p.max(1)
    return top.numpy().astype(np.float64), label.numpy().astype(np.int64), int(p.shape[1])


@dataclass(frozen=True)
class GenerationTest:
    """The judged draws of one source for one model, with the summary numbers as properties."""

    source: str
    z: np.ndarray  # (n, D) float32
    confidence: np.ndarray  # (n,) the judge's top class probability for each decoded draw
    label: np.ndarray  # (n,) its predicted class
    nearest: np.ndarray  # (n,) distance to the nearest test code
    gap_radius: float  # nearest > gap_radius: the draw is in a gap
    n_classes: int
    class_freq: np.ndarray  # (K,) the data's class shares, for the per-class cap
    threshold: float = CONFIDENT

    @property
    def n(self) -> int:
        return len(self.z)

    @property
    def confident(self) -> np.ndarray:
        return self.confidence >= self.threshold

    @property
    def in_gap(self) -> np.ndarray:
        return self.nearest > self.gap_radius

    @property
    def class_counts(self) -> np.ndarray:
        """(K,) confident draws per predicted class: the histogram a page shows."""
        return np.bincount(self.label[self.confident], minlength=self.n_classes)[: self.n_classes]

    @property
    def classes_covered(self) -> int:
        """Classes with at least COVER_FRACTION / K of all draws confidently judged as them."""
        return int((self.class_counts >= COVER_FRACTION / self.n_classes * self.n).sum()) \
            if self.n else 0

    @property
    def confident_raw(self) -> float:
        return float(self.confident.mean()) if self.n else 0.0

    @property
    def confident_capped(self) -> float:
        """Confident share with each class counted at most up to its share of the data."""
        cap = self.class_freq * self.n
        return float(np.minimum(self.class_counts, cap).sum() / max(1, self.n))

    @property
    def class_entropy(self) -> float:
        """Entropy (nats) of the predicted classes of all draws (ln K = all classes equally)."""
        hist = np.bincount(self.label, minlength=self.n_classes) / max(1, self.n)
        nz = hist[hist > 0]
        return float(-(nz * np.log(nz)).sum())

    @property
    def gap_share(self) -> float:
        return float(self.in_gap.mean()) if self.n else 0.0

    def resampled(self, idx: np.ndarray) -> "GenerationTest":
        """The same test on the draws ``idx`` (a bootstrap resample)."""
        return replace(self, z=self.z[idx], confidence=self.confidence[idx], label=self.label[idx],
                       nearest=self.nearest[idx])

    def bootstrap_intervals(self, reps: int, seed: int = 0,
                            level: float = 0.95) -> dict[str, list[float] | None]:
        """95% normal bootstrap intervals (``intervals.normal_interval``) of the summary's shares and
        entropy over ``reps`` resamples of the draws (seeded): the margin of a number measured
        on n random draws."""
        keys = ("confident", "confident_raw", "class_entropy", "in_gaps")
        if self.n < 2 or reps < 2:
            return {f"{self.source}_{k}": None for k in keys}
        rng = np.random.default_rng(seed)
        rows = []
        for _ in range(reps):
            t = self.resampled(rng.integers(0, self.n, self.n))
            rows.append((t.confident_capped, t.confident_raw, t.class_entropy, t.gap_share))
        values = np.array(rows)
        full = (self.confident_capped, self.confident_raw, self.class_entropy, self.gap_share)
        return {f"{self.source}_{k}": normal_interval(v, values[:, i], level)
                for i, (k, v) in enumerate(zip(keys, full))}

    def summary(self) -> dict[str, Any]:
        """The scorecard keys of this source, prefixed by its name (``prior_confident``…)."""
        s = self.source
        return {f"{s}_confident": self.confident_capped, f"{s}_confident_raw": self.confident_raw,
                f"{s}_class_entropy": self.class_entropy,
                f"{s}_classes_covered": self.classes_covered, f"{s}_in_gaps": self.gap_share,
                f"{s}_class_counts": [int(v) for v in self.class_counts]}


def class_shares(class_freq: Any, k: int) -> np.ndarray:
    """(K,) class shares summing to 1 from counts (uniform when missing or of the wrong length)."""
    f = None if class_freq is None else np.asarray(class_freq, dtype=np.float64).ravel()
    if f is None or len(f) != k or not f.sum() > 0:
        return np.full(k, 1.0 / k)
    return f / f.sum()


def generation_test(model: LatentModel, codes: np.ndarray | torch.Tensor, judge: Any,
                    source: str = "prior", n: int = GENERATION_SAMPLES, seed: int = 0,
                    class_freq: Any = None, radius: float | None = None) -> GenerationTest:
    """Draw n codes from ``source`` fitted to ``codes`` (the model's test codes), decode them and
    judge each. ``class_freq`` (K,) are the test split's class counts (uniform if None);
    ``radius`` the gap radius if already computed for these codes."""
    z = sample_codes(source, codes, n, seed)
    confidence, label, k = judge_codes(model, judge, z)
    r = gap_radius(codes) if radius is None else radius
    return GenerationTest(source, z.numpy(), confidence, label, nearest_code_distance(z, codes), r,
                          k, class_shares(class_freq, k))


def generation_tests(model: LatentModel, codes: np.ndarray | torch.Tensor, judge: Any,
                     n: int = GENERATION_SAMPLES, seed: int = 0, class_freq: Any = None,
                     sources: tuple[str, ...] = SOURCES) -> dict[str, GenerationTest]:
    """``generation_test`` for every source in ``sources`` (one gap radius for all)."""
    r = gap_radius(codes)
    return {s: generation_test(model, codes, judge, s, n, seed, class_freq, r) for s in sources}


@torch.no_grad()
def dataset_generation_tests(model: LatentModel, dataset: Any, judge: Any,
                             n: int = GENERATION_SAMPLES, seed: int = 0,
                             encoded: tuple[torch.Tensor, torch.Tensor | None] | None = None,
                             sources: tuple[str, ...] = SOURCES) -> dict[str, GenerationTest]:
    """Exactly the scorecard's generation tests for ``model`` on ``dataset.test_x``: a page that
    calls this with the scorecard's ``seed`` (default 0) and ``n`` shows ``evaluate --json``'s
    numbers, and its tiles are ``tests[source].z[:64]`` (decoded with their confidence).
    ``encoded`` = ``model.encode_all(dataset.test_x)`` when the caller has it already;
    ``sources=AE_SOURCES`` adds the fitted mixture."""
    clf = getattr(judge, "model", judge)
    mu, logvar = encoded if encoded is not None else model.encode_all(dataset.test_x)
    freq = torch.bincount(dataset.test_y, minlength=int(getattr(clf, "n_classes", 0)))
    return generation_tests(model, decoder_codes(mu, logvar, seed), clf, n, seed, freq, sources)


def generation_scores(tests: dict[str, GenerationTest]) -> dict[str, Any]:
    """The flat scorecard keys of ``generation_tests``' result, plus ``generation_n`` and
    ``gap_radius``."""
    out: dict[str, Any] = {}
    for t in tests.values():
        out.update(t.summary())
    first = next(iter(tests.values()))
    out["generation_n"] = first.n
    out["gap_radius"] = first.gap_radius if math.isfinite(first.gap_radius) else None
    return out
