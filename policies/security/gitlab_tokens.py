"""GitLab token resources that feed a pull through cache secret: read_registry only, at most Reporter, expiring.

Whoever wrote the stack, a `gitlab:index/groupAccessToken:GroupAccessToken` (or project access token, personal
access token, group deploy token) whose token flows into the secret version of a credentials secret is checked
as a resource, not through a declared tag: exactly the `read_registry` scope, a role that can pull and no more
where the resource has one (the provider's default is Maintainer), and an expiry or a rotation. The token is
followed to the secret through the stack's property dependencies: secret version `secretString` -> token,
`secretId` -> secret.

The role: GitLab's permission table (docs.gitlab.com user/permissions, project packages and registries) says "The
Guest role does not have viewing or pulling permissions in private projects", and a registry visible to "Only
Project Members" needs at least Reporter. So Reporter pulls wherever the token's group lets it, and Guest pulls
only from public projects (AWS's pull through cache guide says Guest; GitLab decides what a GitLab token can do).
A pack cannot see whether the projects are public, so it accepts guest, planner and reporter, and refuses the
roles above (more than a pull needs) and below (no one, minimal: no pull at all).
"""

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

from facts import SECRET, SECRET_PREFIX, TAG_UPSTREAM
from hardening import guarded
from support import Unknowns, as_list, get, label, shown

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ACCESS_TOKENS = {
    "gitlab:index/groupAccessToken:GroupAccessToken": "group access token",
    "gitlab:index/projectAccessToken:ProjectAccessToken": "project access token",
    "gitlab:index/personalAccessToken:PersonalAccessToken": "personal access token",
    "gitlab:index/groupDeployToken:GroupDeployToken": "group deploy token",
}
HAS_ACCESS_LEVEL = {
    "gitlab:index/groupAccessToken:GroupAccessToken",
    "gitlab:index/projectAccessToken:ProjectAccessToken",
}
PERSONAL = "gitlab:index/personalAccessToken:PersonalAccessToken"
PULL_ROLES = {"guest", "planner", "reporter"}
NO_PULL_ROLES = {"no one", "minimal"}


def _is_credentials_secret(secret) -> bool:
    try:
        if get(get(secret.props, "tags") or {}, TAG_UPSTREAM) is not None:
            return True
    except UnknownValueError:
        pass
    for key in ("name", "namePrefix"):
        try:
            value = get(secret.props, key)
        except UnknownValueError:
            continue
        if isinstance(value, str) and value.startswith(SECRET_PREFIX):
            return True
    return False


def feeding_tokens(args: StackValidationArgs) -> list[tuple[object, object]]:
    """(token resource, credentials secret) for every GitLab token whose value reaches a credentials secret."""
    found = []
    for version in (r for r in args.resources if r.resource_type == SECRET_VERSION):
        secrets = [d for d in version.property_dependencies.get("secretId", []) if d.resource_type == SECRET]
        if not any(_is_credentials_secret(s) for s in secrets):
            continue
        for dependency in version.property_dependencies.get("secretString", []):
            if dependency.resource_type in ACCESS_TOKENS:
                found.append((dependency, secrets[0]))
    return found


def validate_least_privilege(args: StackValidationArgs, report: ReportViolation) -> None:
    unknowns = Unknowns()
    for token, secret in feeding_tokens(args):
        what = label(token.resource_type, token.name)
        kind = ACCESS_TOKENS[token.resource_type]
        feeds = f"feeds the pull through cache secret '{secret.name}'"
        with unknowns.guard(what):
            scopes = [s for s in as_list(get(token.props, "scopes"))]
            if scopes != ["read_registry"]:
                report(
                    f"The GitLab {kind} {what} {feeds} with the scopes {', '.join(map(shown, scopes)) or 'none'}; "
                    "give it exactly read_registry.",
                    token.urn,
                )
        if token.resource_type in HAS_ACCESS_LEVEL:
            with unknowns.guard(what):
                level = get(token.props, "accessLevel")
                if level not in PULL_ROLES:
                    given = shown(level) if level is not None else "none given, so the provider's default maintainer"
                    fix = "which cannot pull images at all" if level in NO_PULL_ROLES else "more than a pull needs"
                    report(
                        f"The GitLab {kind} {what} {feeds} with the access level {given}, {fix}; set accessLevel "
                        "reporter (GitLab lets no Guest pull from a private project), or guest where every project "
                        "is public.",
                        token.urn,
                    )
        with unknowns.guard(what):
            expires = get(token.props, "expiresAt")
            rotation = get(token.props, "rotationConfiguration")
            if not expires and not rotation:
                report(
                    f"The GitLab {kind} {what} {feeds} but neither expires nor rotates; set "
                    "rotationConfiguration (or expiresAt) so a leaked token dies on its own.",
                    token.urn,
                )
    unknowns.finish()


def validate_personal(args: StackValidationArgs, report: ReportViolation) -> None:
    for token, secret in feeding_tokens(args):
        if token.resource_type == PERSONAL:
            report(
                f"The GitLab personal access token {label(token.resource_type, token.name)} feeds the pull through "
                f"cache secret '{secret.name}'; it acts as a person with all of their groups and projects: use "
                "a group access token with the Reporter role and only read_registry.",
                token.urn,
            )


LEAST_PRIVILEGE_POLICY = StackValidationPolicy(
    name="gitlab-token-least-privilege",
    description="A GitLab token resource that feeds a pull through cache secret has exactly read_registry, a role "
    "of at most Reporter where it has one, and an expiry or a rotation.",
    validate=guarded(validate_least_privilege, "gitlab-token-least-privilege", stack=True),
)

PERSONAL_POLICY = StackValidationPolicy(
    name="gitlab-personal-access-token",
    description="No GitLab personal access token feeds a pull through cache secret.",
    validate=guarded(validate_personal, "gitlab-personal-access-token", stack=True),
    enforcement_level=EnforcementLevel.ADVISORY,
)
