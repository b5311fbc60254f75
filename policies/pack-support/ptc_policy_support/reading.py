"""Safe reads of a resource's raw properties, as the SDK's unknown-checking proxies hand them to a policy."""

from collections.abc import Mapping
from typing import Any


def has(props: Mapping[str, Any], key: str) -> bool:
    """Whether a property is set at all (known or not), without reading its value. Only a mapping has keys: a
    property of another shape where a mapping belongs (`tags: 1`, a string) has none, so what it should have held
    is absent, and the policy judges that, rather than failing on the shape."""
    return hasattr(props, "keys") and key in list(props.keys())


def get(props: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The value of a property; raises `UnknownValueError` when it is unknown during preview."""
    return props[key] if has(props, key) else default


def label(resource_type: str, name: str) -> str:
    """`aws:ecr/pullThroughCacheRule:PullThroughCacheRule`, `dev-hub` -> `aws:ecr:PullThroughCacheRule 'dev-hub'`."""
    parts = resource_type.split(":")
    if len(parts) == 3:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]} '{name}'"
    return f"{resource_type} '{name}'"
