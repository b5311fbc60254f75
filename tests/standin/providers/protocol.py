"""The engine's side of a resource provider plugin, shared by the stand-in `aws`, `random` and `gitlab` providers.

The Pulumi engine starts a plugin with its own address as the first argument and reads the port of the plugin's
gRPC server from the plugin's first line of stdout (sdk/go/common/resource/plugin/plugin.go, newPlugin). It then
speaks `pulumirpc.ResourceProvider` (proto/pulumi/provider.proto): CheckConfig, Configure, then Check / Diff /
Create / Read / Update / Delete per resource and Invoke per data source. This module does the protocol; each
stand-in declares its resources as `Resource` subclasses.

What the real providers do and the stand-ins copy, each cited where it is implemented:
- Check returns the provider's *checked* inputs: schema defaults applied, `name` auto-named, `tagsAll` merged
  (pulumi-terraform-bridge pkg/tfbridge/provider.go Check; pulumi-aws provider/autonaming.go and tags.go);
- Diff compares the new inputs with the old ones and asks for a replacement when a property the Terraform schema
  marks ForceNew changed (each resource lists them with the Terraform docs' "Forces new resource");
- Create and Update during preview return unknowns for the properties only the cloud knows.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, ClassVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.standin.providers.values import UNKNOWN, from_struct, has_unknown, reveal, to_struct


class Failure(Exception):
    """A request the real service or provider refuses: reported to the engine as the operation's error."""


@dataclass
class Context:
    """What a resource operation knows besides its properties: the provider's configuration."""

    config: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


class Resource:
    """One resource type of a stand-in provider."""

    token: ClassVar[str]
    # Properties whose change replaces the resource (Terraform's ForceNew), and the source that says so.
    replace_on: ClassVar[frozenset[str]] = frozenset()
    # Defaults the provider's schema applies in Check.
    defaults: ClassVar[Mapping[str, Any]] = {}
    # Maximum length of an auto-generated `name` (None: the resource has no auto-named `name`).
    autoname: ClassVar[int | None] = None
    # Whether the resource has `tags` and `tagsAll`.
    tags: ClassVar[bool] = False
    # Output-only properties: unknown during preview.
    computed: ClassVar[tuple[str, ...]] = ()

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        """Failures Check reports: (property, reason), as the real provider's schema validation would."""
        return []

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def read(self, ctx: Context, id_: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """The resource as the cloud has it now, or None when it is gone. Default: the state as recorded."""
        return state

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        raise Failure(f"{self.token}: no property of this stand-in can change in place")

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        raise NotImplementedError


def input_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Top-level input properties whose value differs (absent and null are the same)."""
    keys = set(olds) | set(news)
    return sorted(k for k in keys if not k.startswith("__") and _norm(olds.get(k)) != _norm(news.get(k)))


def _norm(value: Any) -> Any:
    if value in (None, {}, []):
        return None
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items() if _norm(v) is not None}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def unique_hex(seed: bytes, name: str, length: int = 7) -> str:
    """The random suffix of an auto-name, stable for one resource across previews (the engine's random seed)."""
    return hashlib.sha256(seed + name.encode()).hexdigest()[:length]


def resource_name(urn: str, name: str) -> str:
    return name or urn.rsplit("::", 1)[-1]


class Provider(provider_pb2_grpc.ResourceProviderServicer):
    """A provider plugin made of `Resource`s and invoke functions."""

    def __init__(
        self,
        name: str,
        version: str,
        resources: list[Resource],
        invokes: Mapping[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] | None = None,
        check_config: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None,
        default_tags: Callable[[Context], dict[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.resources = {r.token: r for r in resources}
        self.invokes = dict(invokes or {})
        self._check_config = check_config
        self._default_tags = default_tags
        self.ctx = Context()

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _resource(self, type_: str, urn: str, context: grpc.ServicerContext) -> Resource:
        token = type_ or urn.rsplit("::", 2)[-2].rsplit("$", 1)[-1]
        found = self.resources.get(token)
        if found is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown resource type {token!r} (stand-in {self.name})")
        return found  # type: ignore[return-value]

    def _guard(self, context: grpc.ServicerContext, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Failure as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except grpc.RpcError:
            raise
        except Exception as exc:  # a stand-in bug: show where, the engine prints it
            context.abort(grpc.StatusCode.INTERNAL, "".join(traceback.format_exception(exc)))

    # -- configuration ----------------------------------------------------------------------------------------

    def GetPluginInfo(self, request, context):  # noqa: N802 (gRPC method names)
        return plugin_pb2.PluginInfo(version=self.version)

    def Handshake(self, request, context):  # noqa: N802
        return provider_pb2.ProviderHandshakeResponse(accept_secrets=True, accept_resources=False)

    def CheckConfig(self, request, context):  # noqa: N802
        news = from_struct(request.news)
        failures = self._check_config(news) if self._check_config else []
        return provider_pb2.CheckResponse(
            inputs=request.news,
            failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures],
        )

    def DiffConfig(self, request, context):  # noqa: N802
        olds, news = from_struct(request.olds), from_struct(request.news)
        changed = [k for k in input_changes(olds, news) if k != "version"]
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed,
        )

    def Configure(self, request, context):  # noqa: N802
        self.ctx = Context(config=from_struct(request.args))
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Cancel(self, request, context):  # noqa: N802
        return empty_pb2.Empty()

    # -- resources --------------------------------------------------------------------------------------------

    def Check(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        news, olds = from_struct(request.news), from_struct(request.olds)
        defaulted = sorted(k for k in res.defaults if k not in news)
        inputs = {**{k: res.defaults[k] for k in defaulted}, **news}
        name = resource_name(request.urn, request.name)
        if res.autoname and "name" not in news and "namePrefix" not in news:
            # Auto-naming keeps the name it gave before (tfbridge AutoName reuses the old input), so a resource is
            # not renamed, and replaced, on every run.
            inputs["name"] = olds.get("name") or f"{name}-{unique_hex(request.randomSeed, name)}"
            defaulted.append("name")
        if res.tags and self._default_tags is not None:
            tags = news.get("tags") or {}
            inputs["tagsAll"] = UNKNOWN if has_unknown(tags) else {**self._default_tags(self.ctx), **tags}
        # tfbridge records the properties it filled in, so that a later Check can tell them from the program's.
        inputs["__defaults"] = sorted(defaulted)
        failures = res.validate(self.ctx, inputs)
        return provider_pb2.CheckResponse(
            inputs=to_struct(inputs),
            failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures],
        )

    def Diff(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        old_inputs = from_struct(request.old_inputs) if request.HasField("old_inputs") else from_struct(request.olds)
        news = from_struct(request.news)
        ignore = set(request.ignoreChanges)
        changed = [k for k in input_changes(old_inputs, news) if k not in ignore and k != "tagsAll"]
        replaces = [k for k in changed if k in res.replace_on]
        # A replacement of a resource whose name the program chose cannot create the new one first: both would
        # have the same name (tfbridge provider.go Diff, deleteBeforeReplace for non-auto-named names).
        delete_first = bool(replaces) and res.autoname is not None and "name" not in (news.get("__defaults") or [])
        detailed = {
            k: provider_pb2.PropertyDiff(
                kind=provider_pb2.PropertyDiff.UPDATE_REPLACE if k in replaces else provider_pb2.PropertyDiff.UPDATE,
                inputDiff=True,
            )
            for k in changed
        }
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            replaces=replaces,
            diffs=changed,
            deleteBeforeReplace=delete_first,
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    def Create(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        inputs = from_struct(request.properties)
        if request.preview:
            outputs = {**inputs, **{k: UNKNOWN for k in res.computed}}
            return provider_pb2.CreateResponse(id="", properties=to_struct(outputs))
        id_, outputs = self._guard(context, lambda: res.create(self.ctx, reveal(inputs)))
        return provider_pb2.CreateResponse(id=id_, properties=to_struct({**inputs, **outputs}))

    def Read(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        state = from_struct(request.properties)
        found = self._guard(context, lambda: res.read(self.ctx, request.id, reveal(state)))
        if found is None:
            return provider_pb2.ReadResponse(id="")
        # What the cloud says, with the recorded secrets kept secret.
        merged = {k: state[k] if k in state and reveal(state[k]) == v else v for k, v in found.items()}
        return provider_pb2.ReadResponse(id=request.id, properties=to_struct(merged), inputs=request.inputs)

    def Update(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        olds, news = from_struct(request.olds), from_struct(request.news)
        old_inputs = from_struct(request.old_inputs) if request.HasField("old_inputs") else {}
        # Outputs only the provider computed (arn, id, ...) carry over; inputs are the new ones.
        kept = {k: v for k, v in olds.items() if k not in old_inputs and k not in news}
        if request.preview:
            return provider_pb2.UpdateResponse(properties=to_struct({**kept, **news}))
        outputs = self._guard(context, lambda: res.update(self.ctx, request.id, reveal(olds), reveal(news)))
        return provider_pb2.UpdateResponse(properties=to_struct({**kept, **news, **outputs}))

    def Delete(self, request, context):  # noqa: N802
        res = self._resource(request.type, request.urn, context)
        state = from_struct(request.properties)
        self._guard(context, lambda: res.delete(self.ctx, request.id, reveal(state)))
        return empty_pb2.Empty()

    def Invoke(self, request, context):  # noqa: N802
        function = self.invokes.get(request.tok)
        if function is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown function {request.tok!r} (stand-in {self.name})")
        result = self._guard(context, lambda: function(self.ctx, from_struct(request.args)))  # type: ignore[misc]
        return provider_pb2.InvokeResponse(**{"return": to_struct(result)})


def serve(provider: Provider) -> None:
    """Start the plugin as the engine expects: print the port, serve until the engine's process is gone."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    parent = os.getppid()
    stop = threading.Event()

    def orphaned() -> None:
        # The engine kills its plugins when it is done; a plugin whose engine died is re-parented: stop then.
        while not stop.wait(1.0):
            if os.getppid() != parent:
                server.stop(0)
                return

    threading.Thread(target=orphaned, daemon=True).start()
    server.wait_for_termination()
    stop.set()
    sys.exit(0)
