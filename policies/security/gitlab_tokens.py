"""GitLab token resources that feed a pull through cache secret: read_registry only, at most Reporter, expiring.

Whoever wrote the stack, any of pulumi-gitlab's eight token resources (group, project and personal access tokens,
group and project deploy tokens, group and project service account tokens, user impersonation tokens) whose token
flows into a credentials secret is checked as a resource, not through a declared tag: exactly the `read_registry`
scope, a role that can pull and no more where the resource has one (the provider's default is Maintainer), and an
expiry or a rotation. The token is followed to the secret through the stack's property dependencies, transitively:
a secret version's `secretString`, `secretStringWo` or `secretBinary` (or an aws-native Secret's own `secretString`)
-> ... -> token; the version's `secretId` -> a secret of the stack, or an existing secret named by name or ARN under
ecr-pullthroughcache/.

The role: GitLab's permission table (docs.gitlab.com user/permissions, project packages and registries) says "The
Guest role does not have viewing or pulling permissions in private projects", and a registry visible to "Only
Project Members" needs at least Reporter. So Reporter pulls wherever the token's group lets it, and Guest pulls
only from public projects (AWS's pull through cache guide says Guest; GitLab decides what a GitLab token can do).
A pack cannot see whether the projects are public, so it accepts guest, planner and reporter, and refuses the
roles above (more than a pull needs) and below (no one, minimal: no pull at all).
"""

from collections.abc import Sequence

from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from facts import CREDENTIAL_ARN, SECRET, SECRET_PREFIX, TAG_UPSTREAM
from scopes import is_credentials_secret as credentials_secret_props
from support import Unknowns, get, known_items, label, shown


class Token:
    """What the pack knows of one pulumi-gitlab token resource (pulumi-gitlab 10.x, sdk/python/pulumi_gitlab/*.py)."""

    def __init__(self, kind: str, *, access_level: bool = False, rotation: bool = False, personal: bool = False):
        self.kind = kind
        self.access_level = access_level  # `accessLevel`, default maintainer
        self.rotation = rotation  # `rotationConfiguration` (else only `expiresAt`)
        self.personal = personal  # acts as a person, with all of their groups and projects


TOKENS = {
    "gitlab:index/groupAccessToken:GroupAccessToken": Token("group access token", access_level=True, rotation=True),
    "gitlab:index/projectAccessToken:ProjectAccessToken": Token(
        "project access token", access_level=True, rotation=True
    ),
    "gitlab:index/personalAccessToken:PersonalAccessToken": Token(
        "personal access token", rotation=True, personal=True
    ),
    "gitlab:index/userImpersonationToken:UserImpersonationToken": Token("user impersonation token", personal=True),
    "gitlab:index/groupDeployToken:GroupDeployToken": Token("group deploy token"),
    "gitlab:index/projectDeployToken:ProjectDeployToken": Token("project deploy token"),
    "gitlab:index/groupServiceAccountAccessToken:GroupServiceAccountAccessToken": Token(
        "group service account access token", rotation=True
    ),
    "gitlab:index/projectServiceAccountAccessToken:ProjectServiceAccountAccessToken": Token(
        "project service account access token", rotation=True
    ),
}
"""Every token resource of pulumi-gitlab 10.4 that can hold registry scopes (the provider's resource map in
pulumi_gitlab/__init__.py). A deploy token's and a service account token's role comes from elsewhere (deploy tokens
have none; a service account's is its membership), so only access tokens carry `accessLevel`."""
NOT_REGISTRY_TOKENS = {
    "gitlab:index/clusterAgentToken:ClusterAgentToken": "a cluster agent token",
    "gitlab:index/runnerControllerToken:RunnerControllerToken": "a runner controller token",
}
"""Tokens of pulumi-gitlab that authenticate something other than a user of the container registry."""
PULL_ROLES = {"guest", "planner", "reporter"}
NO_PULL_ROLES = {"no one", "minimal"}

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
NATIVE_SECRET = "aws-native:secretsmanager:Secret"
VALUE_PROPERTIES = ("secretString", "secretStringWo", "secretBinary")
"""Where a version's value comes from: pulumi-aws 7's SecretVersion takes `secretStringWo`, a write-only input that
never reaches the state, beside `secretString` and `secretBinary`; the CloudFormation-backed aws-native Secret holds
its own `secretString`."""


def _known(props, key: str):
    try:
        return get(props, key)
    except UnknownValueError:
        return None


def is_credentials_secret(secret) -> bool:
    """A secret ECR reads upstream credentials from (scopes.is_credentials_secret: named under ecr-pullthroughcache/
    or tagged ptc:upstream), with aws-native's tags too, a list of {key, value}. A value unknown during preview
    does not make it one."""
    tags = _known(secret.props, "tags")
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        if any(
            hasattr(tag, "keys") and _known(tag, "key") == TAG_UPSTREAM for tag in known_items(tags, Unknowns(), "")
        ):
            return True
    return credentials_secret_props(secret.props, Unknowns(), "")


def _names_credentials_secret(secret_id) -> bool:
    """An existing secret given by name or ARN, not created in the stack."""
    return isinstance(secret_id, str) and (
        secret_id.startswith(SECRET_PREFIX) or bool(CREDENTIAL_ARN.fullmatch(secret_id))
    )


def _credentials_target(resource) -> str | None:
    """The credentials secret a resource writes a value into (its label), or None."""
    if resource.resource_type == NATIVE_SECRET:
        return resource.name if is_credentials_secret(resource) else None
    if resource.resource_type != SECRET_VERSION:
        return None
    for secret in resource.property_dependencies.get("secretId", []):
        if secret.resource_type in (SECRET, NATIVE_SECRET) and is_credentials_secret(secret):
            return secret.name
    secret_id = _known(resource.props, "secretId")
    return shown(secret_id) if _names_credentials_secret(secret_id) else None


def sources(resource, keys) -> list:
    """Every resource a value of `resource` comes from, through the stack's property dependencies, transitively (a
    token may reach the secret through an intermediate resource), stopping at token resources."""
    seen: dict[str, object] = {}
    pending = [d for key in keys for d in resource.property_dependencies.get(key, [])]
    while pending:
        found = pending.pop()
        if found.urn in seen:
            continue
        seen[found.urn] = found
        if found.resource_type not in TOKENS and found.resource_type not in NOT_REGISTRY_TOKENS:
            pending.extend(d for deps in found.property_dependencies.values() for d in deps)
    return list(seen.values())


def feeding_tokens(args: StackValidationArgs) -> list[tuple[object, str]]:
    """(token resource, credentials secret) for every GitLab token whose value reaches a credentials secret: through a
    SecretVersion of a secret of the stack or of an existing one named by name or ARN, or an aws-native Secret's own
    secretString."""
    found = []
    for resource in args.resources:
        secret = _credentials_target(resource)
        if secret is None:
            continue
        for source in sources(resource, VALUE_PROPERTIES):
            if source.resource_type in TOKENS or source.resource_type in NOT_REGISTRY_TOKENS:
                found.append((source, secret))
    return found


def known_scopes(token, unknowns: Unknowns, what: str) -> tuple[list, int] | None:
    """The scopes known now and how many are not; a scope unknown during preview is deferred on its own, so a known
    `api` beside it is still judged. None when the list itself is unknown."""
    try:
        scopes = get(token.props, "scopes")
    except UnknownValueError as exc:
        unknowns.skipped.append(f"{what} .{'.'.join(exc.props)}")
        return None
    deferred = Unknowns()
    known = known_items(scopes, deferred, what)
    unknowns.skipped.extend(deferred.skipped)
    return known, len(deferred.skipped)


def validate_least_privilege(args: StackValidationArgs, report: ReportViolation) -> None:
    unknowns = Unknowns()
    for token, secret in feeding_tokens(args):
        what = label(token.resource_type, token.name)
        feeds = f"feeds the pull through cache secret '{secret}'"
        if token.resource_type in NOT_REGISTRY_TOKENS:
            report(
                f"The GitLab token {what} {feeds}, but it is {NOT_REGISTRY_TOKENS[token.resource_type]}, which cannot "
                "pull images; use a group access token with the Reporter role and only read_registry.",
                token.urn,
            )
            continue
        about = TOKENS[token.resource_type]
        found = known_scopes(token, unknowns, what)
        if found is not None:
            scopes, unknown = found
            extra = [s for s in scopes if s != "read_registry"]
            if extra or (not scopes and not unknown):
                given = ", ".join(map(shown, scopes)) or "none"
                report(
                    f"The GitLab {about.kind} {what} {feeds} with the scopes {given}; give it exactly read_registry.",
                    token.urn,
                )
        if about.access_level:
            with unknowns.guard(what):
                level = get(token.props, "accessLevel")
                if level not in PULL_ROLES:
                    given = shown(level) if level is not None else "none given, so the provider's default maintainer"
                    fix = "which cannot pull images at all" if level in NO_PULL_ROLES else "more than a pull needs"
                    report(
                        f"The GitLab {about.kind} {what} {feeds} with the access level {given}, {fix}; set "
                        "accessLevel reporter (GitLab lets no Guest pull from a private project), or guest where every "
                        "project is public.",
                        token.urn,
                    )
        with unknowns.guard(what):
            expires = get(token.props, "expiresAt")
            rotation = get(token.props, "rotationConfiguration") if about.rotation else None
            if not expires and not rotation:
                fix = "set rotationConfiguration (or expiresAt)" if about.rotation else "set expiresAt"
                report(
                    f"The GitLab {about.kind} {what} {feeds} but neither expires nor rotates; {fix} so a leaked token "
                    "dies on its own.",
                    token.urn,
                )
    unknowns.finish()


def validate_personal(args: StackValidationArgs, report: ReportViolation) -> None:
    for token, secret in feeding_tokens(args):
        about = TOKENS.get(token.resource_type)
        if about is not None and about.personal:
            report(
                f"The GitLab {about.kind} {label(token.resource_type, token.name)} feeds the pull through cache secret "
                f"'{secret}'; it acts as a person with all of their groups and projects: use a group access token "
                "with the Reporter role and only read_registry.",
                token.urn,
            )


LEAST_PRIVILEGE_POLICY = declare(
    "gitlab-token-least-privilege",
    "A GitLab token resource (any of pulumi-gitlab's eight) whose value reaches a pull through cache "
    "secret (secretString, secretStringWo, an existing secret by name or ARN) has exactly read_registry, a role of at "
    "most Reporter where it has one, and an expiry or a rotation.",
    validate_least_privilege,
    stack=True,
)

PERSONAL_POLICY = declare(
    "gitlab-personal-access-token",
    "No GitLab personal access token or user impersonation token feeds a pull through cache secret.",
    validate_personal,
    stack=True,
    advisory=True,
)
