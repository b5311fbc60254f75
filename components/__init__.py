"""Pulumi components for Amazon ECR pull through caches, and the pure logic under them.

Import it as `ecr_pull_through_cache` (the wheel ships this folder under that name; in this
repository `make install` installs it in editable mode). `upstream_cache.UpstreamCache` and
`registry.PullThroughCache` are the components; `catalog`, `naming`, `config`, `iam`, `lifecycle`
and `images` are plain functions. This folder is also a Pulumi plugin (PulumiPlugin.yaml,
__main__.py) that offers the components to any language.
"""

__version__ = "0.1.0"

if __name__ != "ecr_pull_through_cache":
    # One name, one copy: imported twice under two names, `ConfigError` from one would not be the
    # `ConfigError` the other raises.
    raise ImportError(
        f"this library is `ecr_pull_through_cache`, not `{__name__}`: write `import ecr_pull_through_cache` "
        "(in a clone, `make install` or `pip install -e .` makes it importable)"
    )
