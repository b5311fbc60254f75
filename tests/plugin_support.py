"""The engine side of a plugin's Construct: a ResourceMonitor and an Engine, served over gRPC.

The SDK's MockMonitor knows what to answer (registrations, invokes); this wraps it as a real gRPC
servicer, with URNs for the project and stack under test, and records what the plugin registers.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2_grpc, resource_pb2, resource_pb2_grpc

from ptc.analyzer import EngineService
from ptc.mock_engine import FakeCloud, RecordingMonitor, Registration

OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]


class _Monitor(RecordingMonitor):
    def __init__(self, fake: FakeCloud, project: str, stack: str):
        super().__init__(fake)
        self.project, self.stack = project, stack
        self.outputs: dict[str, dict] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The SDK mock's rule (parent's type, then the child's), for the project and stack under test."""
        if parent:
            type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"


class _MonitorService(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, monitor: _Monitor):
        self.monitor = monitor
        self.lock = threading.Lock()

    def SupportsFeature(self, request, context):  # noqa: N802
        # Like the SDK's mock: no output values, so registrations carry plain values and secret markers.
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id != "outputValues")

    def GetDeploymentInfo(self, request, context):  # noqa: N802
        return self.monitor.GetDeploymentInfo(request)

    def RegisterResource(self, request, context):  # noqa: N802
        with self.lock:
            return self.monitor.RegisterResource(request)

    def RegisterResourceOutputs(self, request, context):  # noqa: N802
        from google.protobuf import json_format

        with self.lock:
            self.monitor.outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return empty_pb2.Empty()

    def Invoke(self, request, context):  # noqa: N802
        return self.monitor.Invoke(request)

    def ReadResource(self, request, context):  # noqa: N802
        return self.monitor.ReadResource(request)

    def RegisterPackage(self, request, context):  # noqa: N802
        return self.monitor.RegisterPackage(request)

    def SignalAndWaitForShutdown(self, request, context):  # noqa: N802
        return empty_pb2.Empty()

    def RegisterStackTransform(self, request, context):  # noqa: N802
        return empty_pb2.Empty()

    def RegisterStackInvokeTransform(self, request, context):  # noqa: N802
        return empty_pb2.Empty()


class EngineServer:
    """ResourceMonitor and Engine on one port, as the plugin expects from `pulumi`."""

    def __init__(self, project: str, stack: str, region: str = "us-east-2", preview: bool = False):
        self.monitor = _Monitor(FakeCloud(region, preview), project, stack)
        self.engine = EngineService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=OPTIONS)
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_MonitorService(self.monitor), self.server)
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    @property
    def registrations(self) -> list[Registration]:
        return list(self.monitor.registrations)

    def reset(self) -> None:
        self.monitor.registrations.clear()
        self.monitor.resources.clear()
        self.monitor.outputs.clear()

    def stop(self) -> None:
        self.server.stop(0)


class Plugin:
    """The plugin started as the Python language host starts it: `python <plugin dir> <engine address>`."""

    def __init__(self, plugin_dir: Path, engine_address: str):
        self.process = subprocess.Popen(
            [sys.executable, str(plugin_dir), engine_address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True).start()
        port = lines.get(timeout=60).strip()
        if not port.isdigit():
            raise RuntimeError(f"the plugin did not start: {port!r} {self.process.stderr.read()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS)
        self.provider = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=10)
