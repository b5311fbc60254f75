"""The real Pulumi CLI on this machine: the stand-in providers, the AWS server they call, and a file backend.

`make tools` builds the CLI (tools/go.mod) and the stand-in Python language host into .tools/bin; this module
runs them the way a user runs `pulumi`: in a copy of a project, with `pulumi stack init`, `pulumi config set`,
`pulumi preview` / `pulumi up` and `pulumi stack output`, on a `file://` backend with the passphrase secrets
provider. The stand-in providers (tests/standin/providers) are installed into the workspace's plugin cache with
`pulumi plugin install resource <name> <version> --file`, at the versions the pinned SDKs ask for, so the engine
finds them as it finds a downloaded plugin; every AWS call goes to `tests/standin/aws_server.py` (moto plus the
ECR operations moto lacks) on 127.0.0.1.

    python -m tests.real_engine preview <stack> [--json]     (make real-preview STACK=<stack>)

previews `Pulumi.<stack>.yaml` with both policy packs and exits with the CLI's exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools" / "bin"
STANDINS = {"aws": "pulumi_aws", "random": "pulumi_random", "gitlab": "pulumi_gitlab"}
"""The stand-in provider plugins (tests/standin/providers/<name>) and the SDK package whose version each reports."""
VENV_BIN = ROOT / ".venv" / "bin"
PACKS = (ROOT / "policies" / "security", ROOT / "policies" / "conventions")
PASSPHRASE = "ecr-pull-through-cache-example"
"""The example passphrase the committed stack files' ciphertexts are encrypted under (README)."""

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt")


def available() -> str | None:
    """Why the real engine cannot run here (None when it can): `make tools` builds what it needs."""
    for tool in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec"):
        if not (TOOLS / tool).exists():
            return f"{TOOLS / tool} is missing: run `make tools`"
    for pack in PACKS:
        if not (pack / "venv" / "bin" / "python").exists():
            return f"{pack}/venv is missing: run `make packs`"
    return None


class AwsServer:
    """`python -m tests.standin.aws_server` on a free port of 127.0.0.1, for the life of the context."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "tests.standin.aws_server"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            # moto knows AWS-managed policies (AmazonECSTaskExecutionRolePolicy, ...) only when asked to load them.
            env={**os.environ, **CREDENTIALS, "PYTHONPATH": str(ROOT), "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the server prints its port once it listens
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"the AWS server did not start (it printed {line!r})")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def client(self, service: str, region: str) -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()

    def __enter__(self) -> AwsServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def seed_existing_secrets(self, stack_file: Path) -> list[str]:
        """Create the secrets a stack references with `existing_secret`, as the stack that owns them would:
        JSON credentials and the `ptc:token-scopes` tag of the scopes the upstream declares."""
        document = yaml.safe_load(stack_file.read_text()) or {}
        config = document.get("config") or {}
        region = config.get("aws:region", "us-east-1")
        upstreams = config.get("ecr-pull-through-cache:upstreams") or []
        made = []
        for upstream in upstreams:
            existing = upstream.get("existing_secret") if isinstance(upstream, Mapping) else None
            if not existing:
                continue
            name = existing.split(":secret:", 1)[1].rsplit("-", 1)[0] if existing.startswith("arn:") else existing
            scopes = " ".join(upstream.get("token_scopes") or [])
            self.client("secretsmanager", region).create_secret(
                Name=name,
                SecretString=json.dumps({"username": "shared-bot", "accessToken": "EXAMPLE-not-a-token"}),
                Tags=[{"Key": "ptc:token-scopes", "Value": scopes}] if scopes else [],
            )
            made.append(name)
        return made


class Workspace:
    """A PULUMI_HOME and a `file://` backend in a folder of their own; `run` calls the real CLI there."""

    def __init__(self, folder: Path, aws: AwsServer | None = None, **env: str) -> None:
        self.folder = folder
        (folder / "state").mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join([str(TOOLS), str(VENV_BIN), os.environ.get("PATH", "")])
        self.env = {
            **os.environ,
            **CREDENTIALS,
            "PATH": path,
            "PULUMI_HOME": str(folder / "home"),
            "PULUMI_BACKEND_URL": f"file://{folder / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_COPILOT": "false",
            "NO_COLOR": "1",
        }
        for key in ("PULUMI_ACCESS_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "PULUMI_STACK"):
            self.env.pop(key, None)
        if aws is not None:
            self.env["AWS_ENDPOINT_URL"] = aws.endpoint
        self.env.update(env)
        self.install_standins()

    def install_standins(self) -> None:
        """Each stand-in as a plugin tarball (one launcher script), installed at its SDK's version."""
        from importlib.metadata import version

        plugins = self.folder / "standin-plugins"
        for name, package in STANDINS.items():
            module = "random_" if name == "random" else name
            build = plugins / name
            build.mkdir(parents=True, exist_ok=True)
            launcher = build / f"pulumi-resource-{name}"
            launcher.write_text(
                "#!/bin/sh\n"
                f"# Stand-in for the pulumi-{name} provider plugin (tests only): tests/standin/providers/{module}.py\n"
                f'PYTHONPATH="{ROOT}" exec "{VENV_BIN / "python"}" -m tests.standin.providers.{module} "$@"\n'
            )
            launcher.chmod(0o755)
            archive = plugins / f"{name}.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                tar.add(launcher, arcname=launcher.name)
            self.run(
                "plugin",
                "install",
                "resource",
                name,
                version(package.replace("_", "-")),
                "--file",
                str(archive),
                cwd=self.folder,
            )

    def run(self, *args: str, cwd: Path, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(TOOLS / "pulumi"), "--non-interactive", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def pack_args(self) -> list[str]:
        return [arg for pack in PACKS for arg in ("--policy-pack", str(pack))]


def project_copy(dest: Path, stacks: tuple[str, ...] = ()) -> Path:
    """This project's program in `dest`, with the given committed stack files; `.venv` is linked, as the
    program's virtualenv (Pulumi.yaml: runtime options) and the installed library."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for stack in stacks:
        shutil.copy2(ROOT / f"Pulumi.{stack}.yaml", dest / f"Pulumi.{stack}.yaml")
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def example_copy(example: str, dest: Path) -> Path:
    """examples/<example> in `dest`, its program and project file, with `.venv` linked as `project_copy` does."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / "examples" / example / name, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def assumed_role_credentials(aws: AwsServer, account: str, region: str) -> dict[str, str]:
    """Credentials moto attributes to `account` (an assumed role's keys belong to the role's account)."""
    found = aws.client("sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/deployer", RoleSessionName="ptc-tests"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": found["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["SessionToken"],
    }


@contextmanager
def engine(folder: Path | None = None, **env: str) -> Iterator[tuple[Workspace, AwsServer]]:
    """An AWS server and a workspace on it, in `folder` or a temporary one."""
    with tempfile.TemporaryDirectory(prefix="ptc-real-") as scratch, AwsServer() as aws:
        yield Workspace(folder or Path(scratch), aws, **env), aws


def real_preview(workspace: Workspace, project: Path, stack: str) -> dict[str, Any]:
    """`pulumi preview --json` with both packs: the resources it would create (type, name, parent), the mandatory
    violations of the engine's policy events (`--event-log`, a debug command: PULUMI_DEBUG_COMMANDS) and whether
    it passed."""
    workspace.env["PULUMI_DEBUG_COMMANDS"] = "true"
    log = project / f"events-{stack}.json"
    result = workspace.run(
        "preview", "--json", "--stack", stack, "--event-log", str(log), *workspace.pack_args(), cwd=project, check=False
    )
    resources, mandatory = set(), set()
    try:
        steps = json.loads(result.stdout).get("steps", [])
    except ValueError:
        steps = []
    for step in steps:
        state = step.get("newState") or {}
        if step.get("op") == "create" and not state.get("type", "").startswith(("pulumi:providers:", "pulumi:pulumi:")):
            resources.add((state["type"], step["urn"].rsplit("::", 1)[-1], state.get("parent", "")))
    for line in log.read_text().splitlines() if log.exists() else []:
        event = json.loads(line).get("policyEvent") if line.strip() else None
        if event and event.get("enforcementLevel") == "mandatory":
            mandatory.add((event["policyPackName"], event["policyName"], event.get("resourceUrn", "")))
    return {"ok": result.returncode == 0, "resources": resources, "mandatory": mandatory, "output": result}


def ptc_preview(project: Path, stack: str) -> dict[str, Any]:
    """`ptc preview --json` with the same two packs, read as `real_preview` reads the real one."""
    result = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--stack", stack, "--json"]
        + [arg for pack in PACKS for arg in ("--policy-pack", str(pack))],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **CREDENTIALS, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    resources = {
        (r["type"], r["name"], r.get("parent") or "")
        for r in report.get("resources", [])
        if not r["type"].startswith(("pulumi:providers:", "pulumi:pulumi:"))
    }
    mandatory = {
        (v["pack"], v["policy"], v.get("urn") or "") for v in report.get("violations", []) if v["level"] == "mandatory"
    }
    return {"ok": result.returncode == 0, "resources": resources, "mandatory": mandatory, "output": result}


def assert_agree(offline: dict[str, Any], real: dict[str, Any], stack_file: str) -> None:
    """ptc and the real engine declare the same resources and reach the same mandatory verdicts."""
    where = f"stack file:\n{stack_file}"
    assert offline["resources"] == real["resources"], (
        f"resources only ptc declares: {sorted(offline['resources'] - real['resources'])}\n"
        f"resources only the real engine declares: {sorted(real['resources'] - offline['resources'])}\n{where}"
    )
    assert offline["mandatory"] == real["mandatory"], (
        f"ptc: {sorted(offline['mandatory'])}\nreal: {sorted(real['mandatory'])}\n{where}"
    )
    assert offline["ok"] == real["ok"], (
        f"ptc exit {offline['output'].returncode}: {offline['output'].stderr[-2000:]}\n"
        f"real exit {real['output'].returncode}: {real['output'].stdout[-3000:]}{real['output'].stderr[-2000:]}\n"
        + where
    )


def stack_names() -> list[str]:
    """Every committed stack: `Pulumi.<stack>.yaml` beside Pulumi.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def preview(stack: str, json_output: bool = False) -> int:
    missing = available()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if not (ROOT / f"Pulumi.{stack}.yaml").exists():
        print(f"no Pulumi.{stack}.yaml in {ROOT}", file=sys.stderr)
        return 2
    with engine() as (workspace, aws):
        project = project_copy(workspace.folder / "project", (stack,))
        aws.seed_existing_secrets(project / f"Pulumi.{stack}.yaml")
        workspace.run("stack", "init", stack, cwd=project)
        args = ["preview", "--stack", stack, *workspace.pack_args()] + (["--json"] if json_output else [])
        result = workspace.run(*args, cwd=project, check=False)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.real_engine", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("preview", help="pulumi preview of a committed stack with both policy packs")
    p.add_argument("stack")
    p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return preview(args.stack, args.json)


if __name__ == "__main__":
    sys.exit(main())
