"""The plugin entry point: host UpstreamCache, PullThroughCache and UpstreamGrant for programs in any language.

The Python language host runs a plugin as `python <plugin dir> <engine address>`. This file loads
the folder as the package `ecr_pull_through_cache` (the import name the wheel ships it under, whatever
the folder is called), infers the schema from the components' type annotations and serves the
ResourceProvider protocol.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pulumi.provider.experimental.component import ComponentProvider

HERE = Path(__file__).resolve().parent
PACKAGE = "ecr-pull-through-cache"
IMPORT_NAME = "ecr_pull_through_cache"


def load_components() -> ModuleType:
    """Import this folder as the `ecr_pull_through_cache` package, with relative imports working."""
    if str(HERE) in sys.path:
        sys.path.remove(str(HERE))  # our modules are not top-level modules
    if IMPORT_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            IMPORT_NAME, HERE / "__init__.py", submodule_search_locations=[str(HERE)]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {HERE} as {IMPORT_NAME}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[IMPORT_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[IMPORT_NAME]


def provider() -> ComponentProvider:
    """The component provider, with outputs that are maps of complex types mapped to schema names too."""
    from pulumi import Output
    from pulumi.provider.experimental.component import ComponentProvider

    components = load_components()
    from ecr_pull_through_cache.registry import PullThroughCache
    from ecr_pull_through_cache.upstream_cache import UpstreamCache
    from ecr_pull_through_cache.upstream_grant import UpstreamGrant

    class Provider(ComponentProvider):
        def construct(self, name: str, resource_type: str, inputs: Any, options: Any = None) -> Any:
            """Arguments a component refuses (its `ConfigError`) reach the engine as invalid inputs, with every fault
            in the message: the SDK would otherwise report them as an unexpected error with a Python traceback."""
            from pulumi.errors import InputPropertiesError
            from pulumi.provider.server import ComponentInitError  # the one ComponentProvider.construct raises

            from ecr_pull_through_cache.config import ConfigError

            try:
                return super().construct(name, resource_type, inputs, options)
            except ComponentInitError as error:
                if isinstance(error.inner, ConfigError):
                    raise InputPropertiesError(str(error.inner), []) from None
                raise

        def get_state(self, instance: Any, component_def: Any) -> dict[str, Any]:
            state = super().get_state(instance, component_def)
            for name, prop in component_def.outputs.items():
                inner = prop.additional_properties
                if name not in state or inner is None or not inner.ref:
                    continue
                type_def = self.get_type_definition(inner)
                if type_def is None or type_def.enum:
                    continue

                def each(values: dict[str, Any], type_def: Any = type_def) -> dict[str, Any]:
                    return {k: self.map_complex_output(v, type_def) for k, v in values.items()}

                value = state[name]
                state[name] = value.apply(each) if isinstance(value, Output) else each(value)
            return state

    hosted = Provider([UpstreamCache, PullThroughCache, UpstreamGrant], PACKAGE, None, components.__version__)
    if hosted.schema is None:
        raise RuntimeError("the component provider inferred no schema")
    hosted.schema = mark_secrets(hosted.schema)
    return hosted


SECRET_INPUTS = {"UpstreamArgs": ["accessToken"]}
"""Inputs that generated SDKs must treat as secrets even when a program passes them in plain text."""


def mark_secrets(schema_json: str) -> str:
    import json

    schema = json.loads(schema_json)
    for type_name, properties in SECRET_INPUTS.items():
        for name in properties:
            schema["types"][f"{PACKAGE}:index:{type_name}"]["properties"][name]["secret"] = True
    return json.dumps(schema)


if __name__ == "__main__":
    from pulumi.provider import main

    main(provider(), sys.argv[1:])
