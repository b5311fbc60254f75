"""One upstream of the config, as a typed model: a discriminated union on `kind`, one model per upstream kind of
`catalog.KINDS`, each checking the rules of its kind (docs/config.md, "Upstreams").

The validation context tells an upstream what the stack knows already: `stack` (a `StackContext`, or None inside a
component given Outputs: the account and region checks are skipped), `credentials` (the tokens keyed by prefix) and
`random_prefix_suffix` (the stack's default for `random_suffix`). The settled model carries the upstream URL it
resolved (`upstream_url`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, create_model

from . import catalog, naming
from .model import (
    Flag,
    Loc,
    Parser,
    SecretValue,
    Section,
    Text,
    TextList,
    Written,
    did_you_mean,
    refuse,
    show,
    unknown_key_faults,
)
from .sections import ManagedToken, TemplateOverride, account_text

UPSTREAM_KEYS = (
    "kind",
    "prefix",
    "random_suffix",
    "username",
    "token_scopes",
    "token_type",
    "existing_secret",
    "registry",
    "upstream_prefix",
    "template",
    "token",
)
FINE_GRAINED_GITHUB_TOKEN = "github_pat_"
GITLAB = "gitlab-container-registry"


def credentials_key(entry: Mapping[str, Any]) -> str | None:
    """The `credentials` key of an upstream entry: its prefix (without any random suffix)."""
    prefix = entry.get("prefix")
    if prefix is None:
        kind = entry.get("kind")
        kind = kind.value if isinstance(kind, Enum) else kind
        spec = catalog.KINDS.get(kind) if isinstance(kind, str) else None
        prefix = spec.default_prefix if spec else None
    return naming.normalize_prefix(prefix) if isinstance(prefix, str) and prefix else None


class Upstream(Section):
    """An upstream registry: its kind, the ECR prefix it is cached under, and its credentials."""

    kind: str = Field(
        description=(
            "The upstream registry: the value of ECR's upstreamRegistry, and of the kinds' rules (docs/config.md)."
        )
    )
    prefix: Text | None = Field(
        None, description="The ECR repository prefix (the kind's default when not given; required for ecr)."
    )
    random_suffix: Flag | None = Field(
        None, description="Append 4 random hex characters to the prefix (default: the stack's random_prefix_suffix)."
    )
    username: Text | None = Field(
        None, description="The account or token name that owns the access token (kinds with credentials)."
    )
    token_scopes: TextList | None = Field(
        None, description="The scopes the token was created with, declared so the policies can check least privilege."
    )
    token_type: Text | None = Field(
        None, description="GitLab: the kind of token in credentials (catalog.GITLAB_TOKEN_TYPES)."
    )
    existing_secret: Text | None = Field(
        None, description="A Secrets Manager secret (name or ARN under ecr-pullthroughcache/) holding the credentials."
    )
    registry: Annotated[Text, BeforeValidator(account_text), Written.of(type=["string", "integer"])] | None = Field(
        None, description="Azure: the registry name; ECR: the registry host or a 12-digit account id (same region)."
    )
    upstream_prefix: Text | None = Field(
        None, description="ECR: the upstream repository prefix mirrored (ROOT, the whole registry, by default)."
    )
    template: TemplateOverride | None = Field(
        None, description="Template settings of this upstream over the stack's template."
    )
    token: Any = Field(
        None, description="GitLab: a token the stack creates (see ManagedToken) instead of one in credentials."
    )

    _upstream_url: str | None = None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return UPSTREAM_KEYS

    @property
    def upstream_url(self) -> str | None:
        return self._upstream_url

    @property
    def spec(self) -> catalog.Kind:
        return catalog.KINDS[self.kind]

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> Upstream:
        stack = context.get("stack")
        random_suffix = (
            self.random_suffix if self.random_suffix is not None else context.get("random_prefix_suffix", False)
        )
        prefix = self._prefix(random_suffix, fault)
        url = self._registry(stack, fault)
        upstream_prefix = self._upstream_prefix(stack, url, fault)
        settled = self.model_copy(
            update={"prefix": prefix, "random_suffix": bool(random_suffix), "upstream_prefix": upstream_prefix}
        )
        settled._upstream_url = url
        if self.given("token") and self.kind != GITLAB:
            fault(("token",), f"only applies to kind gitlab-container-registry, not '{self.kind}'; remove it")
        elif self.failed("token"):
            # The stack is meant to create the token: the block's own faults say what to fix, and the faults of
            # the other path (username, credentials, token_scopes) would only bury them.
            return settled
        # A component's arguments carry the token beside the upstream; a stack's config, under credentials.
        credentials_key = (
            "access_token" if context.get("arguments") else f"credentials.{prefix}" if prefix else "credentials"
        )
        token = (context.get("credentials") or {}).get(prefix) if prefix else None
        if isinstance(self.token, ManagedToken):
            return settled._managed(credentials_key, token is not None, fault)
        return settled._credentials(credentials_key, token, stack, fault)

    def _prefix(self, random_suffix: bool, fault: Callable[[Loc, str], None]) -> str | None:
        prefix = self.prefix
        if not self.given("prefix"):
            if self.spec.default_prefix is None:
                fault(("prefix",), "is required for kind 'ecr' (there is no default); for example 'upstream-ecr'")
            prefix = self.spec.default_prefix
        if prefix is not None:
            prefix = naming.normalize_prefix(prefix)
            reserve = naming.RANDOM_SUFFIX_LENGTH + 1 if random_suffix else 0
            for problem in naming.prefix_faults(prefix, reserve=reserve):
                fault(("prefix",), problem)
        return prefix

    def _registry(self, stack: Any, fault: Callable[[Loc, str], None]) -> str | None:
        """The upstream URL: the kind's own, or built from `registry` (Azure, ECR)."""
        spec, registry = self.spec, self.registry
        if not spec.needs_registry:
            if self.given("registry"):
                fault(
                    ("registry",),
                    f"only applies to kinds azure-container-registry and ecr; '{self.kind}' always uses {spec.url}; "
                    "remove it",
                )
            return spec.url
        if registry is None:
            if not self.given("registry"):
                example = (
                    "acmeprod (for acmeprod.azurecr.io)"
                    if self.kind == "azure-container-registry"
                    else "123456789012.dkr.ecr.eu-west-1.amazonaws.com or a 12-digit account id"
                )
                fault(("registry",), f"is required for kind '{self.kind}': for example {example}")
            return None
        if self.kind == "ecr" and stack is None and catalog.ACCOUNT_ID.fullmatch(registry):
            fault(
                ("registry",),
                f"'{registry}' is an account id; give the full registry host "
                f"'{registry}.dkr.ecr.<region>.amazonaws.com'",
            )
            return None
        try:
            return catalog.upstream_url(
                self.kind, registry, stack.region if stack else "", stack.dns_suffix if stack else "amazonaws.com"
            )
        except ValueError as exc:
            fault(("registry",), str(exc))
            return None

    def _upstream_prefix(self, stack: Any, url: str | None, fault: Callable[[Loc, str], None]) -> str | None:
        """ECR only: the upstream repository prefix mirrored (ROOT by default), and the upstream's own rules."""
        if self.kind != "ecr":
            if self.given("upstream_prefix"):
                fault(("upstream_prefix",), f"only applies to kind 'ecr', not '{self.kind}'; remove it")
            return self.upstream_prefix
        upstream_prefix = naming.normalize_prefix(self.upstream_prefix) if self.upstream_prefix else naming.ROOT
        for problem in naming.prefix_faults(upstream_prefix, allow_root=True):
            fault(("upstream_prefix",), problem)
        if stack is not None and url:
            for problem in _ecr_upstream_faults(url, stack):
                fault(("registry",), problem)
        return upstream_prefix

    def _managed(self, credentials_key: str, has_token: bool, fault: Callable[[Loc, str], None]) -> Upstream:
        """A token the stack creates leaves no room for a token, secret, username or scopes of the config's own."""
        if has_token:
            fault((credentials_key,), "is set but this upstream creates its own token (token:); remove one of them")
        if self.given("existing_secret"):
            fault(
                ("existing_secret",),
                "and token: are both set; the stack either creates the token or reads an existing secret: remove one",
            )
        for name in ("username", "token_type"):
            if self.given(name):
                fault((name,), "is set by the token: block; remove it")
        if self.given("token_scopes") and self.token_scopes != ("read_registry",):
            fault(("token_scopes",), "is read_registry for a token the stack creates; remove it")
        return self.model_copy(
            update={
                "token_type": self.token.type,
                "token_scopes": ("read_registry",),
                "username": None,
                "existing_secret": None,
            }
        )

    def _credentials(self, credentials_key: str, token: Any, stack: Any, fault: Callable[[Loc, str], None]) -> Upstream:
        """The credentials of the config: a token in `credentials` with its username and declared scopes, or an
        existing secret; none at all for kinds that take none."""
        spec, scopes = self.spec, self.token_scopes
        if not spec.needs_secret:
            self._no_credentials(credentials_key, token is not None, fault)
        elif self.existing_secret is not None:
            for problem in existing_secret_faults(self.existing_secret, stack):
                fault(("existing_secret",), problem)
            if token is not None:
                fault(
                    (credentials_key,),
                    "is set but this upstream uses existing_secret; remove the token so it lives in one place",
                )
            if self.username is not None:
                fault(
                    ("username",),
                    "is set but this upstream uses existing_secret, which holds the username; remove it",
                )
        else:
            self._token(credentials_key, token, fault)
        if spec.needs_secret and scopes is not None:
            if not scopes:
                fault(("token_scopes",), f"must not be empty; allowed: {', '.join(sorted(spec.allowed_scopes))}")
            for scope in catalog.scopes_beyond_least_privilege(spec.kind, scopes):
                fault(("token_scopes",), f"'{scope}' is beyond least privilege for {spec.title}: {spec.token_help}")
        token_type = self.token_type
        if token_type is not None:
            if self.kind != GITLAB:
                fault(("token_type",), f"only applies to kind gitlab-container-registry, not '{self.kind}'; remove it")
            elif token_type not in catalog.GITLAB_TOKEN_TYPES:
                fault(
                    ("token_type",),
                    f"{show(token_type)} is not a GitLab token type; use one of "
                    f"{', '.join(catalog.GITLAB_TOKEN_TYPES)}",
                )
                token_type = None
        return self.model_copy(update={"token_scopes": tuple(scopes or ()), "token_type": token_type})

    def _token(self, credentials_key: str, token: Any, fault: Callable[[Loc, str], None]) -> None:
        spec = self.spec
        if not self.given("username"):
            fault(("username",), f"is required for {spec.title} (the account or token name that owns the access token)")
        if token is None:
            how = (
                "give the upstream's token as access_token, a Pulumi secret"
                if credentials_key == "access_token"
                else f"run `pulumi config set --secret --path '{credentials_key}' <token>`"
            )
            fault((credentials_key,), f"is required: {how} ({spec.token_help})")
        elif (
            isinstance(token, SecretValue)
            and self.kind == "github-container-registry"
            and token.reveal().startswith(FINE_GRAINED_GITHUB_TOKEN)
        ):
            fault((credentials_key,), f"is a fine-grained GitHub token, which GHCR does not accept; {spec.token_help}")
        if not self.given("token_scopes"):
            fault(
                ("token_scopes",),
                "is required: declare the token's scopes so policies can check least privilege "
                f"(allowed: {', '.join(sorted(spec.allowed_scopes))})",
            )

    def _no_credentials(self, credentials_key: str, has_token: bool, fault: Callable[[Loc, str], None]) -> None:
        kind = self.kind
        reason = (
            "ECR refuses credentials for Quay"
            if kind == "quay"
            else "it authenticates with an IAM role"
            if kind == "ecr"
            else "it needs no credentials"
        )
        for key, present in (
            ("username", self.given("username")),
            ("token_scopes", self.given("token_scopes")),
            ("existing_secret", self.given("existing_secret")),
            (credentials_key, has_token),
        ):
            if present:
                fault((key,), f"is not allowed for kind '{kind}' because {reason}; remove it")


def _ecr_upstream_faults(host: str, stack: Any) -> list[str]:
    """An ECR upstream is another registry of the stack's own partition."""
    match = catalog.ECR_HOST.fullmatch(host)
    if match is None:
        return []
    region = match.group("region")
    partition = catalog.partition_of_region(region)
    faults = []
    if partition is not None and partition[0] != stack.partition:
        faults.append(
            f"'{host}' is in partition {partition[0]} but the stack deploys to {stack.partition}; IAM "
            "roles cannot reach across partitions, so mirror from a registry of the same partition"
        )
    if match.group("account") == stack.account_id and region == stack.region:
        faults.append(
            f"'{host}' is this stack's own registry; a pull through cache rule must read from another "
            "registry (another account or region)"
        )
    return faults


def existing_secret_faults(existing: str, stack: Any) -> list[str]:
    arn = naming.parse_arn(existing)
    if existing.startswith("arn:"):
        if arn is None or arn.service != "secretsmanager" or not arn.resource.startswith("secret:"):
            return [f"'{existing}' is not a Secrets Manager secret ARN"]
        faults = []
        if not naming.is_credential_arn(existing):
            faults.append(
                f"'{existing}' is not a secret under '{naming.SECRET_NAME_PREFIX}'; ECR only reads "
                f"secrets whose name starts with '{naming.SECRET_NAME_PREFIX}'"
            )
        if stack is not None:
            if arn.region != stack.region:
                faults.append(
                    f"is in region {arn.region} but the stack deploys to {stack.region}; ECR only "
                    "reads a secret in the rule's own region: copy it there"
                )
            if arn.account != stack.account_id:
                faults.append(
                    f"is in account {arn.account} but the stack deploys to {stack.account_id}; ECR only "
                    "reads a secret in the rule's own account: copy it there"
                )
        return faults
    if not existing.startswith(naming.SECRET_NAME_PREFIX):
        return [
            f"'{existing}' must start with '{naming.SECRET_NAME_PREFIX}' (ECR only reads those secrets); "
            "rename the secret"
        ]
    if not naming.SECRET_NAME_CHARS.fullmatch(existing):
        return [f"'{existing}' may only use letters, digits and /_+=.@-"]
    return []


def _model_name(kind: str) -> str:
    return "".join(part.title() for part in kind.split("-")) + "Upstream"


KIND_MODELS: dict[str, type[Upstream]] = {
    kind: create_model(  # type: ignore[call-overload]
        _model_name(kind),
        __base__=Upstream,
        __doc__=f"An upstream of kind {kind}: {spec.title}.",
        kind=(Literal[kind], Field(description=Upstream.model_fields["kind"].description)),
        **(
            {"token": (ManagedToken | None, Field(None, description=Upstream.model_fields["token"].description))}
            if kind == GITLAB
            else {}
        ),
    )
    for kind, spec in catalog.KINDS.items()
}


def dispatch(data: Any, context: dict[str, Any]) -> Upstream:
    """The model of the entry's kind, or every fault of an entry without a kind this project knows."""
    if not isinstance(data, Mapping):
        refuse(data, f"must be a mapping with at least 'kind', not {show(data)}")
    kind = data.get("kind")
    if isinstance(kind, Enum):
        kind = kind.value
    if kind is not None and not isinstance(kind, str):
        refuse(
            data, (("kind",), f"must be one upstream kind as text ({', '.join(catalog.KIND_NAMES)}), not {show(kind)}")
        )
    if kind in KIND_MODELS:
        upstream: Upstream = KIND_MODELS[kind].parse({**data, "kind": kind}, context)
        return upstream
    faults: list[Any] = list(unknown_key_faults(data, UPSTREAM_KEYS)[0])
    names = ", ".join(catalog.KIND_NAMES)
    if kind is None:
        faults.append((("kind",), f"is required: one of {names}"))
    else:
        meant = did_you_mean(kind, catalog.KIND_NAMES)
        hint = f"did you mean '{meant}'? (kinds: " if meant else "use one of "
        faults.append((("kind",), f"{show(kind)} is not a supported upstream; {hint}{names}{')' if meant else ''}"))
    refuse(data, *faults)


if TYPE_CHECKING:
    UpstreamEntry = Upstream
else:
    # The union documents each kind in the JSON Schema; `dispatch` picks the kind's model itself, to word the
    # faults of an entry without a known kind.
    UpstreamEntry = Annotated[
        Union[tuple(KIND_MODELS.values())], Field(discriminator="kind"), Parser(dispatch)  # noqa: UP007
    ]
"""One entry of `upstreams`: the model of its kind."""
