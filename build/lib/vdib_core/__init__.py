"""vdib_core: hybrid SNN -> ANN autoencoders trained with the variational directed information
bottleneck (Skatchkovsky, Simeone & Jang, NeurIPS 2021). Tensors are time-first: [T, B, N].

Read the package in this order: neurons -> model -> objective -> train -> experiments; information
and data stand on their own.
"""
__version__ = "0.1.0"

from .neurons import Surrogate, LIFLayer, StochasticReadout, raised_cosine_basis  # noqa: F401
from .model import VDIBConfig, SNNEncoder, Decoder, HybridModel  # noqa: F401
from .objective import (  # noqa: F401
    bernoulli_kl, spike_log_likelihood, decoder_nll, vdib_loss, estimator_loss,
)
from .train import TrainConfig, fit, evaluate, save_checkpoint, load_checkpoint, pick_device  # noqa: F401
from .information import (  # noqa: F401
    directed_information, directed_information_ci, directed_information_ctw, spike_directed_information,
)
from .experiments.analysis import InformationPlane, information_plane  # noqa: F401
