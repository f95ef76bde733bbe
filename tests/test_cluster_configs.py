"""The files in cluster/ are what Ray's cluster launcher and KubeRay accept, and agree with the
commands that cluster/README.md documents.

The launcher configs go through Ray's own ``prepare_config`` / ``validate_config`` (its JSON
schema plus the defaults it fills in), the same checks ``ray up`` makes before it calls the
cloud. The KubeRay manifest is checked against the field names of KubeRay's ``ray.io/v1``
``RayJob`` / ``RayCluster`` types (kubectl is not available here).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "cluster"
LAUNCHER_CONFIGS = ["aws.yaml", "local.yaml"]

# Field names of KubeRay's ray.io/v1 API types (ray-operator/apis/ray/v1, KubeRay 1.6).
RAYJOB_SPEC = {"activeDeadlineSeconds", "backoffLimit", "clusterSelector", "deletionStrategy",
               "entrypoint", "entrypointNumCpus", "entrypointNumGpus", "entrypointResources",
               "jobId", "managedBy", "metadata", "rayClusterSpec", "runtimeEnvYAML",
               "shutdownAfterJobFinishes", "submissionMode", "submitterConfig",
               "submitterPodTemplate", "suspend", "ttlSecondsAfterFinished"}
RAYCLUSTER_SPEC = {"upgradeStrategy", "authOptions", "suspend", "managedBy",
                   "autoscalerOptions", "headServiceAnnotations", "enableInTreeAutoscaling",
                   "gcsFaultToleranceOptions", "historyServerOptions", "networkPolicy",
                   "tlsOptions", "headGroupSpec", "rayVersion", "workerGroupSpecs"}
AUTH_OPTIONS = {"mode", "secretName", "enableK8sTokenAuth"}
HEAD_GROUP = {"template", "headService", "enableIngress", "ingressOptions", "resources",
              "labels", "rayStartParams", "serviceType"}
WORKER_GROUP = {"suspend", "groupName", "replicas", "minReplicas", "maxReplicas",
                "idleTimeoutSeconds", "priority", "resources", "labels", "rayStartParams",
                "template", "scaleStrategy", "numOfHosts"}


def _launcher(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def _kuberay() -> list[dict]:
    return [doc for doc in yaml.safe_load_all((CLUSTER / "kuberay.yaml").read_text()) if doc]


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_passes_rays_own_validation(name):
    from ray.autoscaler._private.util import prepare_config, validate_config  # noqa: PLC0415

    config = prepare_config(_launcher(name))
    validate_config(config)   # raises on any field Ray's schema does not know
    assert config["available_node_types"][config["head_node_type"]]


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_keeps_token_auth_and_installs_raysweep(name):
    config = _launcher(name)
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[key] if "ray start" in c]
        assert starts, key
        assert all("RAY_AUTH_MODE=token" in c for c in starts), (key, starts)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert config["file_mounts"]["~/raysweep"] == "."
    assert any("pip install" in c and "~/raysweep" in c for c in config["setup_commands"])
    assert any("export RAY_AUTH_MODE=token" in c for c in config["setup_commands"])


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_pins_the_ray_version_the_drivers_use(name):
    text = (CLUSTER / name).read_text()
    pins = re.findall(r"ray(?:\[default\])?==([\d.]+)", text)
    images = re.findall(r"rayproject/ray:([\d.]+)-", text)
    assert pins or images, "no Ray version pinned"
    assert set(pins + images) == {ray.__version__}


def test_aws_config_runs_every_node_in_a_ray_image():
    config = _launcher("aws.yaml")
    assert config["docker"]["image"].startswith(f"rayproject/ray:{ray.__version__}-py3")
    gpu = config["available_node_types"]["gpu_workers"]["docker"]["worker_image"]
    assert gpu.startswith(f"rayproject/ray:{ray.__version__}-py3") and gpu.endswith("-gpu")
    assert config["docker"]["image"].split("-")[1] == gpu.split("-")[1]  # the same Python


def test_launcher_custom_resources_are_valid_json():
    local = _launcher("local.yaml")
    start = " ".join(local["worker_start_ray_commands"])
    value = re.search(r"--resources='([^']*)'", start).group(1)
    assert json.loads(value) == {"fast_disk": 1}
    aws = _launcher("aws.yaml")
    assert aws["available_node_types"]["gpu_workers"]["resources"] == {"big_gpu_box": 1}


def test_kuberay_manifest_names_only_kuberay_fields():
    docs = _kuberay()
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "RayJob"]
    claim, job = docs
    assert job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    assert set(spec) <= RAYJOB_SPEC, set(spec) - RAYJOB_SPEC
    cluster = spec["rayClusterSpec"]
    assert set(cluster) <= RAYCLUSTER_SPEC, set(cluster) - RAYCLUSTER_SPEC
    assert set(cluster["authOptions"]) <= AUTH_OPTIONS
    assert cluster["authOptions"]["mode"] == "token"
    assert cluster["rayVersion"] == ray.__version__
    assert set(cluster["headGroupSpec"]) <= HEAD_GROUP
    groups = cluster["workerGroupSpecs"]
    for group in groups:
        assert set(group) <= WORKER_GROUP, set(group) - WORKER_GROUP
        assert group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"]
    # rayStartParams is a map[string]string: a bare YAML number would be rejected.
    for params in [cluster["headGroupSpec"]["rayStartParams"]] + \
            [g["rayStartParams"] for g in groups]:
        assert all(isinstance(v, str) for v in params.values()), params
    resources = groups[0]["rayStartParams"]["resources"]
    assert json.loads(json.loads(resources)) == {"trial_box": 4}   # KubeRay's quoted form
    # The results volume is the claim above, mounted on the head.
    pod = cluster["headGroupSpec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == \
        claim["metadata"]["name"]
    assert any(m["mountPath"] == "/home/ray/results"
               for m in pod["containers"][0]["volumeMounts"])
    images = {c["image"] for c in pod["containers"]} | \
        {c["image"] for g in groups for c in g["template"]["spec"]["containers"]}
    assert len(images) == 1


def test_kuberay_entrypoint_runs_an_example_the_image_contains():
    job = _kuberay()[1]
    command = shlex.split(job["spec"]["entrypoint"])
    assert command[0] == "python"
    script = command[1]
    assert script.startswith("/home/ray/raysweep/examples/")
    assert (ROOT / "examples" / Path(script).name).is_file()
    assert "--storage" in command and \
        command[command.index("--storage") + 1] == "/home/ray/results"
    dockerfile = (CLUSTER / "Dockerfile").read_text()
    assert "examples /home/ray/raysweep/examples" in dockerfile


def test_dockerfile_builds_from_the_ray_image_and_repository_files():
    lines = (CLUSTER / "Dockerfile").read_text().splitlines()
    base = next(line.split()[1] for line in lines if line.startswith("FROM "))
    assert base.startswith(f"rayproject/ray:{ray.__version__}-py3")
    for line in lines:
        if line.startswith("COPY "):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source


def test_readme_commands_name_files_that_exist():
    text = (CLUSTER / "README.md").read_text()
    for path in set(re.findall(r"\b(cluster/[\w.-]+|examples/[\w.-]+\.py)", text)):
        assert (ROOT / path).exists(), path
    for verb in ("ray up", "ray submit", "ray job submit", "kubectl apply", "ray down"):
        assert verb in text, verb
    assert "ray up cluster/aws.yaml" in text and "cluster/local.yaml" in text
    assert "kubectl apply -f cluster/kuberay.yaml" in text


def _cluster_sweep_parser():
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("cluster_sweep_example",
                                                  ROOT / "examples" / "cluster_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def _documented_cluster_sweep_args() -> list[list[str]]:
    """The arguments every documented command passes to examples/cluster_sweep.py."""
    commands = [job["spec"]["entrypoint"] for job in _kuberay()[1:]]
    texts = [(CLUSTER / name).read_text() for name in ("README.md", *LAUNCHER_CONFIGS)]
    for text in texts:
        joined = text.replace("\\\n", " ")   # shell line continuations
        commands += [line for line in joined.splitlines() if "cluster_sweep.py" in line
                     and re.match(r"\s*#?\s*(RAY_AUTH_MODE=token )?(python|ray) ", line)]
    argv = []
    for command in commands:
        words = shlex.split(command.lstrip("# ").split(" # ")[0], comments=False)
        after = words[next(i for i, w in enumerate(words) if w.endswith("cluster_sweep.py")) + 1:]
        argv.append([w for w in after if w != "--"])
    return argv


def test_documented_cluster_sweep_commands_are_accepted_by_the_script():
    parser = _cluster_sweep_parser()
    argv = _documented_cluster_sweep_args()
    assert len(argv) >= 6, argv   # README, both launcher configs and the manifest
    for args in argv:
        parsed = parser.parse_args(args)   # SystemExit on an unknown or malformed option
        assert parsed.num_samples > 0
