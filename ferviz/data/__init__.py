"""The data layer: labelled face datasets read from their releases, images decoded safely, model inputs.

- :mod:`~ferviz.data.datasets` (and ``_readers``): one reader per release (FER2013, CK+, JAFFE, RAF-DB,
  an ``.npz``, a folder per class) into a :class:`FaceDataset`; :func:`load_dataset` picks it.
- :mod:`~ferviz.data.labels`: the seven emotions and the spellings releases use.
- :mod:`~ferviz.data.imageio`: untrusted bytes or paths decoded to RGB, with limits.
- :mod:`~ferviz.data.preprocess`: :class:`Preprocessing`, crops to the model's input planes.
- :mod:`~ferviz.data.hog`, :mod:`~ferviz.data.augment`, :mod:`~ferviz.data.samples`,
  :mod:`~ferviz.data.ferplus`, :mod:`~ferviz.data.camera`: HOG features, training augmentation,
  the built-in sample faces, FER+ vote labels, camera-photo degradations.

Nothing here knows about a model. The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "FaceDataset": "datasets", "DATASET_READERS": "datasets", "load_dataset": "datasets",
    "detect_kind": "datasets", "EMOTIONS": "labels", "ALL_LABELS": "labels", "index_of": "labels",
    "DecodedImage": "imageio", "decode_image": "imageio", "Preprocessing": "preprocess",
    "prepare_images": "preprocess", "hog_descriptor": "hog",
})
