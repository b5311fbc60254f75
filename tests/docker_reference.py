"""An independent transcription of Docker's reference grammar, for differential tests of components/images.py.

Built the way distribution/reference builds it: regexp.go composes one anchored `referencePat` from its
pieces (`namePat`, `tag`, `digestPat`), normalize.go's ParseNormalizedNamed refuses 64-hex identifiers and
upper-case remote names and splits the domain (splitDockerDomain), reference.go's Parse matches the whole string
at once and checks RepositoryNameTotalLengthMax on the path, and go-digest v1.0.0's Digest.Validate accepts only
registered algorithms with lower-case hex of their size. Unlike the product code it never splits on `@` or `:`
by hand: the one regular expression decides, as Go's does.
"""

from __future__ import annotations

import re

# regexp.go
alphanumeric = r"[a-z0-9]+"
separator = r"(?:[._]|__|[-]+)"
localhost = "localhost"
domainNameComponent = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
optionalPort = r"(?::[0-9]+)?"
tag = r"[\w][\w.-]{0,127}"
digestPat = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
identifier = r"([a-f0-9]{64})"
ipv6address = r"\[(?:[a-fA-F0-9:]+)\]"
domainName = domainNameComponent + r"(?:\." + domainNameComponent + r")*"
host = r"(?:" + domainName + "|" + ipv6address + ")"
domainAndPort = host + optionalPort
pathComponent = alphanumeric + r"(?:" + separator + alphanumeric + r")*"
remoteName = pathComponent + r"(?:/" + pathComponent + r")*"
namePat = r"(?:" + domainAndPort + r"/)?" + remoteName
referencePat = r"^(" + namePat + r")(?::(" + tag + r"))?(?:@(" + digestPat + r"))?\Z"
anchoredNamePat = r"^(?:(" + domainAndPort + r")/)?(" + remoteName + r")\Z"

referenceRegexp = re.compile(referencePat, re.ASCII)
anchoredNameRegexp = re.compile(anchoredNamePat, re.ASCII)
anchoredIdentifierRegexp = re.compile(r"^" + identifier + r"\Z", re.ASCII)

# go-digest v1.0.0 algorithm.go: the registered algorithms and their sizes in bytes.
REGISTERED = {"sha256": 32, "sha384": 48, "sha512": 64}

RepositoryNameTotalLengthMax = 255
defaultDomain = "docker.io"
legacyDefaultDomain = "index.docker.io"
officialRepoPrefix = "library/"


class Refused(ValueError):
    pass


def split_docker_domain(name: str) -> tuple[str, str]:
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        return defaultDomain, officialRepoPrefix + name
    if maybe_domain == localhost:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == legacyDefaultDomain:
        domain, remote = defaultDomain, maybe_remote
    elif any(c in maybe_domain for c in ".:"):
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = defaultDomain, name
    if domain == defaultDomain and "/" not in remote:
        remote = officialRepoPrefix + remote
    return domain, remote


def validate_digest(d: str) -> None:
    algorithm, sep, encoded = d.partition(":")
    if not sep or not encoded:
        raise Refused("ErrDigestInvalidFormat")
    if algorithm not in REGISTERED:
        raise Refused("ErrDigestUnsupported")
    if len(encoded) != REGISTERED[algorithm] * 2:
        raise Refused("ErrDigestInvalidLength")
    if not re.fullmatch(r"[a-f0-9]+", encoded, re.ASCII):
        raise Refused("ErrDigestInvalidFormat")


def parse(s: str) -> tuple[str, str, str | None, str | None]:
    """reference.go Parse: (domain, path, tag, digest)."""
    if not s:
        raise Refused("ErrNameEmpty")
    matches = referenceRegexp.match(s)
    if matches is None:
        raise Refused("ErrReferenceInvalidFormat")
    name = anchoredNameRegexp.match(matches[1])
    domain, path = (name[1] or "", name[2]) if name else ("", matches[1])
    if len(path) > RepositoryNameTotalLengthMax:
        raise Refused("ErrNameTooLong")
    if matches[3]:
        validate_digest(matches[3])
    return domain, path, matches[2] or None, matches[3] or None


def parse_normalized_named(s: str) -> tuple[str, str, str | None, str | None]:
    """normalize.go ParseNormalizedNamed: (domain, path, tag, digest) as Docker reads a familiar reference."""
    if anchoredIdentifierRegexp.match(s):
        raise Refused("cannot specify 64-byte hexadecimal strings")
    domain, remainder = split_docker_domain(s)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise Refused("repository name must be lowercase")
    found = parse(domain + "/" + remainder)
    if not found[0]:
        # splitDockerDomain took a first component that is no valid host (`host_name.io/app`), and Parse then
        # read the whole name as a path with an empty domain: a reference no registry serves. We refuse it.
        raise Refused("no domain")
    return found
