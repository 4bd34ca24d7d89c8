"""The pipeline layer: bytes, frames and files to faces to probabilities, on every path of the app.

- :mod:`~ferviz.pipeline.detect` and :mod:`~ferviz.pipeline.faces`: where the faces of an image are (YuNet,
  with its 5 landmarks, or OpenCV's cascade), and :class:`FaceOptions`, the settings every path shares.
- :mod:`~ferviz.pipeline.crop`: the one crop policy, aligned on the landmarks the way FER2013's faces sit.
- :mod:`~ferviz.pipeline.inference`: :func:`classify_faces`, the one detect -> crop -> classify step, and its
  row type; :func:`predict` for one picture.
- :mod:`~ferviz.pipeline.tta`: test-time views, and a checkpoint's own (:func:`model_views`).
- :mod:`~ferviz.pipeline.video`, :mod:`~ferviz.pipeline.tracking` and :mod:`~ferviz.pipeline.live`: video
  files and camera streams, with a track id per face; :mod:`~ferviz.pipeline.batch` and
  :mod:`~ferviz.pipeline.folders`: many files, and labelled folders of photos.
- :mod:`~ferviz.pipeline.fastpath`: the same network run by ONNX Runtime.

The public names below are imported lazily.
"""

from ferviz._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "FaceOptions": "faces", "find_faces": "faces", "classify_faces": "inference", "classify_crops": "inference",
    "predict": "inference", "ImagePrediction": "inference", "FacePrediction": "inference", "model_views": "tta",
    "predict_video": "video", "predict_path": "batch",
})
