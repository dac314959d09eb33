"""The independent judge of reconstructed digits (book chapter "Naturalizing MNIST"): a LeNet-style CNN
trained on clean training images only, never on reconstructions (LeCun et al. 1998). The experiments
report its accuracy on what a hybrid model reconstructs, next to its accuracy on the clean test images.

The trained weights are a small artefact: `load_evaluator()` loads them when present and otherwise
trains them (a minute or two on a CPU, with a progress bar) and saves them for the next time.
Command line: `vdib evaluator [--retrain] [--path FILE]`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from ..data import data_dir, load_mnist

EPOCHS, BATCH, LR, SEED = 12, 64, 1e-3, 0


class LeNet(nn.Module):
    """images [B, 1, 28, 28] (or [B, 784]) in [0, 1] -> class logits [B, 10]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # [B, 6, 14, 14]
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))  # [B, 16, 5, 5]
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images.reshape(-1, 1, 28, 28)))


@dataclass
class Evaluator:
    net: LeNet
    clean_accuracy: float  # on the clean test split it was checked on
    path: Path | None
    sha256: str | None  # of the weights file: recorded in every result that uses it
    info: dict  # how it was trained (data source, sizes, epochs, seed, package version)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Class predictions [N] of images [N, 28, 28] or [N, 784] in [0, 1]."""
        device = next(self.net.parameters()).device
        self.net.eval()
        return torch.cat([self.net(images[i:i + batch_size].to(device)).argmax(-1).cpu()
                          for i in range(0, len(images), batch_size)])

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        return (self.predict(images) == labels.cpu()).double().mean().item()


def default_path() -> Path:
    """`$VDIB_EVALUATOR` if set; else `book/results/mnist/evaluator.pt` of the checkout the package runs
    from (where the committed artefact lives); else `mnist_evaluator.pt` in the data directory."""
    if os.environ.get("VDIB_EVALUATOR"):
        return Path(os.environ["VDIB_EVALUATOR"])
    checkout = Path(__file__).resolve().parents[2] / "book" / "results"
    return checkout / "mnist" / "evaluator.pt" if checkout.is_dir() else data_dir() / "mnist_evaluator.pt"


def train_evaluator(epochs: int = EPOCHS, seed: int = SEED, progress: bool = True, n_train: int | None = None,
                    device: str | torch.device = "cpu") -> Evaluator:
    """Train the LeNet on the clean training split (Adam, cross-entropy; `n_train` digits of a fixed
    subset, all by default) and measure it on the clean test split."""
    with torch.random.fork_rng(devices=[]):  # seeds its own stream: callers' random state is left as it was
        return _train(epochs, seed, progress, n_train, device)


def _train(epochs: int, seed: int, progress: bool, n_train: int | None, device: str | torch.device) -> Evaluator:
    train, test = load_mnist("train", verbose=False, n=n_train), load_mnist("test", verbose=False)
    X, Y = train.images, train.labels
    torch.manual_seed(seed)
    net = LeNet().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(total=epochs * len(X), desc="training the MNIST evaluator", unit="img", disable=not progress)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), BATCH):
            idx = order[i:i + BATCH]
            loss = nn.functional.cross_entropy(net(X[idx].to(device)), Y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(len(idx))
    bar.close()
    info = {"source": train.source, "n_train": len(X), "n_test": len(test.labels), "epochs": epochs, "seed": seed,
            "version": __version__}
    evaluator = Evaluator(net.cpu(), 0.0, None, None, info)
    evaluator.clean_accuracy = evaluator.accuracy(test.images, test.labels)
    return evaluator


def save_evaluator(evaluator: Evaluator, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in evaluator.net.state_dict().items()}
    torch.save({"state_dict": state, "clean_accuracy": evaluator.clean_accuracy, "info": evaluator.info}, path)
    evaluator.path, evaluator.sha256 = path, _sha256(path)
    return path


def load_evaluator(path: str | Path | None = None, *, train_if_missing: bool = True,
                   progress: bool = True) -> Evaluator:
    """The evaluator saved at `path` (default: `default_path()`); trained and saved there when absent."""
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        if not train_if_missing:
            raise FileNotFoundError(f"no MNIST evaluator at {path}")
        if progress:
            print(f"[evaluator] {path} not found: training one on the clean training digits")
        evaluator = train_evaluator(progress=progress)
        save_evaluator(evaluator, path)
        return evaluator
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):  # LeNet() draws initial weights: leave the caller's stream alone
            net = LeNet()
        net.load_state_dict(saved["state_dict"])
    except Exception as err:  # noqa: BLE001  (any unreadable file: say which and how to fix it)
        raise ValueError(f"cannot read the MNIST evaluator {path}: not a weights file saved by save_evaluator "
                         f"({type(err).__name__}); delete it to retrain") from err
    return Evaluator(net.eval(), float(saved["clean_accuracy"]), path, _sha256(path), dict(saved["info"]))


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

