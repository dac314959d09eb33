"""Data for the book's experiments: spike encoders, drifting blobs, MNIST, event-camera data."""
from .encoders import rate_encode, latency_encode  # noqa: F401
from .blobs import (  # noqa: F401
    N_CLASSES, BlobTargets, blob_targets, class_to_pattern, drifting_blobs, pattern_to_class,
)
from .mnist_chain import MNISTData, MNISTUnavailable, data_dir, load_mnist  # noqa: F401
from .events import (  # noqa: F401
    EVENT_DTYPE, batch_events_to_frames, collate_time_first, events_to_frames, make_events, read_aedat,
    write_aedat,
)
from .dvs import DVSConfig, emulate_dvs, moving_digit_video  # noqa: F401
from .mnist_dvs import (  # noqa: F401
    CROPPED_SIZE, SENSOR_SIZE, EmulatedMNISTDVS, MNISTDVS, preprocess_mnist_dvs,
)
from .order import spike_order_task  # noqa: F401
