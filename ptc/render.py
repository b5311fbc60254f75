"""Human output in the spirit of `pulumi preview`: a resource tree, the outputs, the policy result."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich costs ~50 ms to import: only the human output needs it
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

from .mock_engine import SECRET_SIG, SIG_KEY, UNKNOWN, Registration

LEVEL_STYLE = {"mandatory": "bold red", "advisory": "yellow", "remediate": "magenta", "disabled": "dim"}


def display_type(type_token: str) -> str:
    """`aws:secretsmanager/secret:Secret` -> `aws:secretsmanager:Secret`, as the Pulumi CLI shows types."""
    parts = type_token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return type_token


def display_value(value: Any) -> Any:
    """Wire values for people: secrets as [secret], unknowns as (known after apply)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return "[secret]"
        return {k: display_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display_value(v) for v in value]
    if value == UNKNOWN:
        return "(known after apply)"
    return value


def _label(reg: Registration) -> Text:
    from rich.text import Text

    text = Text("+ ", style="green")
    text.append(display_type(reg.type), style="bold" if not reg.custom else "")
    text.append(f"  {reg.name}")
    if reg.type.endswith(":UpstreamCache"):
        inputs = reg.inputs
        text.append(f"   {inputs.get('prefix')} <- {inputs.get('upstreamUrl')}", style="cyan")
    return text


def resource_tree(stack_name: str, resources: Iterable[Registration]) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    resources = list(resources)
    root = Tree(Text.assemble(("+ ", "green"), ("pulumi:pulumi:Stack", "bold"), f"  {stack_name}"))
    nodes: dict[str, Tree] = {}
    by_urn = {r.urn: r for r in resources}
    order = sorted(resources, key=lambda r: (_depth(r, by_urn), r.custom, display_type(r.type), r.name))
    for reg in order:
        parent = nodes.get(reg.parent, root)
        nodes[reg.urn] = parent.add(_label(reg))
    return root


def _depth(reg: Registration, by_urn: dict[str, Registration]) -> int:
    depth = 0
    while reg.parent in by_urn:
        reg = by_urn[reg.parent]
        depth += 1
    return depth


def print_outputs(console: Console, outputs: dict[str, Any]) -> None:
    from rich.text import Text

    console.print("[bold]Outputs:[/bold]")
    for name, value in outputs.items():
        shown = display_value(value)
        text = shown if isinstance(shown, str) else json.dumps(shown, indent=2, sort_keys=True)
        console.print(f"    {name}: ", end="")
        console.print(Text(text.replace("\n", "\n    ")))


DEFERRED = re.compile(
    r"can't run policy '[^']+' from policy pack '[^']+' during preview: \d+ check\(s\) need values known only after "
    r"apply: (?P<what>.*)",
    re.DOTALL,
)
"""pulumi-policy's message for a policy whose inputs are unknown in a preview (pulumi_policy/policy.py)."""


def print_violations(console: Console, violations: list[dict[str, Any]]) -> None:
    """Each violation once; the same message on several resources is one entry naming them, and the checks that wait
    for values known only after apply are one summary (the JSON report keeps every violation as it came)."""
    from rich.text import Text

    if not violations:
        return
    console.print("[bold]Policy violations:[/bold]")
    for level in ("mandatory", "advisory", "remediate"):
        deferred: dict[str, list[str]] = {}
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for v in (v for v in violations if v["level"] == level):
            key = f"{v['pack']} › {v['policy']}"
            waiting = DEFERRED.fullmatch(v["message"])
            if waiting:
                deferred.setdefault(key, []).append(waiting.group("what"))
                continue
            name = v["urn"].rsplit("::", 1)[-1] if v.get("urn") else ""
            grouped.setdefault((v["pack"], v["policy"], v["message"]), []).append(name)
        for (pack, policy, message), names in grouped.items():
            head = Text("    ")
            head.append(f"[{level}] ", style=LEVEL_STYLE[level])
            head.append(f"{pack} › {policy}", style="bold")
            shown = [n for n in names if n]
            if len(shown) == 1:
                head.append(f"  ({shown[0]})", style="dim")
            elif shown:
                head.append(f"  ({len(shown)} resources: {', '.join(shown)})", style="dim")
            console.print(head)
            console.print(Text("      " + message.replace("\n", "\n      ")), soft_wrap=True)
        if deferred:
            count = sum(len(w) for w in deferred.values())
            head = Text("    ")
            head.append(f"[{level}] ", style=LEVEL_STYLE[level])
            head.append(
                f"{count} check{'s' if count > 1 else ''} need values known only after apply "
                "(`pulumi up` runs them; `--json` lists each):",
                style="bold",
            )
            console.print(head)
            for key, checks in deferred.items():
                console.print(Text(f"      {key}: {'; '.join(checks)}"), soft_wrap=True)
