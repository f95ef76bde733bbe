"""``rs.Checkpoint``: directory round trips (nested folders, big files, links) as Ray Tune's
``Checkpoint`` users expect them, and through a run."""

from __future__ import annotations

import hashlib
import os

import pytest

import raysweep as rs
from raysweep.checkpoint import from_payload, release, to_payload


def _tree(root) -> dict[str, str]:
    """relative path -> sha256 of every file under ``root``."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            file = os.path.join(folder, name)
            with open(file, "rb") as handle:
                out[os.path.relpath(file, root)] = hashlib.sha256(handle.read()).hexdigest()
    return out


@pytest.fixture
def model_dir(tmp_path):
    root = tmp_path / "model"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "weights.bin").write_bytes(os.urandom(24 * 1024 * 1024))  # a big file
    (root / "a" / "b" / "c" / "état.json").write_text('{"step": 3}', encoding="utf-8")
    (root / "a" / "notes.txt").write_text("nested", encoding="utf-8")
    return root


def test_from_directory_to_directory_and_as_directory_round_trip(model_dir, tmp_path):
    ckpt = rs.Checkpoint.from_directory(model_dir)
    assert ckpt.path == str(model_dir) and ckpt == rs.Checkpoint(str(model_dir))
    copy = ckpt.to_directory(tmp_path / "copy")
    assert copy == str(tmp_path / "copy") and _tree(copy) == _tree(model_dir)
    fresh = ckpt.to_directory()  # a new temp directory
    assert fresh != str(model_dir) and _tree(fresh) == _tree(model_dir)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    ckpt.to_directory(tmp_path / "busy")  # into a directory that has files: they stay
    assert set(_tree(tmp_path / "busy")) == set(_tree(model_dir)) | {"keep.txt"}
    assert ckpt.to_directory(model_dir) == str(model_dir)  # onto itself: nothing to do
    with ckpt.as_directory() as path:
        assert _tree(path) == _tree(model_dir)
    assert rs.Checkpoint.from_directory(str(tmp_path / "copy")).path == str(tmp_path / "copy")


def test_bad_directories_are_clear_errors(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is not a directory"):
        rs.Checkpoint.from_directory(tmp_path / "file.txt")
    with pytest.raises(ValueError, match="is not a directory"):
        rs.Checkpoint.from_directory(tmp_path / "missing")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        rs.Checkpoint.from_directory(3)
    gone = rs.Checkpoint(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gone.to_directory(tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="does not exist"), gone.as_directory():
        pass
    with pytest.raises(TypeError, match="does not exist"):
        to_payload(gone)


def test_payload_round_trip_follows_links_and_release_removes_the_copy(model_dir, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("linked")
    os.symlink(outside, model_dir / "absolute_link.txt")  # refused by a "data" extraction
    os.symlink("a/notes.txt", model_dir / "relative_link.txt")
    payload = to_payload(rs.Checkpoint.from_directory(model_dir))
    restored = from_payload(payload)
    assert isinstance(restored, rs.Checkpoint) and restored.path != str(model_dir)
    tree = _tree(restored.path)
    assert tree["absolute_link.txt"] == hashlib.sha256(b"linked").hexdigest()
    assert tree["relative_link.txt"] == tree["a/notes.txt"]
    assert not os.path.islink(os.path.join(restored.path, "absolute_link.txt"))
    assert os.path.isdir(os.path.join(restored.path, "empty"))
    release(restored)
    assert not os.path.exists(restored.path)
    release(rs.Checkpoint.from_directory(model_dir))  # not a copy raysweep made: left alone
    assert os.path.isdir(model_dir)
    assert to_payload(None) is None and from_payload(None) is None
    assert from_payload(to_payload({"w": [1, 2]})) == {"w": [1, 2]}


def test_unpicklable_checkpoints_are_a_clear_error():
    with pytest.raises(TypeError, match="checkpoint of type generator could not be pickled"):
        to_payload(i for i in range(3))


def test_a_directory_checkpoint_through_a_run(storage, tmp_path):
    """Reported from a temporary directory deleted right after; the resumed trial, the
    results and a link inside the directory all see the same files."""
    import tempfile

    blob = os.urandom(8 * 1024 * 1024)
    (tmp_path / "shared.bin").write_bytes(blob)
    seen = []

    def objective(config):
        start = 0
        previous = rs.get_checkpoint()
        if previous is not None:
            with previous.as_directory() as path:
                with open(os.path.join(path, "deep", "er", "step.txt")) as handle:
                    start = int(handle.read())
                with open(os.path.join(path, "shared.bin"), "rb") as handle:
                    seen.append(handle.read() == blob)
        for step in range(start + 1, 7):
            with tempfile.TemporaryDirectory() as folder:
                os.makedirs(os.path.join(folder, "deep", "er"))
                with open(os.path.join(folder, "deep", "er", "step.txt"), "w") as handle:
                    handle.write(str(step))
                os.symlink(tmp_path / "shared.bin", os.path.join(folder, "shared.bin"))
                rs.report({"loss": config["x"] / step},
                          checkpoint=rs.Checkpoint.from_directory(folder))

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=6, seed=2,
                     scheduler=rs.schedulers.Hyperband(max_t=6, reduction_factor=3),
                     executor="inline", storage_path=storage, verbose=0)
    assert results.status_counts() == {"TERMINATED": 6}
    assert seen and all(seen)  # paused trials resumed from their directory checkpoints
    for trial_id, group in results.history().groupby("trial_id"):
        assert group.training_iteration.tolist() == list(range(1, len(group) + 1)), trial_id
    best = results.best_checkpoint
    with best.as_directory() as path:
        with open(os.path.join(path, "deep", "er", "step.txt")) as handle:
            assert int(handle.read()) == results.best_trial.iteration
    copy = best.to_directory(tmp_path / "best")
    assert _tree(copy)["shared.bin"] == hashlib.sha256(blob).hexdigest()


def test_the_worker_removes_its_copy_of_a_directory_checkpoint_when_the_run_ends(storage,
                                                                                 tmp_path):
    """A paused trial resumes from a directory checkpoint: the worker extracts a private
    copy for the objective, and removes it once that run has ended (no copy per resume left
    in the temp dir)."""
    seen = []

    def train(config):
        restored = rs.get_checkpoint()
        start = 0
        if restored is not None:
            seen.append(restored.path)
            start = int(open(os.path.join(restored.path, "step")).read())
        for step in range(start, 6):
            folder = tmp_path / f"{rs.get_trial_id()}-{step}"
            folder.mkdir()
            (folder / "step").write_text(str(step + 1))
            rs.report({"loss": config["x"] / (step + 1)},
                      checkpoint=rs.Checkpoint.from_directory(folder))

    results = rs.run(train, {"x": rs.uniform(0, 1)}, num_samples=6, seed=0, verbose=0,
                     scheduler=rs.schedulers.Hyperband(max_t=6), executor="inline",
                     storage_path=storage, name="release")
    assert set(results.dataframe().status) == {"TERMINATED"}
    assert seen, "no trial was resumed from its checkpoint"
    assert not [path for path in seen if os.path.exists(path)]
