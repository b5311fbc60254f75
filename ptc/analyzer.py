"""Run CrossGuard policy packs the way the Pulumi CLI does: one process per pack, over the Analyzer protocol.

The CLI starts a Python pack as `python -m pulumi.policy <engine address> <pack dir>` with the
stack's config in `PULUMI_CONFIG` (plus `PULUMI_PROJECT`, `PULUMI_STACK`, `PULUMI_DRY_RUN`), reads
the port the pack prints, and calls `GetAnalyzerInfo`, `Configure`, `Analyze` for every resource
and `AnalyzeStack` once. This module does the same, with an in-process `Engine` service that
receives the packs' log messages.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from .mock_engine import Registration
from .pack_launch import launch, pack_python, stop
from .pack_launch import pack_dirs as pack_dirs  # re-exported: the packs of a project
from .stack_config import StackConfig

LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES = {name: value for value, name in LEVELS.items()}
MAX_MESSAGE = 400 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
START_TIMEOUT = float(os.environ.get("PTC_PACK_START_TIMEOUT", "60"))
ANALYZE_WINDOW = 16
"""Analyze calls in flight per pack: enough to keep the pack busy between round trips (measured in
benchmarks/RESULTS.md), few enough to stay within the pack's gRPC worker threads' queue."""


class PolicyPackError(Exception):
    """A pack could not start or answer; the message says which and why."""


class PolicyConfigError(Exception):
    """The policy configuration names an unknown policy or breaks a policy's config schema."""


class EngineService(engine_pb2_grpc.EngineServicer):
    """The engine's log service, as packs and plugins call it; keeps what they log."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str]] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 - gRPC method name
        self.logs.append((request.severity, request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.GetRootResourceResponse()

    def SetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.SetRootResourceResponse()


class EngineServer:
    """The `Engine` gRPC service a pack is pointed at (it only logs through it)."""

    def __init__(self) -> None:
        self.service = EngineService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=CHANNEL_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.service, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(0)


@dataclass
class PackInfo:
    name: str
    version: str
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Policy name -> {level, description, type, config_schema}."""


def pack_environment(config: StackConfig, dry_run: bool) -> dict[str, str]:
    """What the CLI puts in a pack's environment."""
    return {
        **os.environ,
        "PULUMI_CONFIG": json.dumps(config.values),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(config.secret_keys),
        "PULUMI_PROJECT": config.project,
        "PULUMI_STACK": config.stack,
        "PULUMI_DRY_RUN": "true" if dry_run else "false",
        "PULUMI_ORGANIZATION": "organization",
    }


class PackProcess:
    """One running policy pack and its Analyzer client."""

    def __init__(
        self, pack_dir: Path, config: StackConfig, *, dry_run: bool, engine_address: str, python: str | None = None
    ):
        self.pack_dir = Path(pack_dir).resolve()
        python = python or pack_python(self.pack_dir)
        self.config = config
        self.dry_run = dry_run
        self.process = launch(
            python, [engine_address, str(self.pack_dir)], cwd=self.pack_dir, env=pack_environment(config, dry_run)
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(
            target=_pump, args=(self.process.stdout, self._lines.put, lambda: self._lines.put(None)), daemon=True
        ).start()
        self._stderr_pump = threading.Thread(target=_pump, args=(self.process.stderr, self._stderr.append), daemon=True)
        self._stderr_pump.start()
        self.channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self.info: PackInfo | None = None

    @property
    def api(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """The pack's Analyzer service, once `connect` has reached it."""
        if self.stub is None:
            raise PolicyPackError(f"policy pack {self.pack_dir.name} is not connected")
        return self.stub

    @property
    def name(self) -> str:
        """The pack's own name once connected (what policy config is keyed by), else its folder."""
        return self.info.name if self.info else self.pack_dir.name

    def connect(self, timeout: float = START_TIMEOUT) -> PackInfo:
        """Wait for the port line, then ask the pack who it is."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise PolicyPackError(f"policy pack {self.pack_dir.name} printed no port within {timeout:.0f}s") from None
        if line is None or not line.strip().isdigit():
            self.process.wait(timeout=10)
            self._stderr_pump.join(timeout=10)  # all the pack wrote before it exited, not what was read so far
            stderr = "".join(self._stderr).strip()
            shown = self.config.redact(stderr or repr(line))  # the pack's environment holds the stack's config
            raise PolicyPackError(f"policy pack {self.pack_dir.name} did not start: {shown}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line.strip()}", options=CHANNEL_OPTIONS)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        # wait_for_ready rather than channel_ready_future: the future's connectivity subscription makes
        # channel.close() wait ~0.2 s for its polling thread.
        info = self.api.GetAnalyzerInfo(empty_pb2.Empty(), wait_for_ready=True, timeout=timeout)
        self.info = PackInfo(
            name=info.name,
            version=info.version,
            policies={
                p.name: {
                    "level": LEVELS[p.enforcementLevel],
                    "description": p.description,
                    "type": "stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                    "config_schema": json_format.MessageToDict(p.configSchema),
                }
                for p in info.policies
            },
        )
        return self.info

    def configure(self, policy_config: dict[str, dict[str, Any]]) -> None:
        """`Configure` with per-policy levels and properties (already validated)."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in policy_config.items():
            properties = struct_pb2.Struct()
            properties.update(entry.get("properties") or {})
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_VALUES[entry["level"]], properties=properties)
            )
        try:
            self.api.Configure(request)
        except grpc.RpcError as exc:  # the pack refuses invalid config itself, as it does under the Pulumi CLI
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise PolicyConfigError(f"policy pack {self.name}: {self.config.redact(exc.details() or '')}") from None
            raise self.failed(exc) from None

    def configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.config.stack,
            project=self.config.project,
            organization="organization",
            dry_run=self.dry_run,
            config=dict(self.config.values),
            config_secret_keys=self.config.secret_keys,
        )
        self._answer(lambda: self.api.ConfigureStack(request))

    def _answer(self, call: Callable[[], Any]) -> Any:
        """A call's response; a pack that failed it is a `PolicyPackError` naming the pack (`failed`)."""
        try:
            return call()
        except grpc.RpcError as exc:
            raise self.failed(exc) from None

    def failed(self, exc: grpc.RpcError) -> PolicyPackError:
        """What a call's failure tells: a pack that stopped, with all it wrote to stderr; one still running, with
        the error it answered. Either redacted: the pack's environment and messages may hold the stack's secrets."""
        self._stderr_pump.join(timeout=1)  # ends at the pack's exit, when its stderr closes
        if not self._stderr_pump.is_alive():
            said = "".join(self._stderr).strip()
            what = f"stopped: {said}" if said else "stopped without a word on stderr"
        else:
            details = exc.details() if callable(getattr(exc, "details", None)) else None
            code = exc.code() if callable(getattr(exc, "code", None)) else None
            what = f"answered {getattr(code, 'name', 'an error')}: {details or 'no details'}"
        return PolicyPackError(f"policy pack {self.name} failed: {self.config.redact(what)}")

    def analyze(self, resource: Registration) -> list[dict[str, Any]]:
        """Diagnostics of one resource; like the engine, attribute them to the resource analyzed."""
        return self._attributed(resource, self._answer(lambda: self.api.Analyze(analyze_request(resource))))

    def analyze_all(self, resources: Iterable[Registration], window: int = ANALYZE_WINDOW) -> list[dict[str, Any]]:
        """`Analyze` every resource, with up to `window` calls in flight (the engine, too, analyzes
        resources concurrently); diagnostics come back in resource order."""
        requests = ((resource, analyze_request(resource)) for resource in resources)
        return [d for _, found in self.analyzed(requests, window) for d in found]

    def analyzed(
        self, requests: Iterable[tuple[Registration, Any]], window: int = ANALYZE_WINDOW
    ) -> Iterator[tuple[Registration, list[dict[str, Any]]]]:
        """Each resource with its diagnostics, in the order given, `Analyze`d with up to `window` calls in flight."""
        pending: deque[tuple[Registration, Any]] = deque()
        for resource, request in requests:
            pending.append((resource, self.api.Analyze.future(request)))
            if len(pending) >= window:
                done, call = pending.popleft()
                yield done, self._attributed(done, self._answer(call.result))
        while pending:
            done, call = pending.popleft()
            yield done, self._attributed(done, self._answer(call.result))

    def _attributed(self, resource: Registration, response: Any) -> list[dict[str, Any]]:
        diagnostics = self._diagnostics(response)
        for d in diagnostics:
            d["urn"] = d["urn"] or resource.urn
        return diagnostics

    def analyze_stack(self, request: analyzer_pb2.AnalyzeStackRequest) -> list[dict[str, Any]]:
        """`AnalyzeStack` with `request` (`analyze_stack_request`: one request serves every pack)."""
        return self._diagnostics(self._answer(lambda: self.api.AnalyzeStack(request)))

    def _diagnostics(self, response: Any) -> list[dict[str, Any]]:
        return [
            {
                "pack": d.policyPackName,
                "policy": d.policyName,
                "level": LEVELS[d.enforcementLevel],
                "urn": d.urn or None,
                "message": d.message.removeprefix(d.description).strip() or d.description,
                "description": d.description,
            }
            for d in response.diagnostics
        ]

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        stop(self.process)


def _pump(stream: Iterable[str], sink: Callable[[str], object], at_end: Callable[[], object] | None = None) -> None:
    """Drain a pipe so the pack never blocks on a full buffer."""
    for line in stream:
        sink(line)
    if at_end is not None:
        at_end()


def _options(request: Any) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=request.protect,
        ignoreChanges=list(request.ignoreChanges),
        deleteBeforeReplace=request.deleteBeforeReplace,
        deleteBeforeReplaceDefined=request.deleteBeforeReplaceDefined,
        additionalSecretOutputs=list(request.additionalSecretOutputs),
        parent=request.parent,
    )


def analyze_request(resource: Registration) -> analyzer_pb2.AnalyzeRequest:
    """What the engine sends before a resource is created: its inputs."""
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        properties=resource.request.object,
        urn=resource.urn,
        name=resource.name,
        options=_options(resource.request),
    )


def analyze_stack_request(resources: Iterable[Registration], *, outputs: bool) -> analyzer_pb2.AnalyzeStackRequest:
    """What the engine sends to every pack once the run is over: each resource's state (`stack_resource`)."""
    return analyzer_pb2.AnalyzeStackRequest(resources=[stack_resource(r, outputs) for r in resources])


def stack_resource(resource: Registration, outputs: bool) -> analyzer_pb2.AnalyzerResource:
    """What the engine sends to `AnalyzeStack`: the state (outputs after an update, the plan in a preview)."""
    properties = resource.request.object
    if outputs:
        properties = struct_pb2.Struct()
        properties.update(json.loads(json.dumps(resource.state, default=str)))
    message = analyzer_pb2.AnalyzerResource(
        type=resource.type,
        properties=properties,
        urn=resource.urn,
        name=resource.name,
        options=_options(resource.request),
        parent=resource.parent,
        dependencies=resource.dependencies,
    )
    for key, urns in resource.property_dependencies.items():
        message.propertyDependencies[key].CopyFrom(analyzer_pb2.AnalyzerPropertyDependencies(urns=urns))
    return message


def resolve_policy_config(document: dict[str, Any], packs: list[PackInfo]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per pack, the `Configure` entries of a `--policy-pack-config` style document.

    Keys are policy names (or `all`); values are an enforcement level or an object with
    `enforcementLevel` and the policy's config properties, validated against its schema.
    """
    known = {name: pack for pack in packs for name in pack.policies}
    unknown = [k for k in document if k != "all" and k not in known]
    if unknown:
        raise PolicyConfigError(
            f"policy config names unknown policies: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    everything = document.get("all")
    if isinstance(everything, dict):  # `{"enforcementLevel": ...}`, as the CLI takes it (config.go, applyConfig)
        everything = everything.get("enforcementLevel")
    if everything is not None and everything not in LEVEL_VALUES:
        raise PolicyConfigError(f"policy config 'all' must be one of {', '.join(LEVEL_VALUES)}, not {everything!r}")
    result: dict[str, dict[str, dict[str, Any]]] = {pack.name: {} for pack in packs}
    for pack in packs:
        for name, policy in pack.policies.items():
            entry = document.get(name)
            if entry is None and everything is None:
                continue
            level, properties = everything or policy["level"], {}
            if isinstance(entry, str):
                level = entry
            elif isinstance(entry, dict):
                properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
                level = entry.get("enforcementLevel", level)
            elif entry is not None:
                raise PolicyConfigError(f"policy config '{name}' must be a level or an object, not {entry!r}")
            if level not in LEVEL_VALUES:
                raise PolicyConfigError(
                    f"policy config '{name}': enforcementLevel must be one of {', '.join(LEVEL_VALUES)}, not {level!r}"
                )
            import jsonschema  # only when there is config to validate (about 70 ms to import)

            schema = {"type": "object", "additionalProperties": False, **policy["config_schema"]}
            try:
                # As the CLI validates (gojsonschema, pkg/resource/analyzer/config.go validatePolicyConfig), with
                # `format` checked as gojsonschema checks it by default, and stricter in one place: a setting the
                # schema does not name is refused here (the CLI cannot send additionalProperties).
                jsonschema.validate(properties, schema, format_checker=jsonschema.FormatChecker())
            except jsonschema.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
                raise PolicyConfigError(f"policy config '{name}' at {where}: {exc.message}") from None
            result[pack.name][name] = {"level": level, "properties": properties}
    return result


@dataclass
class PolicyRun:
    violations: list[dict[str, Any]]


WARM_UP: list[tuple[str, dict[str, Any]]] = [
    (
        "aws:secretsmanager/secret:Secret",
        {"namePrefix": "ecr-pullthroughcache/warm-up/x-", "tags": {"ptc:upstream": "quay", "environment": "warm-up"}},
    ),
    (
        "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        {"ecrRepositoryPrefix": "warm-up", "upstreamRegistryUrl": "quay.io"},
    ),
    (
        "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
        {"prefix": "warm-up", "appliedFors": ["PULL_THROUGH_CACHE"], "repositoryPolicy": '{"Statement": []}'},
    ),
    ("aws:iam/policy:Policy", {"policy": '{"Statement": []}', "tags": {"environment": "warm-up"}}),
]
"""Resources that take each policy through its code once before the real run (whose answers count)."""


class PolicyPacks:
    """Several packs started together (in parallel) for one stack; use as a context manager."""

    def __init__(self, dirs: list[Path], config: StackConfig, *, dry_run: bool, python: str | None = None):
        self.engine = EngineServer()
        self.processes = [
            PackProcess(d, config, dry_run=dry_run, engine_address=self.engine.address, python=python) for d in dirs
        ]
        self.infos: list[PackInfo] = []
        self._analyses: list[Analysis] = []
        # Connect and warm each pack in the background (the caller's program runs meanwhile): a pack's first
        # Analyze pays for code paths it has not run yet, so one throwaway call takes that off the critical path.
        self._ready = futures.ThreadPoolExecutor(max_workers=max(1, len(self.processes)))
        self._connected = [self._ready.submit(self._connect_and_warm, p) for p in self.processes]

    @staticmethod
    def _connect_and_warm(process: PackProcess) -> PackInfo:
        info = process.connect()
        try:
            resources = []
            for type_, props in WARM_UP:
                properties = struct_pb2.Struct()
                properties.update(props)
                urn = f"urn:pulumi:warm-up::warm-up::{type_}::warm-up"
                process.api.Analyze(
                    analyzer_pb2.AnalyzeRequest(type=type_, properties=properties, urn=urn, name="warm-up")
                )
                resources.append(
                    analyzer_pb2.AnalyzerResource(type=type_, properties=properties, urn=urn, name="warm-up")
                )
            process.api.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
        except grpc.RpcError:
            pass  # a warm-up only: its answers are dropped, and each real run configures the pack afresh
        return info

    def __enter__(self) -> PolicyPacks:
        try:
            self.infos = [f.result() for f in self._connected]
        except BaseException:
            self.close()
            raise
        finally:
            self._ready.shutdown(wait=False)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for analysis in self._analyses:
            analysis.end(None)  # no-op for one that ended: its workers have stopped reading
        for process in self.processes:  # every pack told first, so they stop side by side
            if process.process.poll() is None:
                process.process.terminate()
        for process in self.processes:
            process.close()
        self.engine.stop()

    def stream(self, policy_config: dict[str, Any] | None = None) -> Analysis:
        """An `Analysis` that analyzes resources as they are registered; see `Analysis`."""
        analysis = Analysis(self, policy_config or {})
        self._analyses.append(analysis)
        return analysis

    def run(
        self, resources: list[Registration], *, policy_config: dict[str, Any] | None = None, outputs: bool = False
    ) -> PolicyRun:
        """Configure every pack, then `Analyze` each resource and `AnalyzeStack` the lot."""
        configs = resolve_policy_config(policy_config or {}, self.infos)
        violations: list[dict[str, Any]] = []
        stack_request = _Once(lambda: analyze_stack_request(resources, outputs=outputs))

        def one_pack(process: PackProcess) -> list[dict[str, Any]]:
            process.configure(configs.get(process.name, {}))
            process.configure_stack()
            return process.analyze_all(resources) + process.analyze_stack(stack_request.get())

        with futures.ThreadPoolExecutor(max_workers=max(1, len(self.processes))) as pool:
            for found in pool.map(one_pack, self.processes):
                violations.extend(found)
        return PolicyRun(violations=violations)


_END = object()


class _Once:
    """A value made by the first thread that asks for it; the others wait for it and share it.

    The `AnalyzeStack` request holds every resource's properties (0.4 MB, ~12 ms to build at 50 upstreams): made
    once for every pack rather than once per pack, at the end of the run where the packs' last answers are awaited.
    """

    def __init__(self, make: Callable[[], Any]):
        self._make = make
        self._lock = threading.Lock()
        self._value: Any = None
        self._made = False

    def get(self) -> Any:
        with self._lock:
            if not self._made:
                self._value = self._make()
                self._made = True
            return self._value


def pack_version(pack_dir: Path) -> str | None:
    """`version:` of a pack's PulumiPolicy.yaml, if it has one."""
    try:
        text = (pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE)
    return found.group(1) if found else None


class Analysis:
    """Every pack `Analyze`s each resource as the program registers it, as the engine does (before it creates the
    resource), in the packs' own processes while the program still runs; `end` then adds `AnalyzeStack` over
    them all, and `violations` gives what `PolicyPacks.run` would have: per pack, resources in registration
    order, then the stack's.

    Each pack is configured (`Configure`, `ConfigureStack`) once every pack has answered `GetAnalyzerInfo`, and
    analyzes what was registered before then as soon as it is.
    """

    def __init__(self, packs: PolicyPacks, policy_config: dict[str, Any]):
        self._packs = packs
        self._policy_config = policy_config
        self._queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in packs.processes]
        self._resources: list[Registration] | None = None
        self._stack_request = _Once(lambda: analyze_stack_request([], outputs=False))  # `end` gives the real one
        self._ended = False
        self._work = [
            packs._ready.submit(self._one_pack, p, q) for p, q in zip(packs.processes, self._queues, strict=True)
        ]

    def packs_ran(self) -> list[str]:
        """After `violations`: `<name>@<version>` of each pack that analyzed the stack. The version is the one
        PulumiPolicy.yaml gives, as the Pulumi CLI shows it (a Python pack always answers 0.0.1 itself)."""
        return [
            f"{info.name}@{pack_version(process.pack_dir) or info.version}"
            for info, process in zip(self._packs.infos, self._packs.processes, strict=False)
        ]

    def add(self, resource: Registration) -> None:
        """Called for each registration, from the SDK's threads; never blocks. One request serves every pack."""
        request = analyze_request(resource)
        for pending in self._queues:
            pending.put((resource, request))

    def end(self, resources: list[Registration] | None) -> None:
        """No more registrations; `AnalyzeStack` over `resources` (None: the run failed, analyze no more).
        Ending again can only cancel what has not started."""
        if self._ended:
            if resources is None:
                self._resources = None
            return
        self._ended = True
        self._resources = resources
        if resources is not None:  # made by the first pack to ask, once its queue is drained
            self._stack_request = _Once(lambda: analyze_stack_request(resources, outputs=False))
        for pending in self._queues:
            pending.put(_END)

    def violations(self) -> list[dict[str, Any]]:
        """Wait for every pack; a pack that failed raises here (`PolicyPackError`, `PolicyConfigError`)."""
        found: list[dict[str, Any]] = []
        for work in self._work:
            found.extend(work.result())
        return found

    def _one_pack(self, process: PackProcess, pending: queue.SimpleQueue[Any]) -> list[dict[str, Any]]:
        ended = False
        try:
            infos = [f.result() for f in self._packs._connected]
            self._packs.infos = infos
            configs = resolve_policy_config(self._policy_config, infos)
            process.configure(configs.get(process.name, {}))
            process.configure_stack()

            def registered() -> Iterator[tuple[Registration, Any]]:
                nonlocal ended
                while (item := pending.get()) is not _END:
                    yield item
                ended = True

            by_urn = {resource.urn: found for resource, found in process.analyzed(registered())}
            resources = self._resources
            if resources is None:
                return []
            return [d for r in resources for d in by_urn.get(r.urn, [])] + process.analyze_stack(
                self._stack_request.get()
            )
        finally:
            while not ended:  # a pack that failed still drains its queue up to `end`, so `end` never waits
                ended = pending.get() is _END
