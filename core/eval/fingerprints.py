"""What a derived result was computed from: the sha256 of each checkpoint it used and of the
scoring classifier. A shipped result (a sweep, a timeline, a findings row, a quality row) records
its fingerprint; `stale` compares it with the files now and `stale_note` says what changed and
the command that refreshes it (core/results/freshness.py holds those commands)."""
from __future__ import annotations

from core.errors import CheckpointError
from core.eval.score_files import classifier_sha
from core.store.registry import checkpoint_sha

CLASSIFIER = "classifier"  # the key of the scoring classifier in a fingerprint
MISSING = "missing"  # a model that no longer resolves


def model_sha(model: str) -> str:
    """The sha256 of MODEL's checkpoint file (what every score cache keys on), or 'missing'."""
    try:
        return checkpoint_sha(model)
    except CheckpointError:
        return MISSING


def fingerprint(*models: str, classifier: bool = True) -> dict[str, str]:
    """What a derived result (a sweep, a timeline, a findings row, a quality row) was computed
    from: {model: sha256 of its checkpoint} and, with `classifier`, {"classifier": the scoring
    classifier's sha256}. A shipped result records it; `stale` compares it with the files now."""
    fp = {m: model_sha(m) for m in models}
    if classifier:
        fp[CLASSIFIER] = classifier_sha()
    return fp


def stale(recorded: dict | None, *models: str, classifier: bool = True) -> list[str]:
    """The names whose fingerprint now differs from `recorded` ([] = fresh). A result that
    recorded no fingerprint (shipped before they were kept) is stale in every name."""
    now = fingerprint(*models, classifier=classifier)
    recorded = recorded if isinstance(recorded, dict) else {}
    return [k for k, v in now.items() if recorded.get(k) != v]


def stale_note(what: str, recorded: dict | None, models: tuple[str, ...] | list[str], command: str,
               classifier: bool = True) -> str | None:
    """One line for a page and the CLI when `what` (computed from `models`, scored by the
    classifier) may no longer hold: what changed since, and the command that refreshes it; None
    when it is fresh."""
    changed = stale(recorded, *models, classifier=classifier)
    if not changed:
        return None
    names = " and ".join("the classifier" if c == CLASSIFIER else c for c in changed)
    if not isinstance(recorded, dict) or not recorded:
        why = f"records no fingerprint of {names} (computed before fingerprints were kept), so it may be stale"
    else:
        why = f"is stale: {names} changed since it was computed"
    return f"{what} {why}. Refresh it: `{command}`"
