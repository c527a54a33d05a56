"""MNIST on disk (core/store/mnist.py): the real splits, checksums and a tampered cache, the restricted
unpickler, the device loader."""
import gzip
import io
import pickle

import numpy as np
import pytest
import torch

from core.store import mnist as data


def test_splits_are_real_mnist():
    sizes = {s: len(data.load_split(s)[0]) for s in data.SPLITS}
    assert sizes == {"train": 50_000, "valid": 10_000, "test": 10_000}
    x, y = data.load_split("test")
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and x.max() == 255 and x.min() == 0
    # the standard MNIST test set's class counts
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_model_range_round_trips():
    x, _ = data.load_split("valid")
    t = data.to_model_range(x[:50])
    assert t.shape == (50, 784) and t.min() >= -1 and t.max() <= 1
    assert torch.equal(data.to_uint8(t), torch.as_tensor(x[:50]))


def test_restricted_unpickler_refuses_other_globals():
    payload = pickle.dumps(print)  # a reference to builtins.print
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        data._NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def test_checksum_mismatch_is_a_clear_error():
    bad = gzip.compress(b"not mnist")
    with pytest.raises(data.DataError, match="sha256"):
        data.convert_pickle(bad)


def test_missing_cache_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_DATA", str(tmp_path))
    with pytest.raises(data.DataError, match="make data"):
        data.load_arrays()


def test_corrupt_cache_is_detected(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_LAB_DATA", str(tmp_path))
    (tmp_path / data.CACHE_NAME).write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="unreadable"):
        data.load_arrays()


def test_tampered_cache_fails_checksum(tmp_path, monkeypatch):
    arrays = dict(data.load_arrays())
    arrays["y_test"] = arrays["y_test"].copy()
    arrays["y_test"][0] = (arrays["y_test"][0] + 1) % 10
    monkeypatch.setenv("LATENT_LAB_DATA", str(tmp_path))
    np.savez(tmp_path / data.CACHE_NAME, **arrays)
    with pytest.raises(data.DataError, match="checksum"):
        data.load_arrays()


def test_device_loader_is_deterministic_and_full_batches():
    def order(seed):
        loader = data.DeviceLoader("train", 32, "cpu", torch.Generator().manual_seed(seed), limit=256)
        return [y.clone() for _, y in loader.batches()]
    a, b, c = order(0), order(0), order(1)
    assert len(a) == 8 and all(len(y) == 32 for y in a)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(torch.equal(u, v) for u, v in zip(a, c))


def test_loader_start_skips_batches():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    full = [y for _, y in data.DeviceLoader("train", 32, "cpu", g1, limit=256).batches()]
    tail = [y for _, y in data.DeviceLoader("train", 32, "cpu", g2, limit=256).batches(start=5)]
    assert len(tail) == 3 and all(torch.equal(u, v) for u, v in zip(full[5:], tail))
