"""Pulumi components for Amazon ECR pull through caches, and the pure logic under them.

`upstream_cache.UpstreamCache` and `registry.PullThroughCache` are the components; `catalog`,
`naming`, `config`, `iam`, `lifecycle` and `images` are plain functions. This folder is also a
Pulumi plugin (PulumiPlugin.yaml, __main__.py) that offers the components to any language.
"""

__version__ = "0.1.0"
