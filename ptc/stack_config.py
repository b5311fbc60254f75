"""Read a stack's config as the Pulumi CLI hands it to a program, without decrypting anything.

`Pulumi.yaml` gives the project name and config defaults; `Pulumi.<stack>.yaml` (or any file
of that shape) gives the values. A `secure:` value stands for itself: its ciphertext becomes
the value and the key is marked secret, exactly as a program would see a decrypted secret,
so previews need no passphrase and never hold a real token.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecr_pull_through_cache.yaml12 import YamlError, is_secure_value, load_file, stack_dir

from .project_rules import (
    full_key,
    go_json,
    key_fault,
    project_faults,
    stack_name,
    stored_content,
    type_name,
    value_fits,
)

SECRET_MAPS = ("credentials",)
"""Project keys whose every leaf must be a `secure:` value (tokens)."""
REGION_KEY = "aws:region"


class StackConfigError(Exception):
    """A stack or project file cannot be read."""


@dataclass
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    """Full keys (`namespace:key`) to the strings the runtime holds (JSON for objects and lists)."""
    secret_keys: list[str] = field(default_factory=list)
    path: Path | None = None
    esc_environments: list[str] = field(default_factory=list)
    """Pulumi ESC environments the stack file imports (`environment:`)."""
    esc_placeholders: list[str] = field(default_factory=list)
    """Keys given a placeholder because ESC could not be opened here (no `esc` CLI): assumed, not checked."""

    @property
    def account(self) -> str | None:
        """The account the stack deploys to when `aws:allowedAccountIds` names exactly one (the AWS provider then
        refuses any other, pulumi-aws's provider config): the account `ptc preview`'s fake cloud answers as."""
        allowed = self.get("aws:allowedAccountIds")
        if isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
            account = allowed[0]
            if len(account) == 12 and account.isascii() and account.isdigit():
                return account
        return None

    def get(self, key: str, default: Any = None) -> Any:
        """A value decoded from its runtime string (`aws:region`, `ecr-pull-through-cache:upstreams`)."""
        if key not in self.values:
            return default
        text = self.values[key]
        try:
            return json.loads(text)
        except ValueError:
            return text

    def secret_texts(self) -> list[str]:
        """Every string held under a secret key (the leaves of a secret map included), longest first."""
        found: list[str] = []

        def leaves(value: Any) -> None:
            if isinstance(value, dict):
                for item in value.values():
                    leaves(item)
            elif isinstance(value, list):
                for item in value:
                    leaves(item)
            elif isinstance(value, str) and len(value) >= 4:
                found.append(value)

        for key in self.secret_keys:
            if key in self.values:
                leaves(self.values[key])
                leaves(self.get(key))
        return sorted(set(found), key=len, reverse=True)

    def __post_init__(self) -> None:
        _CONFIGS.add(self)

    def redact(self, text: str) -> str:
        """`text` with every secret config value replaced by `[secret]`, for messages shown to people: as written,
        and as the JSON (once, or twice inside a map: PULUMI_CONFIG) or Python repr that quotes it escapes it."""
        return _redacted(text, self.secret_texts())

    def __hash__(self) -> int:  # kept in a WeakSet by identity (`redact_known`); equality stays the dataclass's
        return id(self)

    @property
    def region(self) -> str:
        return self.region_and_source[0]

    @property
    def region_and_source(self) -> tuple[str, str]:
        """The region the AWS provider would use and where it comes from: `aws:region`, else AWS_REGION, else
        AWS_DEFAULT_REGION (pulumi_aws/config/vars.py, `region`); ptc falls back to us-east-1 where the provider
        would read the AWS profile's region."""
        import os

        configured = self.get("aws:region")
        if isinstance(configured, str) and configured:
            return configured, "aws:region"
        for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(variable):
                return os.environ[variable], variable
        return "us-east-1", ""


def _redacted(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets`, in every form `_quoted_forms` names, replaced by `[secret]` (longest first:
    a secret inside another is not left half-shown)."""
    for form in sorted({form for s in secrets for form in _quoted_forms(s)}, key=len, reverse=True):
        text = text.replace(form, "[secret]")
    return text


def _quoted_forms(secret: str) -> set[str]:
    once = json.dumps(secret)[1:-1]
    return {secret, once, json.dumps(once)[1:-1], repr(secret)[1:-1]}


_CONFIGS: weakref.WeakSet[StackConfig] = weakref.WeakSet()
"""Every stack config this process has read, for `redact_known`."""

_READ: set[str] = set()
"""Secret values this process read at run time (a token from Secrets Manager), for `redact_known`."""


def remember_secret(value: str) -> None:
    """Have `redact_known` redact `value` from now on, in every form a message can quote it."""
    if len(value) >= 4:  # as `secret_texts`: shorter would redact ordinary words
        _READ.add(value)


def redact_known(text: str) -> str:
    """`text` with every secret this process knows redacted: the secret values of every stack config it has read
    and the secrets it read at run time. For a message (a debug traceback) made where no one config is at hand."""
    return _redacted(text, [*(s for config in list(_CONFIGS) for s in config.secret_texts()), *_READ])


def load_project(project_dir: Path) -> dict[str, Any]:
    """Pulumi.yaml, refused where the Pulumi CLI refuses it: checked against the CLI's own project schema, then
    `config: <folder>` read as the old spelling of `stackConfigDir` (sdk/go/common/workspace/loaders.go,
    LoadProjectBytes: ValidateProject, then RewriteConfigPathIntoStackConfigDir)."""
    path = project_dir / "Pulumi.yaml"
    try:
        project = load_file(path)
    except YamlError as exc:
        raise StackConfigError(str(exc)) from None
    faults = project_faults(project)
    if faults:
        lines = "\n".join(f"  - {f}" for f in faults)
        raise StackConfigError(f"could not validate '{path}', as the Pulumi CLI would not:\n{lines}")
    if isinstance(project.get("config"), str):
        if "stackConfigDir" in project:
            raise StackConfigError(
                f"{path}: should not use both config and stackConfigDir to define the stack directory; use only "
                "stackConfigDir (as the Pulumi CLI says)"
            )
        project = {**project, "stackConfigDir": project["config"], "config": None}
    checked: dict[str, Any] = project
    return checked


def stack_file(project_dir: Path, stack: str) -> Path:
    return stack_dir(project_dir) / f"Pulumi.{stack}.yaml"


def selected_stack(project_dir: Path) -> tuple[str, str] | None:
    """The stack the Pulumi CLI would use here without `--stack`, and why: `PULUMI_STACK`, else the workspace's
    selection (`pulumi stack select`), as pkg/backend/state/stacks.go (getCurrentStackName) reads them.

    The selection lives in `$PULUMI_HOME/workspaces/<project>-<sha1 of Pulumi.yaml's real path>-workspace.json`
    (pkg/workspace/workspace.go, settingsPathFor): `stacks` per backend URL (PULUMI_BACKEND_URL, else the logged-in
    backend of credentials.json), else the older `stack` (pkg/workspace/settings.go, StackForBackend). A qualified
    name (`org/project/dev`) selects `Pulumi.dev.yaml`.
    """
    import hashlib
    import os

    def short(name: str) -> str:
        return name.rsplit("/", 1)[-1]

    given = os.environ.get("PULUMI_STACK")
    if given:
        return short(given), "PULUMI_STACK"
    project_file = (project_dir / "Pulumi.yaml").resolve()
    try:
        name = load_project(project_dir)["name"]
    except StackConfigError:
        return None
    home = Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")
    digest = hashlib.sha1(str(project_file).encode(), usedforsecurity=False).hexdigest()
    settings_file = home / "workspaces" / f"{name}-{digest}-workspace.json"
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.is_file() else {}
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict):
        return None
    per_backend = settings.get("stacks")
    chosen = settings.get("stack")
    if isinstance(per_backend, dict) and per_backend:
        backend = os.environ.get("PULUMI_BACKEND_URL") or _logged_in_backend(home)
        chosen = per_backend.get(backend, chosen) if backend else chosen
    if isinstance(chosen, str) and chosen:
        return short(chosen), "the workspace's selected stack (pulumi stack select)"
    return None


def _logged_in_backend(home: Path) -> str | None:
    try:
        credentials = json.loads((home / "credentials.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    current = credentials.get("current") if isinstance(credentials, dict) else None
    return current if isinstance(current, str) else None


def stack_names(project_dir: Path) -> list[str]:
    """Every stack that has a `Pulumi.<stack>.yaml` in the stack directory."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stack_dir(project_dir).glob("Pulumi.*.yaml"))


def load_stack_config(
    project_dir: Path,
    *,
    stack: str | None = None,
    config_file: Path | None = None,
) -> StackConfig:
    """Config of `stack` (from `Pulumi.<stack>.yaml`) or of an explicit file, with project defaults applied."""
    project = load_project(project_dir)
    name = project["name"]
    if stack is not None:
        try:
            stack = stack_name(stack, name)
        except ValueError as exc:
            raise StackConfigError(f"--stack {stack}: {exc}") from None
    if config_file is None:
        if stack is None:
            raise StackConfigError("give a stack name or a config file")
        config_file = stack_file(project_dir, stack)
        if not config_file.exists():
            known = ", ".join(stack_names(project_dir)) or "none"
            raise StackConfigError(f"stack '{stack}' has no {config_file.name} (stacks here: {known})")
    stack = stack or config_file.stem.removeprefix("Pulumi.")
    try:
        document = load_file(config_file)
    except YamlError as exc:
        raise StackConfigError(str(exc)) from None
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise StackConfigError(f"{config_file} must be a mapping with a 'config' key")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise StackConfigError(f"{config_file}: 'config' must be a mapping")
    faults = config_faults(name, raw, project.get("config"))
    if faults:
        # The program will not run, so the faults it would report from the stack file come in this round too.
        faults.extend(plain_credential_faults(name, raw))
        lines = "\n".join(f"  - {f}" for f in faults)
        raise StackConfigError(
            f"{config_file} has {len(faults)} problem{'s' if len(faults) > 1 else ''}; nothing was previewed.\n{lines}"
        )
    raw = {full_key(name, key): value for key, value in raw.items()}  # as the CLI reads them from here on
    environments = _esc_imports(document.get("environment"), config_file)
    placeholders: list[str] = []
    if environments:
        raw, placeholders = _with_esc(name, raw, environments)
    config = make_stack_config(name, stack, raw, project.get("config"), path=config_file)
    config.esc_environments, config.esc_placeholders = environments, placeholders
    return config


def _esc_imports(value: Any, path: Path) -> list[str]:
    """`environment: [a, b]` (or `environment: {imports: [...]}`) of a stack file."""
    if value is None:
        return []
    imports = value.get("imports") if isinstance(value, dict) else value
    if not isinstance(imports, list) or not all(isinstance(e, str) and e for e in imports):
        raise StackConfigError(f"{path}: 'environment' must list ESC environment names")
    return list(imports)


def _with_esc(project: str, raw: dict[str, Any], environments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The stack's config with what its ESC environments provide (`esc env open <env> pulumiConfig`), the stack's
    own values winning as in Pulumi. Without the `esc` CLI, each credentials entry an upstream needs and the stack
    lacks gets a marked placeholder, and the report names it: never a false "credentials required"."""
    import shutil
    import subprocess

    esc = shutil.which("esc")
    if esc is not None:
        merged: dict[str, Any] = {}
        for environment in environments:
            try:
                result = subprocess.run(
                    [esc, "env", "open", environment, "pulumiConfig", "--format", "json"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise StackConfigError(f"cannot open the ESC environment {environment}: {exc}") from None
            if result.returncode != 0:
                raise StackConfigError(f"`esc env open {environment}` failed: {result.stderr.strip()[:300]}")
            try:
                values = json.loads(result.stdout or "{}") or {}
            except ValueError:
                raise StackConfigError(f"`esc env open {environment}` printed no JSON") from None
            if isinstance(values, dict):  # tokens from ESC stay secrets, entry by entry
                merged.update(  # keyed as the stack's are, so a stack's own value replaces the environment's
                    {
                        full_key(project, k): _secure_leaves(v) if k.split(":")[-1] in SECRET_MAPS else v
                        for k, v in values.items()
                    }
                )
        return {**merged, **raw}, []
    return _esc_placeholders(project, raw, environments)


def _secure_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _secure_leaves(v) for k, v in value.items()}
    return {"secure": value} if isinstance(value, str) else value


def _esc_placeholders(project: str, raw: dict[str, Any], environments: list[str]) -> tuple[dict[str, Any], list[str]]:
    from ecr_pull_through_cache.catalog import KINDS
    from ecr_pull_through_cache.config import credentials_key

    upstreams = raw.get(f"{project}:upstreams")  # keys are the CLI's full keys by now
    key = f"{project}:credentials"
    credentials = dict(raw.get(key) or {}) if isinstance(raw.get(key) or {}, dict) else {}
    added = []
    for entry in upstreams if isinstance(upstreams, list) else []:
        if not isinstance(entry, dict) or entry.get("existing_secret") or entry.get("token"):
            continue
        spec = KINDS.get(entry["kind"]) if isinstance(entry.get("kind"), str) else None
        prefix = credentials_key(entry) if spec is not None and spec.needs_secret else None
        if prefix and prefix not in credentials:
            credentials[prefix] = {"secure": f"esc-unresolved:{','.join(environments)}"}
            added.append(f"credentials.{prefix}")
    if added:
        raw = {**raw, key: credentials}
    return raw, added


def _secure_faults(key: str, value: Any, path: str = "") -> list[str]:
    """A secure value with no ciphertext, which no secrets provider decrypts (crypt.go: "bad value"); never shows
    what was given. A mapping with `secure` beside other keys, or not text, is plain config to the CLI
    (object.go, isSecureValue), and so here."""
    here = f"{key}{path}"
    if isinstance(value, dict):
        if is_secure_value(value):
            if value["secure"]:
                return []
            return [
                f'{here}: secure holds no ciphertext, which the Pulumi CLI cannot decrypt ("bad value"); set it '
                "with `pulumi config set --secret`"
            ]
        return [f for k, v in value.items() for f in _secure_faults(key, v, f"{path}.{k}")]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _secure_faults(key, v, f"{path}[{i}]")]
    return []


def config_faults(project: str, raw: dict[str, Any], declared: dict[str, Any] | None) -> list[str]:
    """What the Pulumi CLI would refuse, or what would put a token in plain text, read from the stack file's YAML:
    the types `Pulumi.yaml` declares, `aws:region`, `secure:` values, and a plain leaf among the tokens."""
    faults = []
    declared = declared or {}
    given = {full_key(project, key) for key in raw}
    for key, declaration in declared.items():
        # The CLI requires every key of the project's namespace declared without a default or value
        # (pkg/workspace/config.go, mergeConfig: "Stack '<stack>' is missing configuration value '<key>'").
        full = full_key(project, key)
        required = (
            isinstance(declaration, dict) and declaration.get("default") is None and declaration.get("value") is None
        )
        if required and full.startswith(f"{project}:") and full not in given:
            faults.append(
                f"{full}: is missing; Pulumi.yaml declares it without a default, so the Pulumi CLI refuses the "
                f"stack without it (set it with `pulumi config set {full.split(':', 1)[1]} <value>`)"
            )
    spellings: dict[str, list[str]] = {}
    for key in raw:
        fault = key_fault(key)
        if fault:
            faults.append(fault)
        spellings.setdefault(full_key(project, key), []).append(key)
    for full, keys in spellings.items():
        if len(keys) > 1:
            faults.append(
                f"{full}: is set twice, as {' and as '.join(repr(k) for k in keys)} (a bare key is the project's "
                "own): keep one"
            )
    for key, value in raw.items():
        full = full_key(project, key)
        short = full.split(":", 1)[1] if full.startswith(f"{project}:") else None
        faults.extend(_secure_faults(full, value))
        declaration = declared.get(short) if short is not None else None
        expected = declaration.get("type") if isinstance(declaration, dict) else None
        if is_secure_value(value):
            continue
        items = declaration.get("items") if isinstance(declaration, dict) else None
        if isinstance(expected, str) and not value_fits(expected, items, stored_content(value)):
            shown = "empty" if value is None else f"{type(value).__name__} {json.dumps(value)[:40]}"
            faults.append(
                f"{full}: Pulumi.yaml declares it of type '{type_name(expected, items)}', but the stack sets it to "
                f"{shown}, which the Pulumi CLI refuses; set a value of that type"
            )
        if short in SECRET_MAPS:
            if not isinstance(value, dict):
                faults.append(
                    f"{full}: must be a map of upstream prefix to token, each set with `pulumi config "
                    f"set --secret --path '{short}.<prefix>' <token>` (its value is not shown)"
                )
            # A plain entry in the map is the program's fault to report (plain_secret_leaves), with every other
            # fault of the config in the same round: the Pulumi CLI itself does not refuse it
            # (`plain_credential_faults` adds it here only when the program will not run).
    region = next((value for key, value in raw.items() if full_key(project, key) == REGION_KEY), None)
    if region is not None:
        from ecr_pull_through_cache.catalog import partition_of_region

        if not isinstance(region, str) or partition_of_region(region) is None:
            shown = json.dumps(region)[:40] if not isinstance(region, dict) else "a mapping"
            faults.append(
                f"{REGION_KEY}: {shown} is not an AWS region name such as us-east-2 (the partition follows from it)"
            )
    return faults


def plain_credential_faults(project: str, raw: dict[str, Any]) -> list[str]:
    """`credentials` entries of a stack file in plain text, as the program reports them (`plain_secret_leaves`)."""
    from ecr_pull_through_cache.config import plain_secret_leaves

    faults = []
    for key, value in raw.items():
        full = full_key(project, key)
        short = full.split(":", 1)[1] if full.startswith(f"{project}:") else None
        if short in SECRET_MAPS and isinstance(value, dict):
            for leaf in plain_secret_leaves({full: value}, project):
                faults.append(
                    f"{full}.{leaf}: is stored in plain text; set it with `pulumi config set "
                    f"--secret --path '{short}.{leaf}' <token>` (its value is not shown)"
                )
    return faults


def make_stack_config(
    project: str, stack: str, config: dict[str, Any], declared: dict[str, Any] | None = None, path: Path | None = None
) -> StackConfig:
    """A `StackConfig` from a stack file's `config:` mapping (keys with or without the project namespace).

    `declared` is the project file's `config:` block, whose defaults apply to keys the stack omits.
    """
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, declaration in (declared or {}).items():
        full = full_key(project, key)
        if isinstance(declaration, dict):  # a project key's `default`, any key's `value` (pkg/workspace/config.go)
            given = declaration.get("default")
            given = declaration.get("value") if given is None else given
            if given is not None:
                values[full] = _runtime_string(given)
        else:
            values[full] = _runtime_string(declaration)
    for key, value in config.items():
        full = full_key(project, key)
        plain, secret = _reveal_ciphertext(value)
        values[full] = _runtime_string(plain)
        if secret:
            secret_keys.append(full)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys), path=path)


def _reveal_ciphertext(value: Any) -> tuple[Any, bool]:
    """Replace every `{secure: ...}` by its ciphertext; report whether any was found."""
    if isinstance(value, dict):
        if is_secure_value(value):
            return str(value["secure"]), True
        items = {k: _reveal_ciphertext(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        revealed = [_reveal_ciphertext(v) for v in value]
        return [v for v, _ in revealed], any(s for _, s in revealed)
    return value, False


def _runtime_string(value: Any) -> str:
    """The text the program reads for a config value: the CLI stores a scalar as its text and anything else as
    Go's JSON of it (`30.0` reads as `30`, keys sorted)."""
    content = stored_content(value)
    return content if isinstance(content, str) else go_json(content)
