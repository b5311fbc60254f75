"""Ask an upstream what a token can really do (opt-in: `ptc verify --check-token-scopes`).

GitLab answers `GET /api/v4/personal_access_tokens/self` for personal, group and project access
tokens; GitHub returns a classic token's scopes in the `X-OAuth-Scopes` header of any API call.
Other upstreams have no such API. The token is sent only to the upstream that issued it.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

GITLAB_API = "https://gitlab.com"
GITHUB_API = "https://api.github.com"
TIMEOUT = 10


class ScopeLookupError(Exception):
    """The upstream did not say (unreachable, token refused, not the kind of token expected)."""


@dataclass(frozen=True)
class TokenInfo:
    scopes: tuple[str, ...]
    active: bool = True


def token_fault(token: str) -> str | None:
    """Why a stored token cannot be sent as it is; never quotes it."""
    if token != token.strip():
        return "the token has leading or trailing whitespace (a newline?): store it without, or ECR sends it as is"
    if any(ord(c) < 0x21 or ord(c) == 0x7F or not c.isascii() for c in token):
        return "the token has spaces, control or non-ASCII characters, which no registry issues: store it again"
    return None


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "ecr-pull-through-cache/ptc", **headers})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - https by default
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ScopeLookupError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
    except (ValueError, TypeError, http.client.HTTPException) as exc:  # a header the client refuses quotes the token
        raise ScopeLookupError(f"the request to {url} could not be sent ({type(exc).__name__})") from None


def gitlab_token(token: str, api_url: str = GITLAB_API) -> TokenInfo:
    if fault := token_fault(token):
        raise ScopeLookupError(fault)
    url = f"{api_url.rstrip('/')}/api/v4/personal_access_tokens/self"
    status, _, body = _get(url, {"PRIVATE-TOKEN": token})
    if status != 200:
        raise ScopeLookupError(f"GitLab answered {status} for the token (revoked, expired or not an access token)")
    try:
        document = json.loads(body)
        return TokenInfo(
            scopes=tuple(document["scopes"]),
            active=bool(document.get("active", True)) and not document.get("revoked", False),
        )
    except (ValueError, KeyError, TypeError):
        raise ScopeLookupError("GitLab's answer has no scopes") from None


def github_token(token: str, api_url: str = GITHUB_API) -> TokenInfo:
    if fault := token_fault(token):
        raise ScopeLookupError(fault)
    status, headers, _ = _get(
        api_url.rstrip("/") + "/", {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    )
    if status != 200:
        raise ScopeLookupError(f"GitHub answered {status} for the token (revoked or expired)")
    scopes = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if scopes is None:
        raise ScopeLookupError("GitHub reports no X-OAuth-Scopes: a fine-grained token, which GHCR does not accept")
    return TokenInfo(scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()))


LOOKUPS = {"gitlab-container-registry": gitlab_token, "github-container-registry": github_token}
