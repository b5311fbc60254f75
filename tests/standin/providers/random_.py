"""Stand-in for pulumi-random: `RandomId`, the one resource type this project uses.

terraform-provider-random internal/provider/resource_id.go: byte_length, keepers and prefix all require
replacement; the outputs are the random bytes in hex, decimal and base64 (standard and URL alphabets, unpadded
URL form as the id).
"""

from __future__ import annotations

import base64
import json
import secrets
from importlib import metadata
from typing import Any

from tests.standin.providers.protocol import Context, Provider, Resource, serve
from tests.standin.providers.values import UNKNOWN, integer

VERSION = json.loads(
    metadata.distribution("pulumi-random").locate_file("pulumi_random/pulumi-plugin.json").read_text()  # type: ignore[union-attr]
)["version"]


class RandomId(Resource):
    token = "random:index/randomId:RandomId"
    replace_on = frozenset({"byteLength", "keepers", "prefix"})
    computed = ("b64Std", "b64Url", "dec", "hex", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        length = inputs.get("byteLength")
        if length is None:
            return [("byteLength", 'Missing required argument. The argument "byte_length" is required.')]
        if length != UNKNOWN and (not isinstance(length, int | float) or length < 1):
            return [("byteLength", f"byte_length must be at least 1, got {length}")]
        return []

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = secrets.token_bytes(integer(inputs["byteLength"]) or 1)
        prefix = inputs.get("prefix") or ""
        url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return prefix + url, {
            "b64Std": prefix + base64.standard_b64encode(raw).decode(),
            "b64Url": prefix + url,
            "dec": prefix + str(int.from_bytes(raw, "big")),
            "hex": prefix + raw.hex(),
        }

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        """Nothing exists outside the state."""


if __name__ == "__main__":
    serve(Provider("random", VERSION, [RandomId()]))
