"""Nothing lost at any crash point: the driver is killed right after each durable action of a
sweep (every one, not a sample), resumed, and the invariants of docs/guide/durability.md are
checked. The harness lives in ``tests/crashpoints.py``; ``python tests/crashpoints.py --long``
is the long version (bigger sweeps, torn journal writes too)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def test_every_crash_point_of_five_schedulers_with_the_inline_executor():
    """FIFO, ASHA, Hyperband, PBT and BOHB, every k, with the inline executor and with the
    simulated one (3 workers: interleaved trials); a child process per crash, forked."""
    done = subprocess.run([sys.executable, os.path.join(HERE, "crashpoints.py")],
                          capture_output=True, text=True, env=_env(), timeout=900)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("crash points tried: ") and last.endswith("violations: 0")
    assert int(last.split(":")[1].split(",")[0]) > 300


def test_the_environment_variable_kills_the_driver_at_its_kth_durable_action(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent("""
        import sys
        import raysweep as rs
        from crashpoints import objective, sweep_args
        rs.run(objective, name="x", storage_path=sys.argv[1], **sweep_args("fifo", False))
    """))
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "r")], env=_env(
        RAYSWEEP_CRASH_AT="12"), capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr
    import raysweep as rs

    partial = rs.load(str(tmp_path / "r" / "x"))  # a consistent prefix
    assert 0 < len(partial) < 3
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "r2")], env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


RAY_DRIVER = textwrap.dedent("""
    import sys
    import cloudpickle
    import raysweep as rs
    import crashpoints
    cloudpickle.register_pickle_by_value(crashpoints)  # the workers do not import tests/
    args = crashpoints.sweep_args(sys.argv[2], False)
    args.update(executor="ray", address=sys.argv[3], max_concurrent=2)
    rs.run(crashpoints.objective, name="x", storage_path=sys.argv[1], resume=True, **args)
""")


@pytest.mark.ray
@pytest.mark.parametrize("scheduler,crash_at", [("fifo", 9), ("asha", 17), ("pbt", 25)])
def test_a_sample_of_crash_points_with_the_ray_executor(ray_session, tmp_path, scheduler,
                                                        crash_at):
    """Killed at its k-th durable action, the Ray driver is resumed (by a second driver
    process) and the same invariants hold."""
    import crashpoints

    from raysweep.execution.ray_executor import release_workers

    release_workers()  # the subprocess drivers need the CPUs our idle pool would hold
    address = ray_session.get_runtime_context().gcs_address
    script = tmp_path / "ray_driver.py"
    script.write_text(RAY_DRIVER)
    storage = str(tmp_path / "r")
    path = os.path.join(storage, "x")
    log = path + ".log"
    argv = [sys.executable, str(script), storage, scheduler, address]
    killed = subprocess.run(argv, env=_env(RAYSWEEP_CRASH_AT=str(crash_at),
                                           RAYSWEEP_CRASHPOINT_LOG=log),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    harness = crashpoints.Harness(scheduler, str(tmp_path / "baseline"))
    baseline = os.path.join(str(tmp_path / "baseline"), "b")
    os.environ[crashpoints.LOG_ENV] = baseline + ".log"
    try:
        import raysweep as rs

        rs.run(crashpoints.objective, name="b", storage_path=os.path.dirname(baseline),
               **harness.args)
    finally:
        os.environ.pop(crashpoints.LOG_ENV, None)
    harness.baseline = crashpoints._new_configs(baseline)
    harness._check_prefix(path, f"ray {scheduler} k={crash_at}")
    resumed = subprocess.run(argv, env=_env(RAYSWEEP_CRASHPOINT_LOG=log), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    harness._check_final(path, f"ray {scheduler} k={crash_at}")
    assert harness.violations == []
