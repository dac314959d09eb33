"""vdib_core: hybrid SNN -> ANN autoencoders trained with the variational directed information
bottleneck (Skatchkovsky, Simeone & Jang, NeurIPS 2021). Tensors are time-first: [T, B, N].

Read the package in this order: neurons -> model -> objective -> train; information and data
stand on their own.
"""
import os

# Large CPU buffers on transparent huge pages: PyTorch frees and re-allocates every weight gradient
# each step, and first-touch page faults on the fresh 4 KiB pages cost up to half of a big weight-gradient
# matmul on CPU (measured: 58 -> 28 ms for the MNIST decoder). Read by PyTorch at its first allocation,
# so it only takes effect when vdib_core is imported before tensors are created; set it to 0 to opt out.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"

from .neurons import Surrogate, LIFLayer, StochasticReadout, raised_cosine_basis  # noqa: F401
from .model import VDIBConfig, SNNEncoder, Decoder, HybridModel  # noqa: F401
from .objective import (  # noqa: F401
    bernoulli_kl, spike_log_likelihood, decoder_nll, vdib_loss, estimator_loss,
)
from .train import TrainConfig, fit, evaluate, save_checkpoint, load_checkpoint, pick_device  # noqa: F401
# --- modules owned by other work items: one import line each below ---
from .information import directed_information, directed_information_ci, directed_information_ctw, spike_directed_information, information_plane  # noqa: F401
