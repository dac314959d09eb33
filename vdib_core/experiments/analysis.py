"""Analysis of trained models: where a model sits on the information plane (book chapter "Information
bottleneck and directed information"). The estimators on binary sequences live in `vdib_core.information`
and need no model; this module needs the model stack.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, NamedTuple

import torch

from ..information import entropy_bits
from ..model import HybridModel
from ..train import evaluate


class InformationPlane(NamedTuple):
    """Variational bounds of the VDIB objective (book chapter "The VDIB objective and its gradients") for
    one model and dataset, in bits per example (summed over time: the KL over all T steps, the relevance
    over the S decoded steps)."""
    i_xz_upper: float  # ≥ I(x → z): E[Σ_t Σ_i KL(Bern(σ(u)) ‖ Bern(r))] / ln 2
    neg_nll: float  # E[Σ_s log2 q(y_s | window)] (≤ 0 for discrete y), the part of the bound the decoder sets
    h_y: float | None  # Σ_s H(y_s), or None where it is not known
    i_zy_lower: float | None  # ≤ Σ_s I(window_s ; y_s): h_y + neg_nll, or None with h_y
    h_y_source: str  # how h_y was obtained
    n_examples: int
    decoded_steps: float  # S, the decoded steps per example (mean over examples)


@torch.no_grad()
def information_plane(model: HybridModel, data: tuple | Iterable[tuple], *, input_fn: Callable | None = None,
                      h_y: float | None = None, batch_size: int = 256, seed: int = 0) -> InformationPlane:
    """The two variational bounds of the VDIB objective for a (trained) `HybridModel` (book chapter "The VDIB
    objective and its gradients", sections "Relevance: a lower bound from any decoder" and "Compression: an
    upper bound from any reference law"):
    compression I(x → z) ≤ E[Σ_t Σ_i KL] and relevance Σ_s I(z_{s−τ_d+1..s}; y_s) ≥ Σ_s H(y_s) − E[NLL],
    converted from nats to bits, estimated with one draw of z ~ Bernoulli per example.

    data: a tuple (X, Y) of batch-first tensors or an iterable of such batches, as `train.evaluate`
    takes them: `input_fn(X, generator)` -> spikes [T, B, N_in] (without it X is [B, T, N_in]);
    sequence targets Y are [B, T, ...].
    H(y): for categorical targets, the plug-in entropy of the decoded-step labels pooled over steps and
    examples, times S. The plug-in underestimates in expectation (the bound stays conservative); pooling
    over steps assumes a stationary target (otherwise, by concavity, it overestimates the mean per-step
    entropy). For Bernoulli (pixel) and Gaussian targets H(y) is not computable from the data: grey
    levels are not binary outcomes, per-pixel entropies only bound the joint entropy from above, and a
    differential entropy needs a density estimate. Pass `h_y`, an estimate of H(y_s) in bits per
    decoded step, or read only `neg_nll`.
    """
    cfg = model.cfg
    single = isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(d) for d in data)
    kl = nll = decoded = 0.0
    n_examples, labels = 0, []
    for k, (X, Y) in enumerate([data] if single else data):
        stats = evaluate(model, (X, Y), input_fn=input_fn, batch_size=batch_size, sample="bernoulli", seed=seed + k)
        kl, nll, n_examples = kl + stats["kl"] * len(X), nll + stats["nll"] * len(X), n_examples + len(X)
        y_steps = Y[:, cfg.tau_d - 1:] if cfg.target == "sequence" else Y[:, None]  # [B, S, ...] decoded steps
        decoded += y_steps.shape[1] * len(X)
        if cfg.likelihood == "categorical":
            labels.append(y_steps.flatten().cpu())
    if n_examples == 0:
        raise ValueError("data holds no examples")
    if cfg.likelihood == "categorical" and h_y is None:
        counts = torch.bincount(torch.cat(labels)).numpy()
        per_step = float(entropy_bits(counts, miller_madow=False))
        source = f"plug-in entropy of {int(counts.sum())} decoded-step labels ({per_step:.4g} bits per step)"
    elif h_y is not None:
        per_step, source = float(h_y), "provided by the caller (bits per decoded step)"
    else:
        per_step, source = None, f"unknown for {cfg.likelihood} targets (pass h_y)"
    steps = decoded / n_examples
    i_xz, neg_nll = kl / n_examples / math.log(2), -nll / n_examples / math.log(2)
    total_h = None if per_step is None else per_step * steps
    return InformationPlane(i_xz, neg_nll, total_h, None if total_h is None else total_h + neg_nll, source,
                            n_examples, steps)


def _need_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError("k-NN separability and t-SNE need scikit-learn: pip install 'vdib_core[events]' "
                          "(or pip install scikit-learn)") from None


def knn_separability(codes: torch.Tensor, labels: torch.Tensor, k: int = 5, folds: int = 5, seed: int = 0) -> float:
    """Class separability of codes [N, D] (e.g. readout spike trains, flattened): the accuracy of a k-nearest-
    neighbour classifier (Euclidean distance; on 0/1 codes the square root of the Hamming distance),
    cross-validated over `folds` stratified folds of the N examples (book chapter "Naturalizing MNIST-DVS").
    Chance is the largest class share. Needs at least 2 examples of every class; folds are capped at the
    smallest class count."""
    _need_sklearn()
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    X = codes.reshape(len(codes), -1).float().cpu().numpy()  # [N, D]
    y = labels.cpu().numpy()
    smallest = int(torch.unique(labels.cpu(), return_counts=True)[1].min())  # examples of the rarest class
    if len(X) != len(y) or smallest < 2:
        raise ValueError(f"need codes and labels of the same length and >= 2 examples per class, got {len(X)} "
                         f"codes, {len(y)} labels, smallest class {smallest}")
    cv = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
    n_fit = len(X) - len(X) // cv.n_splits  # training examples per fold (at least)
    knn = KNeighborsClassifier(n_neighbors=min(k, n_fit))
    return float(cross_val_score(knn, X, y, cv=cv).mean())


def embed_2d(codes: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A 2-D t-SNE embedding (van der Maaten & Hinton 2008; scikit-learn) of codes [N, D] -> [N, 2], for
    pictures only: distances between far-apart points in it mean little."""
    _need_sklearn()
    from sklearn.manifold import TSNE

    X = codes.reshape(len(codes), -1).float().cpu().numpy()  # [N, D]
    tsne = TSNE(n_components=2, perplexity=min(30.0, (len(X) - 1) / 3), init="pca", random_state=seed)
    return torch.from_numpy(tsne.fit_transform(X)).float()
