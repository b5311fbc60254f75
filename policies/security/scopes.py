"""Least-privilege upstream tokens: every declared scope is in the kind's allowed set."""

from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
)

from facts import (
    ALLOWED_SCOPES,
    GITLAB_TOKEN_TYPES,
    SECRET,
    SECRET_PREFIX,
    TAG_SCOPES,
    TAG_TOKEN_TYPE,
    TAG_UPSTREAM,
    TOKEN_HELP,
)
from support import Unknowns, get, label, shown


def is_credentials_secret(props, unknowns: Unknowns, what: str) -> bool:
    """A secret ECR reads upstream credentials from: named under ecr-pullthroughcache/, or tagged ptc:upstream."""
    tagged = False
    with unknowns.guard(what):
        tagged = get(get(props, "tags") or {}, TAG_UPSTREAM) is not None
    if tagged:
        return True
    for key in ("name", "namePrefix"):
        with unknowns.guard(what):
            value = get(props, key)
            if isinstance(value, str) and value.startswith(SECRET_PREFIX):
                return True
    return False


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SECRET:
        return
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    if not is_credentials_secret(args.props, unknowns, what):
        unknowns.finish()
        return
    allowed = {**ALLOWED_SCOPES, **(args.get_config().get("allowedScopes") or {})}
    with unknowns.guard(what):
        tags = get(args.props, "tags") or {}
        kind = get(tags, TAG_UPSTREAM)
        if kind is None:
            report(
                f"The secret {what} holds upstream registry credentials but has no '{TAG_UPSTREAM}' tag; "
                f"tag it with the upstream kind and declare the token's scopes in '{TAG_SCOPES}' so that least "
                "privilege can be checked."
            )
        elif kind not in allowed:
            report(
                f"The secret {what} is tagged {TAG_UPSTREAM}={shown(kind)}, which is not an upstream that "
                f"authenticates with a token ({', '.join(sorted(allowed))}); fix the tag or remove the credentials."
            )
        else:
            declared = get(tags, TAG_SCOPES)
            scopes = declared.split() if isinstance(declared, str) else []
            if not scopes:
                report(
                    f"The secret {what} holds {kind} credentials but declares no token scopes; set the tag "
                    f"'{TAG_SCOPES}' to the token's scopes, space-separated (allowed: "
                    f"{' '.join(allowed[kind])})."
                )
            excess = [s for s in scopes if s not in allowed[kind]]
            if excess:
                report(
                    f"The secret {what} holds a {kind} token with scopes beyond least privilege: "
                    f"{', '.join(excess)}. Allowed: {', '.join(allowed[kind])}; "
                    f"{TOKEN_HELP.get(kind, 'issue a read-only token')}."
                )
    unknowns.finish()


POLICY = declare(
    "token-scopes-least-privilege",
    "Upstream credentials secrets declare their token scopes (tag ptc:token-scopes) and every scope is "
    "in the upstream's least-privilege set.",
    validate,
    settings={
        "allowedScopes": {
            "type": "object",
            "description": "Allowed token scopes per upstream kind, replacing the defaults for the kinds given "
            '(for example {"docker-hub": ["repo:public_read"]}).',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "propertyNames": {"enum": sorted(ALLOWED_SCOPES)},  # the kinds that authenticate with a token
        },
    },
)


def validate_gitlab_token_type(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SECRET:
        return
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    with unknowns.guard(what):
        tags = get(args.props, "tags") or {}
        if get(tags, TAG_UPSTREAM) != "gitlab-container-registry":
            return
        token_type = get(tags, TAG_TOKEN_TYPE)
        advice = (
            "use a group access token with the Reporter role and only read_registry (or a group deploy token "
            "with read_registry where group access tokens are not offered)"
        )
        if token_type is None:
            report(
                f"The secret {what} holds a GitLab token but does not declare its type; set the upstream's "
                f"token_type (tag '{TAG_TOKEN_TYPE}') and {advice}."
            )
        elif token_type == "personal-access-token":
            report(
                f"The secret {what} holds a GitLab personal access token, which acts as a person with all of "
                f"their groups and projects; {advice}."
            )
        elif token_type not in GITLAB_TOKEN_TYPES:
            report(
                f"The secret {what} declares the GitLab token type '{shown(token_type)}', which GitLab does not have "
                f"({', '.join(GITLAB_TOKEN_TYPES)}); fix the tag '{TAG_TOKEN_TYPE}'."
            )
    unknowns.finish()


def check_scopes_config(settings) -> list[str]:
    unknown = sorted(set(settings.get("allowedScopes") or {}) - set(ALLOWED_SCOPES))
    if unknown:
        return [
            f"allowedScopes: {', '.join(unknown)} is not an upstream kind that authenticates with a token "
            f"({', '.join(sorted(ALLOWED_SCOPES))})"
        ]
    return []


GITLAB_TOKEN_POLICY = declare(
    "gitlab-token-type",
    "A GitLab credentials secret declares its token type (tag ptc:token-type), and it is not a personal access token.",
    validate_gitlab_token_type,
    advisory=True,
)
