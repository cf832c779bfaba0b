"""The image installs exactly requirements.lock, and the lock is not stale (no network needed).

`make lock` writes requirements.lock from pyproject.toml's runtime dependencies (uv pip compile
--generate-hashes, Python 3.11, every platform); the Dockerfile installs it with
`pip install --require-hashes --no-deps`, so a dependency added to pyproject.toml but not locked
would be missing from the image: these tests fail until `make lock` is run again.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
DOCKERFILE = ROOT / "Dockerfile"
# `name==version` (with an optional environment marker), then its `--hash=` lines.
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;[^\\]*)?\\?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?$")


def locked() -> dict[str, tuple[Version, int]]:
    """Every pin of the lock: canonical name -> (version, number of hashes)."""
    pins: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for number, line in enumerate(LOCK.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := PIN.match(line):
            current = canonicalize_name(match["name"])
            assert current not in pins, f"line {number}: {current} pinned twice"
            pins[current] = (Version(match["version"]), 0)
        elif HASH.match(line) and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        else:
            raise AssertionError(f"requirements.lock line {number} is neither a pin nor a hash: {line!r}")
    return pins


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(dep) for dep in project["dependencies"]]


def test_every_runtime_dependency_is_pinned_within_its_specifier() -> None:
    pins = locked()
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} (pyproject.toml) is not in requirements.lock: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject.toml's {requirement}: "
            "run `make lock`"
        )


def test_every_pin_has_hashes_and_the_project_itself_is_not_locked() -> None:
    pins = locked()
    assert len(pins) > len(runtime_requirements())  # the transitive dependencies too
    for name, (version, hashes) in pins.items():
        assert hashes >= 1, f"{name}=={version} has no --hash: pip --require-hashes would refuse the lock"
    assert "mlcost-operator" not in pins


def test_the_lock_is_made_by_make_lock() -> None:
    assert "make lock" in LOCK.read_text().splitlines()[1]
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    for flag in ("pip compile pyproject.toml", "--generate-hashes", "--universal", "--python-version 3.11"):
        assert flag in target, f"make lock does not pass {flag}"


def dockerfile_runs() -> list[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_dockerfile_installs_only_the_hashed_lock_then_the_project_without_deps() -> None:
    lines = dockerfile_runs()
    installs = [line for line in lines if line.startswith("RUN pip install")]
    assert len(installs) == 2, installs
    locked_install, project_install = installs
    for flag in ("--require-hashes", "--no-deps", "-r requirements.lock"):
        assert flag in locked_install, f"the dependency install lacks {flag}: {locked_install}"
    assert "--no-deps" in project_install and project_install.rstrip().endswith(" ."), project_install
    assert any(line.startswith("COPY requirements.lock") for line in lines)


def test_the_image_user_and_environment_match_the_deployment() -> None:
    lines = dockerfile_runs()
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    env = " ".join(line for line in final_stage if line.startswith("ENV "))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    user = next(line for line in final_stage if line.startswith("USER ")).split()[1]
    uid, _, gid = user.partition(":")
    useradd = next(line for line in final_stage if "useradd" in line)
    assert f"--uid {uid}" in useradd and (not gid or f"--gid {gid}" in useradd)

    deployment = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())
    context = deployment["spec"]["template"]["spec"]["securityContext"]
    assert context["runAsNonRoot"] is True
    assert str(context["runAsUser"]) == uid and str(context["runAsGroup"]) == (gid or uid)
