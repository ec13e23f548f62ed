"""Classifier outputs to ranked classes: scores to probabilities, label names, top K.

Plain functions of arrays and metadata, shared by `tinycnn infer` and any other caller that
classifies with a session (a batch job, a server):

    scores = class_scores(sess.run(None, {name: x})[0], len(x))
    probs, _ = to_probabilities(scores)
    labels = labels_for(probs.shape[1], model_metadata)
    [top_k(p, 5, labels) for p in probs]
"""
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
IMAGENET_LABELS = os.path.join(DATA_DIR, "imagenet_classes.txt")


class LabelError(ValueError):
    """A labels file that is missing, unreadable or too short.  The message names the file."""


def read_labels(path: str) -> List[str]:
    """One label per line (trailing blank lines dropped)."""
    if not os.path.exists(path):
        raise LabelError(f"{path}: no such labels file")
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.rstrip("\r\n") for line in f]
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise LabelError(f"{path}: cannot read labels ({reason})") from None
    while labels and not labels[-1].strip():
        labels.pop()
    return labels


def labels_for(num_classes: int, metadata: Dict[str, str],
               labels_file: Optional[str] = None) -> Optional[List[str]]:
    """`labels_file`, else the file the model's metadata names (`tinycnn.labels`, in tinycnn's
    data folder), else the ImageNet-1k names for 1000 classes (1001: with background first);
    None when nothing fits."""
    if labels_file:
        labels = read_labels(labels_file)
        if len(labels) < num_classes:
            raise LabelError(f"{labels_file}: {len(labels)} labels for a model with {num_classes} classes")
        return labels
    named = metadata.get("tinycnn.labels")
    if named:
        path = os.path.join(DATA_DIR, os.path.basename(named))
        if os.path.exists(path):
            labels = read_labels(path)
            if len(labels) >= num_classes:
                return labels
    if num_classes in (1000, 1001):
        labels = read_labels(IMAGENET_LABELS)
        return labels if num_classes == 1000 else ["background"] + labels
    return None


def class_scores(output, n: int) -> np.ndarray:
    """A model output to [n, classes]: drops the 1-sized spatial dims of [N, K, 1, 1]."""
    out = np.asarray(output)
    if out.ndim == 1 and n == 1:
        out = out[None, :]
    if out.ndim == 0 or out.shape[0] != n:
        raise ValueError(f"model output has shape {list(out.shape)}, expected batch {n} first")
    return out.reshape(n, -1)


def to_probabilities(scores: np.ndarray) -> Tuple[np.ndarray, bool]:
    """[N, classes] scores to probabilities, and whether softmax was applied: rows that
    already are distributions (non-negative, summing to 1) are kept."""
    scores = np.asarray(scores, np.float64)
    if (np.all(np.isfinite(scores)) and scores.min() >= 0.0 and scores.max() <= 1.0
            and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3)):
        return scores, False
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), True


def top_k(probabilities, k: int, labels: Optional[List[str]] = None) -> List[dict]:
    """The k most probable classes of one row, best first (ties: lower index first), as
    {"index", "label", "probability"}; a class without a label is named by its index."""
    p = np.asarray(probabilities).reshape(-1)
    labels = labels or []
    best = np.argsort(-p, kind="stable")[:min(k, p.size)]
    return [{"index": int(i), "label": labels[i] if i < len(labels) else str(int(i)),
             "probability": float(p[i])} for i in best]
