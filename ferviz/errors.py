"""The project's own error types: every expected failure is one of these, with a message saying what to do."""


class FervizError(Exception):
    """Base class of every error ferviz raises on purpose (bad input, bad file, bad config)."""


class ImageError(FervizError):
    """An image could not be decoded or is refused (empty, corrupt, too many pixels, ...)."""


class DatasetError(FervizError):
    """A dataset file or folder is malformed; the message names the file (and line) and what was expected."""


class CheckpointError(FervizError):
    """A checkpoint is missing, corrupt, foreign, or fails its sha256 check."""


class VideoError(FervizError):
    """A video file cannot be read (empty, not a video, no video stream, cut short before any frame)."""
