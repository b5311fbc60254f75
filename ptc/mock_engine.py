"""Run a Pulumi Python program under the SDK's mock engine and record what it registers.

`run_program` runs `__main__.py` in-process with `pulumi.runtime.set_mocks`, a fake account,
and the stack's config. Every resource registration is kept as the engine receives it (the raw
`RegisterResourceRequest`: camelCase properties, secrets and unknowns marked), which is what
the policy analyzers are fed. The fake cloud answers like `pulumi preview` (computed
properties unknown) or like `pulumi up` (computed properties filled in deterministically).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import hashlib
import logging
import os
import runpy
import sys
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .stack_config import StackConfig

FAKE_ACCOUNT_ID = "123456789012"
STACK_FILE_VARIABLE = "ECR_PTC_STACK_FILE"
"""Set while the program runs to the stack file ptc previews (the program's `stack_file_path`)."""
SECRET_SIG = rpc._special_secret_sig  # noqa: SLF001 - the wire format is the contract here
SIG_KEY = rpc._special_sig_key  # noqa: SLF001
UNKNOWN = rpc.UNKNOWN


@dataclass
class Registration:
    """One `RegisterResource` call, as the engine saw it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    request: Any
    """The raw `RegisterResourceRequest` (properties as a protobuf Struct)."""
    id: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        """The raw inputs as JSON values: secrets stay wrapped in their signature object, unknowns are sentinels."""
        properties: dict[str, Any] = json_format.MessageToDict(self.request.object)
        return properties

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped; see `secret_paths` for which were secret."""
        inputs: dict[str, Any] = unwrap_secrets(self.properties)
        return inputs

    @property
    def secret_paths(self) -> list[str]:
        return secret_paths(self.properties)

    @property
    def dependencies(self) -> list[str]:
        return list(self.request.dependencies)

    @property
    def property_dependencies(self) -> dict[str, list[str]]:
        return {k: list(v.urns) for k, v in self.request.propertyDependencies.items()}


@dataclass
class RunResult:
    project: str
    stack: str
    preview: bool
    resources: list[Registration]
    outputs: dict[str, Any]
    """Stack outputs in wire form (secrets wrapped, unknowns as sentinels)."""
    logs: list[tuple[str, str]]
    error: BaseException | None = None

    def by_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def get(self, type_token: str, name: str) -> Registration:
        for r in self.resources:
            if r.type == type_token and r.name == name:
                return r
        raise KeyError(f"no {type_token} named {name}; have {[r.name for r in self.by_type(type_token)]}")

    @property
    def plain_outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = unwrap_secrets(self.outputs)
        return outputs


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def secret_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return [path or "."]
        return [p for k, v in value.items() for p in secret_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in secret_paths(v, f"{path}[{i}]")]
    return []


def _digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


class FakeCloud(pulumi.runtime.Mocks):
    """Answers the engine's questions for one fake account and region.

    In preview mode a resource's state is its inputs and its ID is unknown, as in `pulumi
    preview`; in up mode the provider-computed properties the project reads are filled in.
    """

    def __init__(
        self,
        region: str,
        preview: bool,
        account_id: str = FAKE_ACCOUNT_ID,
        stack_references: dict[str, dict[str, Any]] | None = None,
    ):
        self.region = region
        self.preview = preview
        self.account_id = account_id
        self.stack_references = stack_references or {}
        # The region's own partition and DNS suffix (botocore's partition data), as AWS answers getPartition there.
        from ecr_pull_through_cache.catalog import partition_of_region

        self.partition, self.dns_suffix = partition_of_region(region) or ("aws", "amazonaws.com")

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]  # the SDK takes a dict too
        token, a = args.token, args.args
        acct, region, partition, suffix = self.account_id, self.region, self.partition, self.dns_suffix
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": acct,
                "arn": f"arn:{partition}:iam::{acct}:user/preview",
                "userId": "AIDAPREVIEW",
                "id": acct,
            }
        if token == "aws:index/getPartition:getPartition":
            return {
                "partition": partition,
                "dnsSuffix": suffix,
                "reverseDnsPrefix": ".".join(reversed(suffix.split("."))),
                "id": partition,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "region": region,
                "name": region,
                "id": region,
                "description": region,
                "endpoint": f"ec2.{region}.{suffix}",
            }
        if token == "aws:secretsmanager/getSecret:getSecret":
            name = a.get("name") or a.get("arn", "").split(":secret:", 1)[-1]
            arn = (
                a.get("arn")
                or f"arn:{partition}:secretsmanager:{region}:{acct}:secret:{name}-{_digest(name, length=6)}"
            )
            return {"arn": arn, "name": name, "id": arn, "tags": {}}
        raise NotImplementedError(f"the fake cloud has no answer for invoke {token}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.resource_id or args.name
            if name not in self.stack_references:
                raise LookupError(
                    f"the program reads the stack {name} through a StackReference; give its outputs with "
                    f"--stack-outputs {name}=outputs.json (what `pulumi stack output --json --stack {name}` prints)"
                )
            return name, {"name": name, "outputs": self.stack_references[name], "secretOutputNames": []}
        state = dict(args.inputs)
        if not args.custom:
            return "", state
        if self.preview:
            return "", state
        computed = self._computed(args.typ, args.name, state)
        state.update(computed)
        return computed.get("id") or f"{args.name}-{_digest(args.typ, args.name)}", state

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        acct, region, p = self.account_id, self.region, self.partition
        unique = _digest(typ, name, length=26)
        if typ == "aws:secretsmanager/secret:Secret":
            secret_name = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{unique}"
            arn = f"arn:{p}:secretsmanager:{region}:{acct}:secret:{secret_name}-{_digest(name, length=6)}"
            return {"name": secret_name, "arn": arn, "id": arn}
        if typ == "aws:iam/role:Role":
            role_name = inputs.get("name") or f"{name}-{_digest(name, length=7)}"
            return {
                "name": role_name,
                "arn": f"arn:{p}:iam::{acct}:role/{role_name}",
                "id": role_name,
                "uniqueId": f"AROA{_digest(name, length=17).upper()}",
            }
        if typ == "aws:iam/policy:Policy":
            policy_name = inputs.get("name") or f"{name}-{_digest(name, length=7)}"
            return {
                "name": policy_name,
                "arn": f"arn:{p}:iam::{acct}:policy/{policy_name}",
                "id": f"arn:{p}:iam::{acct}:policy/{policy_name}",
            }
        if typ == "aws:kms/key:Key":
            key_id = (
                f"{_digest(name, 'a')}-{_digest(name, 'b', length=4)}-{_digest(name, 'c', length=4)}-"
                f"{_digest(name, 'd', length=4)}-{_digest(name, 'e', length=12)}"
            )
            return {"keyId": key_id, "arn": f"arn:{p}:kms:{region}:{acct}:key/{key_id}", "id": key_id}
        if typ == "aws:kms/alias:Alias":
            alias = inputs.get("name") or f"{inputs.get('namePrefix', 'alias/' + name + '-')}{unique}"
            return {"name": alias, "arn": f"arn:{p}:kms:{region}:{acct}:{alias}", "id": alias}
        if typ.startswith("aws:ecr/"):
            return {"registryId": acct}
        if typ in (
            "gitlab:index/groupAccessToken:GroupAccessToken",
            "gitlab:index/groupDeployToken:GroupDeployToken",
            "gitlab:index/projectAccessToken:ProjectAccessToken",
            "gitlab:index/personalAccessToken:PersonalAccessToken",
        ):
            days = int((inputs.get("rotationConfiguration") or {}).get("expirationDays", 30))
            expires = inputs.get("expiresAt") or (datetime.date(2026, 1, 1) + datetime.timedelta(days=days)).isoformat()
            return {
                "id": f"{_digest(name, length=6)}",
                "token": f"glpat-fake-{_digest(typ, name, length=20)}",
                "expiresAt": expires,
                "username": inputs.get("username") or f"group_1_bot_{_digest(name)}",
            }
        if typ == "random:index/randomId:RandomId":
            hex_ = _digest(name, length=2 * int(inputs.get("byteLength", 4)))
            return {"hex": hex_, "dec": str(int(hex_, 16)), "id": hex_}
        return {}


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, keeping every registration request, with the engine's URNs (`make_urn`)."""

    def __init__(self, fake: FakeCloud, on_register: Callable[[Registration], None] | None = None):
        super().__init__(fake)
        self.registrations: list[Registration] = []
        self.on_register = on_register

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the type is qualified by the parent's whole qualified type, except when the
        parent is the root stack (sdk/go/common/resource/urn/urn.go, New, with the parent URN's QualifiedType:
        `parentType != tokens.RootStackType`). The SDK's own mock monitor qualifies by the parent's last type only,
        and children of the stack too, so its URNs are not the ones a real preview shows."""
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # the SDK's, untyped
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            request=request,
            id=response.id,
            state=dict(self.resources[response.urn].state),
        )
        self.registrations.append(registration)
        if self.on_register is not None:
            self.on_register(registration)
        return response


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


@contextlib.contextmanager
def _in_program_directory(program_dir: Path, config: StackConfig) -> Iterator[None]:
    """As the language host runs a program: from its directory, importable, and told which stack file it reads.

    The program reads its stack file for what the runtime's config cannot show (which credentials are plain text,
    where a secret sits); ptc may preview a file from elsewhere (`--config FILE`), so it says which."""
    added_path = str(program_dir) not in sys.path
    if added_path:
        sys.path.insert(0, str(program_dir))
    cwd = os.getcwd()
    os.chdir(program_dir)
    stack_file_before = os.environ.get(STACK_FILE_VARIABLE)
    if config.path is not None:
        os.environ[STACK_FILE_VARIABLE] = str(Path(config.path).resolve())
    else:
        os.environ.pop(STACK_FILE_VARIABLE, None)
    try:
        yield
    finally:
        os.chdir(cwd)
        if stack_file_before is None:
            os.environ.pop(STACK_FILE_VARIABLE, None)
        else:
            os.environ[STACK_FILE_VARIABLE] = stack_file_before
        if added_path:
            sys.path.remove(str(program_dir))


def run_program(
    program_dir: Path,
    config: StackConfig,
    *,
    preview: bool = True,
    account_id: str = FAKE_ACCOUNT_ID,
    program: Callable[[], Any] | None = None,
    on_register: Callable[[Registration], None] | None = None,
    stack_references: dict[str, dict[str, Any]] | None = None,
    collect: bool = True,
) -> RunResult:
    """Run `program_dir/__main__.py` (or `program`) under the mock engine with `config`.

    `stack_references` gives the outputs of the stacks the program reads with StackReference.
    `collect=False` leaves what the run made to the end of the process, never scanned by the garbage collector:
    for a process that reports and exits (the `ptc preview` of its last stack). The one collection pass over a
    run's objects costs a fifth of the run (0.2 s at 50 upstreams); what it would free is freed at exit.
    Never raises for the program's own errors: they are returned in `RunResult.error`.
    """
    program_dir = Path(program_dir).resolve()
    fake = FakeCloud(config.region, preview, account_id, stack_references)
    monitor = RecordingMonitor(fake, on_register)
    logger = logging.getLogger(f"ptc.mock_engine.{config.stack}")
    logger.propagate = False
    capture = _LogCapture()
    logger.handlers = [capture]

    settings.set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack per run
    pulumi.runtime.set_mocks(
        fake, project=config.project, stack=config.stack, preview=preview, logger=logger, monitor=monitor
    )
    pulumi.runtime.set_all_config(dict(config.values), list(config.secret_keys))
    settings.SETTINGS.outputs.clear()

    program_dir, entry = program_entry(program_dir)

    def run_main() -> None:
        runpy.run_path(str(entry), run_name="__main__")

    main: Callable[[], Any] = program or run_main
    error: BaseException | None = None
    # The SDK's output graph is many small, long-lived objects: a collection pass during the run finds nothing to
    # free and, past ~50 upstreams, doubles the CPU per resource. Freeze what exists, pause collection, resume after.
    collecting = gc.isenabled()
    gc.freeze()
    gc.disable()
    _one_monitor_thread(asyncio.get_event_loop())  # the loop `_sync_await` runs the program on
    try:
        with _in_program_directory(program_dir, config):
            _sync_await(run_pulumi_func(main))
    except BaseException as exc:  # noqa: BLE001 - the caller reports the program's failure
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        error = exc

    outputs: dict[str, Any] = {}
    root = settings.get_root_resource()
    try:
        if error is None and root is not None:
            outputs = _sync_await(_wire_outputs(getattr(root, "outputs", {})))
    finally:
        if not collect:
            gc.freeze()  # the run's objects join the frozen ones: no collection pass will scan them
        else:
            gc.unfreeze()
        if collecting:
            gc.enable()
    return RunResult(
        project=config.project,
        stack=config.stack,
        preview=preview,
        resources=list(monitor.registrations),
        outputs=outputs,
        logs=capture.records,
        error=error,
    )


def program_entry(project_dir: Path) -> tuple[Path, Path]:
    """(the program's directory, the file to run): `main:` of Pulumi.yaml when it is set (a directory holding
    `__main__.py`, or a Python file), else the project directory's `__main__.py`, as the Python language host
    runs it."""
    from .stack_config import StackConfigError, load_project

    try:
        main = load_project(project_dir).get("main")
    except StackConfigError:
        main = None
    if isinstance(main, str) and main.strip():
        target = (project_dir / main).resolve()
        if target.is_file():
            return target.parent, target
        return target, target / "__main__.py"
    return project_dir, project_dir / "__main__.py"


_MONITOR_THREADS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ThreadPoolExecutor] = weakref.WeakKeyDictionary()


def _one_monitor_thread(loop: asyncio.AbstractEventLoop) -> None:
    """The SDK hands each engine call to the loop's default executor (`run_in_executor(None, ...)`). One worker
    answers them all, in the order the program made them, so registrations are recorded (and the packs see them)
    in program order; its one event loop for the SDK's serializing (`_ensure_event_loop`) is made once. asyncio's
    own pool starts up to min(32, cores + 4) threads, answering out of order, each with a loop never closed."""
    if loop not in _MONITOR_THREADS:
        _MONITOR_THREADS[loop] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptc-mock-monitor")
        loop.set_default_executor(_MONITOR_THREADS[loop])


async def _wire_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    """Stack outputs serialized as the engine stores them (secrets wrapped, unknowns kept)."""
    result = {}
    for name, value in outputs.items():
        serialized = await rpc.serialize_property(value, [], None, keep_output_values=False)
        struct = struct_pb2.Struct()
        struct["v"] = serialized
        result[name] = json_format.MessageToDict(struct)["v"]
    return result
